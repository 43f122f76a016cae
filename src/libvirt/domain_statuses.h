// The balloon stats status of every active domain (core/stats_status.h),
// decided after each fetch from the definitions kept per domain start
// (DomainDefinitions). A definition is read when a domain start is seen
// first, when it is due for refresh (DomainDefinitions::RefreshAfter), and at
// once when the status the kept one gives needs confirming (NeedsConfirmation):
// a guest that reports normally costs no call of its own per scrape.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/domain_definition.h"
#include "core/memory_stats.h"
#include "core/stats_status.h"
#include "libvirt/connection.h"
#include "libvirt/domain_definitions.h"
#include "util/blocking_calls.h"
#include "util/logger.h"

namespace lme::libvirt {

// The definitions' refresh interval is the shared DomainDefinitions' own.
struct StatusTiming {
  // What kept definitions are aged by.
  TimePoint (*clock)() = &std::chrono::steady_clock::now;
  // What reports are aged by: last_update is the host's wall clock.
  WallTime (*wall_clock)() = &std::chrono::system_clock::now;
};

// A definition to read: which domain, and under which start it is kept.
struct WantedDefinition {
  std::string uuid;
  std::string key;
  std::string name;  // for the log
};

// What one pass over the wanted definitions did (on a worker thread).
struct DefinitionPass {
  std::set<std::string> read;  // keys whose definition is kept fresh now
  std::vector<std::pair<WantedDefinition, std::string>> problems;
};

// Reads the wanted definitions into `definitions`, each kept as read at
// `now`. Throws ConnectionLost when the connection died.
DefinitionPass ReadDefinitions(virConnectPtr connection,
                               const std::vector<WantedDefinition>& wanted,
                               DomainDefinitions& definitions, TimePoint now,
                               std::atomic<std::uint64_t>& reads);

class DomainStatuses {
 public:
  DomainStatuses(std::shared_ptr<DomainDefinitions> definitions, Logger& logger,
                 StatusTiming timing = {});

  // Sets `stats_status` and `stats_period_seconds` of the active domains.
  // `job_skipped`: UUIDs of the domains whose guest fields NOWAIT skipped
  // this scrape (their QEMU job was held): they keep the status they had.
  // Definitions are read on a worker of `calls` by the deadline; domains
  // whose read did not make it are decided from what is kept (or from the
  // stats alone). Never throws for a definition it could not read.
  void Decide(std::vector<DomainMemory>& domains,
              const std::vector<std::string>& job_skipped, Deadline deadline,
              Connection& connection, BlockingCalls& calls);

  std::uint64_t Reads() const { return reads_->load(); }

 private:
  struct Pending;

  StatsStatus StatusFrom(const DomainMemory& domain,
                         const CachedDefinition* cached, WallTime now) const;
  DefinitionPass ReadWanted(std::vector<WantedDefinition> wanted,
                            Deadline deadline, Connection& connection,
                            BlockingCalls& calls);
  void LogProblems(const DefinitionPass& pass);

  std::shared_ptr<DomainDefinitions> definitions_;
  Logger& logger_;
  StatusTiming timing_;
  // Per domain start: its status in the last scrape that settled it.
  std::map<std::string, StatusMemory> memory_;
  // Shared with the worker that reads: it may outlive a scrape.
  std::shared_ptr<std::atomic<std::uint64_t>> reads_ =
      std::make_shared<std::atomic<std::uint64_t>>(0);
  LogOnce problems_;
};

}  // namespace lme::libvirt
