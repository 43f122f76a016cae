#include "core/memory_families.h"

#include <algorithm>
#include <string_view>
#include <tuple>

namespace lme {
namespace {

using ValueOf = std::optional<double> (*)(const MemoryStats&);

struct FamilySpec {
  std::string_view suffix;
  std::string_view help;
  MetricType type;
  ValueOf value;
};

std::optional<double> UsedBytes(const MemoryStats& stats) {
  return ComputeUsed(stats).bytes;
}

// One family per row of core/balloon_stat_list.h, in its order.
#define LME_STAT_FAMILY(member, tag, name, bulk_name, suffix, type, unit, \
                        origin, help)                                     \
  FamilySpec{suffix, help, MetricType::type, [](const MemoryStats& s) {   \
               return ToExportedUnit(StatUnit::k##unit, s.member);        \
             }},
#define LME_DERIVED_FAMILY(suffix, type, function, help) \
  FamilySpec{suffix, help, MetricType::type, &function},
const FamilySpec kFamilies[] = {
    LME_BALLOON_STATS(LME_STAT_FAMILY, LME_DERIVED_FAMILY)};
#undef LME_DERIVED_FAMILY
#undef LME_STAT_FAMILY

constexpr const char* kTimedOutHelp =
    "1 when the guest's stats did not arrive in time because its QEMU monitor "
    "stayed busy with one command (a stopped or wedged QEMU), else 0.";

constexpr const char* kReportedHelp =
    "1 when the guest's memory stats are current and exported: its balloon "
    "driver reports (available and unused present) and its status is "
    "reporting, else 0.";

constexpr const char* kStatusHelp =
    "Why the guest has memory stats or not, as the status label: reporting, "
    "no_balloon (no balloon device), no_stats_period (stats polling is off), "
    "not_reporting (the guest never reported), stale (no report for over "
    "three stats periods plus 10 s while running); constant 1.";

constexpr const char* kPeriodHelp =
    "How often QEMU asks the guest for balloon stats, in seconds, from the "
    "domain's live definition; 0 when it does not ask.";

bool Reporting(const DomainMemory& domain) {
  return !domain.stats_status ||
         *domain.stats_status == StatsStatus::kReporting;
}

// Each active domain with its current stats: a copy only for the domains
// whose guest-side stats are withheld.
struct CurrentDomain {
  const LabelledDomain* entry;
  const MemoryStats* stats;
};

std::vector<CurrentDomain> WithCurrentStats(
    const std::vector<LabelledDomain>& active,
    std::vector<MemoryStats>& withheld) {
  withheld.reserve(static_cast<std::size_t>(std::count_if(
      active.begin(), active.end(),
      [](const auto& entry) { return !Reporting(*entry.domain); })));
  std::vector<CurrentDomain> current;
  current.reserve(active.size());
  for (const auto& entry : active) {
    if (Reporting(*entry.domain)) {
      current.push_back({&entry, &entry.domain->stats});
    } else {
      withheld.push_back(CurrentStats(*entry.domain));
      current.push_back({&entry, &withheld.back()});
    }
  }
  return current;
}

void AddStatusFamilies(const std::vector<LabelledDomain>& active,
                       MetricSet& set) {
  Family status = MakeFamily(std::string(kMemoryStatsPrefix) + "status",
                             kStatusHelp, MetricType::Gauge);
  Family period = MakeFamily(std::string(kMemoryStatsPrefix) + "period_seconds",
                             kPeriodHelp, MetricType::Gauge);
  for (const auto& [domain, labels] : active) {
    if (domain->stats_status) {
      status.samples.push_back(
          {set.AddLabels({{"domain", domain->name},
                          {"status", StatusName(*domain->stats_status)},
                          {"uuid", domain->uuid}}),
           1});
    }
    if (domain->stats_period_seconds) {
      period.samples.push_back(
          {labels, static_cast<double>(*domain->stats_period_seconds)});
    }
  }
  set.Add(std::move(status));
  set.Add(std::move(period));
}

}  // namespace

std::vector<LabelledDomain> LabelDomains(
    const std::vector<DomainMemory>& domains, MetricSet& set) {
  std::vector<LabelledDomain> labelled;
  labelled.reserve(domains.size());
  for (const auto& domain : domains) labelled.push_back({&domain, 0});
  std::sort(labelled.begin(), labelled.end(), [](const auto& a, const auto& b) {
    return std::tie(a.domain->name, a.domain->uuid) <
           std::tie(b.domain->name, b.domain->uuid);
  });
  for (auto& entry : labelled) {
    entry.labels = set.AddLabels(
        {{"domain", entry.domain->name}, {"uuid", entry.domain->uuid}});
  }
  return labelled;
}

bool HasBalloonReport(const MemoryStats& stats) {
  return stats.available_kib.has_value() && stats.unused_kib.has_value();
}

MemoryStats CurrentStats(const DomainMemory& domain) {
  if (Reporting(domain)) return domain.stats;
  MemoryStats current;
  for (const auto& stat : kBalloonStats) {
    if (stat.origin == StatOrigin::kHost) {
      current.*stat.member = domain.stats.*stat.member;
    }
  }
  return current;
}

UsedMemory ComputeUsed(const MemoryStats& stats) {
  if (!HasBalloonReport(stats)) return {};
  if (*stats.unused_kib > *stats.available_kib) return {std::nullopt, true};
  return {KibToBytes(*stats.available_kib - *stats.unused_kib), false};
}

void AddMemoryFamilies(const std::vector<LabelledDomain>& domains,
                       MetricSet& set) {
  std::vector<LabelledDomain> active;
  active.reserve(domains.size());
  for (const auto& entry : domains) {
    if (entry.domain->active) active.push_back(entry);
  }
  std::vector<MemoryStats> withheld;
  const std::vector<CurrentDomain> current = WithCurrentStats(active, withheld);
  for (const auto& spec : kFamilies) {
    Family family =
        MakeFamily(std::string(kMemoryStatsPrefix) + std::string(spec.suffix),
                   std::string(spec.help), spec.type);
    family.samples.reserve(current.size());
    for (const auto& [entry, stats] : current) {
      if (auto value = spec.value(*stats)) {
        family.samples.push_back({entry->labels, *value});
      }
    }
    set.Add(std::move(family));
  }
  // Per-domain flags: every active domain gets a 0 or a 1.
  const struct {
    const char* suffix;
    const char* help;
    bool (*flag)(const DomainMemory&, const MemoryStats&);
  } flags[] = {
      {"reported", kReportedHelp,
       [](const DomainMemory&, const MemoryStats& stats) {
         return HasBalloonReport(stats);
       }},
      {"timed_out", kTimedOutHelp,
       [](const DomainMemory& d, const MemoryStats&) { return d.timed_out; }},
  };
  for (const auto& spec : flags) {
    Family family = MakeFamily(std::string(kMemoryStatsPrefix) + spec.suffix,
                               spec.help, MetricType::Gauge);
    family.samples.reserve(current.size());
    for (const auto& [entry, stats] : current) {
      family.samples.push_back(
          {entry->labels, spec.flag(*entry->domain, *stats) ? 1.0 : 0.0});
    }
    set.Add(std::move(family));
  }
  AddStatusFamilies(active, set);
}

}  // namespace lme
