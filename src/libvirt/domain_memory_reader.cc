#include "libvirt/domain_memory_reader.h"

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "core/fetch_plan.h"
#include "libvirt/deadline_call.h"
#include "libvirt/stuck_monitor.h"
#include "util/hedged_calls.h"

namespace lme::libvirt {
namespace {

constexpr const char* kTooManyBlocked =
    "too many libvirt calls are still blocked; not starting another";

TimePoint Now() { return std::chrono::steady_clock::now(); }

std::vector<ListedDomain> Slice(const std::vector<ListedDomain>& listed,
                                const BatchRange& range) {
  return {listed.begin() + static_cast<std::ptrdiff_t>(range.begin),
          listed.begin() + static_cast<std::ptrdiff_t>(range.end)};
}

// A listed domain whose batch did not answer by the deadline: who it is,
// and for a running one that its stats did not arrive. Only a shut-off
// domain is not running, so that state is known without asking.
DomainMemory Unanswered(const ListedDomain& listed) {
  DomainMemory domain;
  domain.name = listed.name;
  domain.uuid = listed.uuid;
  domain.id = listed.id;
  domain.active = listed.active;
  if (listed.active) {
    domain.timed_out = true;
  } else {
    domain.state = "shutoff";
  }
  return domain;
}

std::string Join(const std::vector<std::size_t>& numbers) {
  std::string text;
  for (std::size_t number : numbers) {
    if (!text.empty()) text += ",";
    text += std::to_string(number);
  }
  return text;
}

// One call hedged once: when it has not answered by the plan's hedge time, a
// second one on a new connection. libvirt's client holds up every call on a
// connection behind one that waits for a stuck QEMU monitor, so the second
// call (NOWAIT skips the job the first one holds) gets a connection of its
// own, which later scrapes keep; the first keeps the old one until it
// returns. Empty when neither answered by the deadline.
template <typename T>
std::optional<T> HedgedOnNewConnection(
    BlockingCalls& calls, FetchPlan& plan, Connection& connection_owner,
    virConnectPtr& connection, Logger& logger, const char* slow,
    const std::function<std::function<T()>(virConnectPtr)>& call_on) {
  auto outcome = RunHedged<T>(calls, plan, 1, [&](std::size_t, bool hedge) {
    if (hedge) {
      logger.Debug(slow);
      connection = connection_owner.Reopen();
    }
    return call_on(connection);
  });
  if (outcome.refused) throw CollectionTimedOut(kTooManyBlocked);
  return std::move(outcome.answers.front());
}

}  // namespace

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
  DomainFetch fetch = connection_.Use([&](virConnectPtr c) {
    const bool split =
        SplitFetch(calls_.MaxConcurrent(),
                   connection_.ThroughDaemon() || timing_.batches_in_process);
    return split ? FetchInBatches(c, deadline) : FetchWhole(c, deadline);
  });
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
          now = timing_.clock(), refresh = timing_.vcpus_refresh_after,
          path = timing_.path] {
    return FetchDomains(shared.get(), *known, now, refresh, path);
  };
}

DomainFetch DomainMemoryReader::FetchWhole(virConnectPtr connection,
                                           Deadline deadline) {
  // The real clock: the waits below are real.
  const TimePoint start = Now();
  FetchPlan plan(start, deadline, timing_.hedge_after, usual_fetch_);
  auto answer = HedgedOnNewConnection<DomainFetch>(
      calls_, plan, connection_, connection, logger_,
      "domain stats are slow; asking again on a new connection",
      [this](virConnectPtr c) { return FetchCall(c); });
  if (!answer) throw CollectionTimedOut("domain stats did not arrive in time");
  DomainFetch fetch = std::move(*answer);
  // A slow host's first fetch is hedged too; remembering how long it took
  // keeps the later ones from being hedged (and reconnected) every time.
  usual_fetch_ = Now() - start;
  MarkStuckDomains(connection, deadline, fetch);
  return fetch;
}

DomainFetch DomainMemoryReader::FetchInBatches(virConnectPtr connection,
                                               Deadline deadline) {
  const TimePoint start = Now();
  const std::vector<ListedDomain> listed = List(connection, deadline);
  const std::vector<BatchRange> batches =
      SplitIntoBatches(listed.size(), calls_.MaxConcurrent());
  PrepareBatchConnections(connection, batches.size());
  FetchPlan plan(Now(), deadline, timing_.hedge_after, usual_fetch_);
  bool reopened = false;
  std::vector<std::shared_ptr<BatchConnection>> replaced(batches.size());
  auto outcome = RunHedged<DomainFetch>(
      calls_, plan, batches.size(), [&](std::size_t batch, bool hedge) {
        // As in FetchWhole, the second call gets a new connection: the
        // first may hold its connection behind a stuck monitor.
        if (hedge) {
          replaced[batch] = batch_connections_[batch];
          ReplaceBatchConnection(batch, connection, reopened);
        }
        return BatchCall(batch, Slice(listed, batches[batch]));
      });
  if (outcome.refused) throw CollectionTimedOut(kTooManyBlocked);
  DomainFetch fetch;
  std::vector<std::size_t> unanswered;
  for (std::size_t batch = 0; batch < batches.size(); ++batch) {
    auto& answer = outcome.answers[batch];
    if (answer) {
      fetch.Append(std::move(*answer));
      continue;
    }
    unanswered.push_back(batch);
    for (const ListedDomain& domain : Slice(listed, batches[batch])) {
      fetch.domains.push_back(Unanswered(domain));
    }
  }
  KeepIdleConnections(replaced);
  if (!outcome.hedged.empty()) {
    logger_.Debug("domain stats were slow; asked again on new connections",
                  {{"batches", Join(outcome.hedged)},
                   {"of", std::to_string(batches.size())},
                   {"unanswered", Join(unanswered)}});
  }
  extra_connections_.Report(
      open_failures_, [](const std::string& what) { return what; },
      [&](const std::string& what) {
        logger_.Warn(
            "cannot open another libvirt connection; batches share one",
            {{"err", what}});
      });
  open_failures_.clear();
  usual_fetch_ = Now() - start;
  MarkStuckDomains(connection, deadline, fetch);
  return fetch;
}

// A call still running uses its batch's connection and handles, so the next
// scrape must not. A hedged batch keeps the connection of whichever call
// has returned, the first one's or the hedge's: only a batch with both
// calls still running gets a new one. Opening costs more than it seems:
// through a daemon, every test-driver connection parses the node file again
// (at 5000 domains, 2.5 s each).
void DomainMemoryReader::KeepIdleConnections(
    const std::vector<std::shared_ptr<BatchConnection>>& replaced) {
  for (std::size_t batch = 0; batch < batch_connections_.size(); ++batch) {
    auto& slot = batch_connections_[batch];
    if (!slot || !slot->InUse()) continue;
    const bool first_returned =
        batch < replaced.size() && replaced[batch] && !replaced[batch]->InUse();
    slot = first_returned ? replaced[batch] : nullptr;
  }
}

// The list is a call like the others: hedged on a new connection when it
// does not answer (the connection may hold it behind an earlier call that
// is stuck).
std::vector<ListedDomain> DomainMemoryReader::List(virConnectPtr& connection,
                                                   Deadline deadline) {
  FetchPlan plan(Now(), deadline, timing_.hedge_after, usual_fetch_);
  using Listed = std::vector<ListedDomain>;
  auto listed = HedgedOnNewConnection<Listed>(
      calls_, plan, connection_, connection, logger_,
      "the domain list is slow; asking again on a new connection",
      [](virConnectPtr c) {
        return std::function<Listed()>([shared = ShareConnection(c)] {
          return ListDomains(shared.get());
        });
      });
  if (!listed) {
    throw CollectionTimedOut("the domain list did not arrive in time");
  }
  return std::move(*listed);
}

// Through a daemon each batch but the first has a connection of its own
// (see Connection::ThroughDaemon), kept while it lives; the first batch, and
// in-process every batch, uses the reader's connection.
void DomainMemoryReader::PrepareBatchConnections(virConnectPtr connection,
                                                 std::size_t batches) {
  if (batch_connections_.size() < batches) batch_connections_.resize(batches);
  for (std::size_t batch = 0; batch < batches; ++batch) {
    auto& slot = batch_connections_[batch];
    const bool own = connection_.ThroughDaemon() && batch > 0;
    // An own connection that had to be the shared one is tried again.
    const bool usable =
        slot && (own ? slot->get() != connection && IsAlive(slot->get())
                     : slot->get() == connection);
    if (usable) continue;
    bool reopened = true;  // nothing to reopen: the connection is fresh
    ReplaceBatchConnection(batch, connection, reopened);
  }
}

void DomainMemoryReader::ReplaceBatchConnection(std::size_t batch,
                                                virConnectPtr& connection,
                                                bool& reopened) {
  if (connection_.ThroughDaemon() && batch > 0) {
    try {
      batch_connections_[batch] =
          std::make_shared<BatchConnection>(connection_.OpenAnother());
      return;
    } catch (const LibvirtUnavailable& e) {
      // The daemon may be at its client limit (max_clients): sharing the
      // reader's connection beats no answer.
      open_failures_.push_back(e.what());
    }
  }
  if (!reopened) {
    connection = connection_.Reopen();
    reopened = true;
  }
  batch_connections_[batch] =
      std::make_shared<BatchConnection>(ShareConnection(connection));
}

std::function<DomainFetch()> DomainMemoryReader::BatchCall(
    std::size_t batch, std::vector<ListedDomain> domains) const {
  // Owns what it uses, as FetchCall: it may outlive the scrape.
  batch_connections_[batch]->Reserve();
  return [connection = batch_connections_[batch], domains = std::move(domains),
          known = vcpus_, now = timing_.clock(),
          refresh = timing_.vcpus_refresh_after, path = timing_.path] {
    const BatchConnection::Use use(*connection);
    const std::vector<virDomainPtr> handles = connection->HandlesFor(domains);
    if (handles.empty()) return DomainFetch{};
    return FetchDomainBatch(connection->get(), handles, *known, now, refresh,
                            path);
  };
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
    domain.timed_out = domain.timed_out || stuck->count(domain.uuid) > 0;
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
