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
                        help)                                             \
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
    "1 when the guest's balloon driver reports memory stats (available and "
    "unused present), else 0.";

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
  for (const auto& spec : kFamilies) {
    Family family =
        MakeFamily(std::string(kMemoryStatsPrefix) + std::string(spec.suffix),
                   std::string(spec.help), spec.type);
    family.samples.reserve(active.size());
    for (const auto& entry : active) {
      if (auto value = spec.value(entry.domain->stats)) {
        family.samples.push_back({entry.labels, *value});
      }
    }
    set.Add(std::move(family));
  }
  // Per-domain flags: every active domain gets a 0 or a 1.
  const struct {
    const char* suffix;
    const char* help;
    bool (*flag)(const DomainMemory&);
  } flags[] = {
      {"reported", kReportedHelp,
       [](const DomainMemory& d) { return HasBalloonReport(d.stats); }},
      {"timed_out", kTimedOutHelp,
       [](const DomainMemory& d) { return d.timed_out; }},
  };
  for (const auto& spec : flags) {
    Family family = MakeFamily(std::string(kMemoryStatsPrefix) + spec.suffix,
                               spec.help, MetricType::Gauge);
    family.samples.reserve(active.size());
    for (const auto& entry : active) {
      family.samples.push_back(
          {entry.labels, spec.flag(*entry.domain) ? 1.0 : 0.0});
    }
    set.Add(std::move(family));
  }
}

}  // namespace lme
