#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "collector/sources.h"
#include "libvirt/connection.h"
#include "libvirt/error.h"
#include "util/blocking_calls.h"
#include "util/logger.h"

namespace lme::libvirt {

// vCPU counts by domain start (UUID and domain ID): the bulk call's vcpu
// group would read every vCPU thread's /proc stats on every scrape just to
// count them (1.6× the cost of the bulk call on QEMU guests).
struct CachedVcpus {
  std::uint64_t vcpus = 0;
  std::chrono::steady_clock::time_point read_at;
};
using VcpuCache = std::map<std::string, CachedVcpus>;

struct DomainReaderTiming {
  // When the bulk call has not answered by then, a second one is started:
  // with NOWAIT it skips the guest whose job the first one holds.
  Seconds hedge_after{1.0};
  // A QEMU monitor busy with one command for longer is reported timed out.
  std::chrono::milliseconds monitor_stuck_after{1000};
  // vCPU hotplug shows after at most this long.
  std::chrono::seconds vcpus_refresh_after{300};
};

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
};

// Reads every domain's state and vCPUs and the active domains' balloon
// stats: one bulk call per scrape where the driver supports it, on threads
// of its own so a stuck guest cannot hold the scrape past its deadline.
class DomainMemoryReader : public DomainMemorySource {
 public:
  DomainMemoryReader(Connection& connection, BlockingCalls& calls,
                     Logger& logger, DomainReaderTiming timing = {});

  std::vector<DomainMemory> FetchDomainMemory(Deadline deadline) override;

 private:
  std::function<DomainFetch()> FetchCall(virConnectPtr connection) const;
  Deadline HedgeAt(Deadline deadline) const;
  DomainFetch FetchRacing(virConnectPtr connection, Deadline deadline);
  void MarkStuckDomains(virConnectPtr connection, Deadline deadline,
                        DomainFetch& fetch);
  void LogErrors(const std::vector<DomainError>& errors);

  Connection& connection_;
  BlockingCalls& calls_;
  Logger& logger_;
  DomainReaderTiming timing_;
  LogOnce domain_errors_;
  std::shared_ptr<const VcpuCache> vcpus_ = std::make_shared<VcpuCache>();
  Seconds usual_fetch_{0};  // how long the last fetch took
};

}  // namespace lme::libvirt
