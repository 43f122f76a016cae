#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "collector/sources.h"
#include "core/batches.h"
#include "libvirt/connection.h"
#include "libvirt/domain_batches.h"
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
  // kPerDomain: the path a driver without the bulk call takes, for tests
  // of that path on a driver that has it.
  FetchPath path = FetchPath::kBulk;
  // Batches on an in-process driver too, which gains nothing from them (see
  // SplitFetch): for tests of the batch path on the test driver.
  bool batches_in_process = false;
};

// Reads every domain's state and vCPUs and the active domains' balloon
// stats, on threads of its own so a stuck guest cannot hold the scrape past
// its deadline. With calls.MaxConcurrent() of 1, one bulk call per scrape
// where the driver supports it; with more, the domains are listed and split
// into that many batches fetched at once (virDomainListGetStats), each on a
// connection of its own through a daemon, each hedged on its own. Then
// decides each active domain's stats status (DomainStatuses) from the
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
  // One call for every domain: the exporter's way before batches, and what
  // --libvirt.max-concurrent-calls=1 keeps.
  DomainFetch FetchWhole(virConnectPtr connection, Deadline deadline);
  std::function<DomainFetch()> FetchCall(virConnectPtr connection) const;

  DomainFetch FetchInBatches(virConnectPtr connection, Deadline deadline);
  std::vector<ListedDomain> List(virConnectPtr& connection, Deadline deadline);
  void PrepareBatchConnections(virConnectPtr connection, std::size_t batches);
  void ReplaceBatchConnection(std::size_t batch, virConnectPtr& connection,
                              bool& reopened);
  void KeepIdleConnections(
      const std::vector<std::shared_ptr<BatchConnection>>& replaced);
  std::function<DomainFetch()> BatchCall(
      std::size_t batch, std::vector<ListedDomain> domains) const;

  void MarkStuckDomains(virConnectPtr connection, Deadline deadline,
                        DomainFetch& fetch);
  void LogErrors(const std::vector<DomainError>& errors);

  Connection& connection_;
  BlockingCalls& calls_;
  Logger& logger_;
  DomainReaderTiming timing_;
  LogOnce domain_errors_;
  LogOnce extra_connections_;
  std::vector<std::string> open_failures_;  // this scrape's, for the log
  std::shared_ptr<const VcpuCache> vcpus_ = std::make_shared<VcpuCache>();
  Seconds usual_fetch_{0};  // how long the last fetch took
  // One per batch, kept across scrapes; null where a new one is needed.
  std::vector<std::shared_ptr<BatchConnection>> batch_connections_;
  DomainStatuses statuses_;
};

}  // namespace lme::libvirt
