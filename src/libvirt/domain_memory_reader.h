#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "collector/sources.h"
#include "libvirt/connection.h"
#include "libvirt/domain_definitions.h"
#include "libvirt/domain_fetcher.h"
#include "libvirt/domain_statuses.h"
#include "util/blocking_calls.h"
#include "util/logger.h"

namespace lme::libvirt {

struct DomainReaderTiming {
  // When the bulk call has not answered by then, a second one is started:
  // with NOWAIT it skips the guest whose job the first one holds.
  Seconds hedge_after{1.0};
  // A QEMU monitor busy with one command for longer is reported timed out.
  std::chrono::milliseconds monitor_stuck_after{1000};
  // vCPU hotplug shows after at most this long.
  Seconds vcpus_refresh_after{300};
  // What the vCPU counts and the kept definitions are aged by (how long a
  // definition is kept is DomainDefinitions' own setting).
  TimePoint (*clock)() = &std::chrono::steady_clock::now;
  // What the guests' reports are aged by (last_update is wall-clock time).
  WallTime (*wall_clock)() = &std::chrono::system_clock::now;
};

// Reads every domain's state and vCPUs and the active domains' balloon
// stats: one bulk call per scrape where the driver supports it, on threads
// of its own so a stuck guest cannot hold the scrape past its deadline.
// Then decides each active domain's stats status (DomainStatuses) from the
// definitions it shares with the other readers.
class DomainMemoryReader : public DomainMemorySource {
 public:
  DomainMemoryReader(Connection& connection, BlockingCalls& calls,
                     Logger& logger,
                     std::shared_ptr<DomainDefinitions> definitions,
                     DomainReaderTiming timing = {});
  // With definitions of its own.
  DomainMemoryReader(Connection& connection, BlockingCalls& calls,
                     Logger& logger, DomainReaderTiming timing = {});

  std::vector<DomainMemory> FetchDomainMemory(Deadline deadline) override;
  std::uint64_t DefinitionReads() const override { return statuses_.Reads(); }

 private:
  std::function<DomainFetch()> FetchCall(virConnectPtr connection) const;
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
  DomainStatuses statuses_;
};

}  // namespace lme::libvirt
