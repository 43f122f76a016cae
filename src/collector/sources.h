// The narrow seams between the collectors and libvirt: the real
// implementations live in src/libvirt/, tests substitute faults a real
// libvirt cannot produce on demand.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/memory_stats.h"
#include "core/openstack_metadata.h"

namespace lme {

// libvirt could not be reached, or a call about the whole host failed.
class LibvirtUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The scrape's deadline passed before libvirt answered.
class CollectionTimedOut : public LibvirtUnavailable {
 public:
  using LibvirtUnavailable::LibvirtUnavailable;
};

class DomainMemorySource {
 public:
  virtual ~DomainMemorySource() = default;
  // Every defined domain with its state, and for the active ones what
  // libvirt reported about their memory. A failure on one domain leaves that
  // domain with empty stats; a failure to reach libvirt or list the domains
  // throws LibvirtUnavailable. Answers by the deadline: domains whose stats
  // could not be had in time are marked `timed_out`.
  virtual std::vector<DomainMemory> FetchDomainMemory(Deadline deadline) = 0;
  // How many domain definitions were read for the balloon's configuration
  // so far: flat while the domains stay the same and report.
  virtual std::uint64_t DefinitionReads() const = 0;
};

class NodeMemorySource {
 public:
  virtual ~NodeMemorySource() = default;
  // What the host reports of its memory; fields the driver does not support
  // are left empty. Throws LibvirtUnavailable when libvirt cannot answer (in
  // time).
  virtual NodeMemory FetchNodeMemory(Deadline deadline) = 0;
};

class OpenStackMetadataSource {
 public:
  virtual ~OpenStackMetadataSource() = default;
  // The active domains that carry Nova instance metadata.
  virtual std::vector<DomainOpenStackInstance> FetchOpenStackMetadata(
      Deadline deadline) = 0;
  // How many domain definitions this source read for metadata so far (the
  // domain_memory collector's reads are shared with it): a cache that works
  // keeps this flat while the domains stay the same.
  virtual std::uint64_t MetadataReads() const = 0;
};

}  // namespace lme
