#include "libvirt/domain_memory_reader.h"

#include <set>
#include <utility>

#include "core/fetch_plan.h"
#include "libvirt/deadline_call.h"
#include "libvirt/stuck_monitor.h"

namespace lme::libvirt {

DomainMemoryReader::DomainMemoryReader(
    Connection& connection, BlockingCalls& calls, Logger& logger,
    std::shared_ptr<DomainDefinitions> definitions, DomainReaderTiming timing)
    : connection_(connection),
      calls_(calls),
      logger_(logger),
      timing_(timing),
      statuses_(std::move(definitions), logger,
                {timing.clock, timing.wall_clock}) {}

DomainMemoryReader::DomainMemoryReader(Connection& connection,
                                       BlockingCalls& calls, Logger& logger,
                                       DomainReaderTiming timing)
    : DomainMemoryReader(connection, calls, logger,
                         std::make_shared<DomainDefinitions>(), timing) {}

std::vector<DomainMemory> DomainMemoryReader::FetchDomainMemory(
    Deadline deadline) {
  DomainFetch fetch = connection_.Use(
      [&](virConnectPtr c) { return FetchRacing(c, deadline); });
  LogErrors(fetch.errors);
  vcpus_ = std::make_shared<const VcpuCache>(std::move(fetch.vcpus));
  statuses_.Decide(fetch.domains, fetch.job_skipped, deadline, connection_,
                   calls_);
  return std::move(fetch.domains);
}

std::function<DomainFetch()> DomainMemoryReader::FetchCall(
    virConnectPtr connection) const {
  // The fetch may outlive this scrape, so it reads a snapshot of the cache
  // (shared, not copied) and returns the next one.
  return [shared = ShareConnection(connection), known = vcpus_,
          now = timing_.clock(), refresh = timing_.vcpus_refresh_after] {
    return FetchDomains(shared.get(), *known, now, refresh);
  };
}

DomainFetch DomainMemoryReader::FetchRacing(virConnectPtr connection,
                                            Deadline deadline) {
  // The real clock: the waits below are real.
  const TimePoint start = std::chrono::steady_clock::now();
  FetchPlan plan(start, deadline, timing_.hedge_after, usual_fetch_);
  auto race = std::make_shared<Race<DomainFetch>>();
  if (!calls_.Launch(race, FetchCall(connection))) {
    throw CollectionTimedOut(
        "too many libvirt calls are still blocked; not starting another");
  }
  while (!race->WaitUntil(plan.WaitUntil())) {
    if (!plan.Hedge()) {
      throw CollectionTimedOut("domain stats did not arrive in time");
    }
    // libvirt's client holds up every call on a connection behind one that
    // waits for a stuck QEMU monitor, so the second call (NOWAIT skips the
    // job the first one holds) gets a connection of its own, which later
    // scrapes keep; the first keeps the old one until it returns.
    logger_.Debug("domain stats are slow; asking again on a new connection");
    connection = connection_.Reopen();
    calls_.Launch(race, FetchCall(connection));
  }
  DomainFetch fetch = race->Take();
  // A slow host's first fetch is hedged too; remembering how long it took
  // keeps the later ones from being hedged (and reconnected) every time.
  usual_fetch_ = std::chrono::steady_clock::now() - start;
  MarkStuckDomains(connection, deadline, fetch);
  return fetch;
}

void DomainMemoryReader::MarkStuckDomains(virConnectPtr connection,
                                          Deadline deadline,
                                          DomainFetch& fetch) {
  if (fetch.job_skipped.empty()) return;
  const auto stuck = TryCallBefore(
      deadline, calls_, connection,
      [suspects = fetch.job_skipped, after = timing_.monitor_stuck_after](
          virConnectPtr c) { return StuckDomains(c, suspects, after); });
  if (!stuck) return;
  for (auto& domain : fetch.domains) {
    domain.timed_out = stuck->count(domain.uuid) > 0;
  }
}

void DomainMemoryReader::LogErrors(const std::vector<DomainError>& errors) {
  domain_errors_.Report(
      errors,
      [](const DomainError& e) {
        return e.uuid + "/" + e.call + "/" + e.error.message;
      },
      [&](const DomainError& e) {
        logger_.Warn("cannot read domain memory stats",
                     {{"domain", e.name},
                      {"uuid", e.uuid},
                      {"call", e.call},
                      {"err", e.error.message}});
      });
}

}  // namespace lme::libvirt
