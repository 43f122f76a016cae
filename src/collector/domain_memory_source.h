// The narrow seam between the collectors and libvirt: the real
// implementation lives in src/libvirt/, tests substitute faults a real
// libvirt cannot produce on demand.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "core/memory_stats.h"

namespace lme {

// libvirt could not be reached, or the active domains could not be listed.
class LibvirtUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class DomainMemorySource {
 public:
  virtual ~DomainMemorySource() = default;
  // The active domains and what libvirt reported about their memory.
  // A failure on one domain leaves that domain with empty stats; a failure
  // to reach libvirt or list the domains throws LibvirtUnavailable.
  virtual std::vector<DomainMemory> FetchDomainMemory() = 0;
};

}  // namespace lme
