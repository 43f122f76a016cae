// One fetch of domains' state, vCPUs and balloon stats, of every domain or of
// a batch of them: the bulk call where the driver supports it, else a call
// per domain.
#pragma once

#include <string>
#include <vector>

#include "core/memory_stats.h"
#include "core/vcpu_cache.h"
#include "libvirt/connection.h"
#include "libvirt/error.h"

namespace lme::libvirt {

// A per-domain failure, logged by the scrape thread.
struct DomainError {
  std::string name;
  std::string uuid;
  std::string call;
  Error error;
};

struct DomainFetch {
  std::vector<DomainMemory> domains;
  std::vector<DomainError> errors;
  VcpuCache vcpus;  // entries for the domains seen in this fetch
  // Active domains whose QEMU job was held by another call (NOWAIT skipped
  // their guest stats): the ones to check for a stuck monitor.
  std::vector<std::string> job_skipped;

  // Adds another batch's fetch to this one. Every field is merged here: a
  // field added above must be added here too.
  void Append(DomainFetch&& other);
};

enum class FetchPath {
  kBulk,       // the bulk call, per-domain calls where the driver has none
  kPerDomain,  // per-domain calls only (what a driver without it gets)
};

// Runs on a thread of its own: it touches nothing but its arguments. `now`
// ages the known vCPU counts. Throws LibvirtUnavailable (ConnectionLost when
// the connection died) when the domains cannot be listed.
DomainFetch FetchDomains(virConnectPtr connection, const VcpuCache& known_vcpus,
                         TimePoint now, Seconds vcpus_refresh_after,
                         FetchPath path = FetchPath::kBulk);

// The same for the domains of one batch (handles on `connection`, at least
// one): virDomainListGetStats instead of the call for all domains. A batch
// whose bulk call finds one of its domains gone reads the others per domain.
DomainFetch FetchDomainBatch(virConnectPtr connection,
                             const std::vector<virDomainPtr>& batch,
                             const VcpuCache& known_vcpus, TimePoint now,
                             Seconds vcpus_refresh_after,
                             FetchPath path = FetchPath::kBulk);

}  // namespace lme::libvirt
