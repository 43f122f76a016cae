// Pure mapping from the domains' memory stats to Prometheus metric families.
#pragma once

#include <optional>
#include <vector>

#include "core/balloon_stats.h"
#include "core/memory_stats.h"
#include "core/metric_set.h"

namespace lme {

inline constexpr const char* kMemoryStatsPrefix =
    "libvirt_domain_memory_stats_";

// The guest's balloon driver reported (both available and unused present).
bool HasBalloonReport(const MemoryStats& stats);

struct UsedMemory {
  std::optional<double> bytes;
  // unused > available: a bogus report that must not wrap around.
  bool inconsistent = false;
};

// used = available - unused, only when both exist and unused <= available.
UsedMemory ComputeUsed(const MemoryStats& stats);

// The stats of a domain that count now: all of them while its status is
// `reporting` (or not decided); without the guest-side ones (core/
// balloon_stat_list.h's Guest rows) otherwise, as a stale or unpolled
// guest's last report is not current. Host-side stats and the last
// update's time stay.
MemoryStats CurrentStats(const DomainMemory& domain);

// A domain with its `domain` and `uuid` label set, which all its series
// except `libvirt_domain_info` share.
struct LabelledDomain {
  const DomainMemory* domain;
  LabelSetId labels;
};

// Every domain, ordered by name, then UUID (the order of every per-domain
// family), with its label set added to `set`.
std::vector<LabelledDomain> LabelDomains(
    const std::vector<DomainMemory>& domains, MetricSet& set);

// One family per row of core/balloon_stat_list.h, in its order, each holding
// one series per domain whose current stats (CurrentStats) have the stat, in
// the order given. Families left without series are dropped. Every active
// domain gets a `..._reported` and a `..._timed_out` series, and one
// `..._status` series once its status is decided; `..._period_seconds` where
// the period is known. Inactive domains get none.
void AddMemoryFamilies(const std::vector<LabelledDomain>& domains,
                       MetricSet& set);

}  // namespace lme
