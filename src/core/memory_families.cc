#include "core/memory_families.h"

#include <algorithm>
#include <array>
#include <tuple>

namespace lme {
namespace {

using ValueOf = std::optional<double> (*)(const MemoryStats&);

struct FamilySpec {
  const char* suffix;
  const char* help;
  MetricType type;
  ValueOf value;
};

std::optional<double> Bytes(const std::optional<std::uint64_t>& kib) {
  if (!kib) return std::nullopt;
  return KibToBytes(*kib);
}

std::optional<double> Count(const std::optional<std::uint64_t>& count) {
  if (!count) return std::nullopt;
  return static_cast<double>(*count);
}

// libvirt reports 0 when the guest never sent a report: not a timestamp.
std::optional<double> Timestamp(const std::optional<std::uint64_t>& seconds) {
  if (!seconds || *seconds == 0) return std::nullopt;
  return static_cast<double>(*seconds);
}

// clang-format off
const std::array<FamilySpec, 15> kFamilies = {{
  {"available_bytes",
   "Memory the guest's balloon driver reports as available to the guest (its MemTotal), in bytes.",
   MetricType::Gauge, [](const MemoryStats& s) { return Bytes(s.available_kib); }},
  {"unused_bytes",
   "Memory left completely unused by the guest (its MemFree), in bytes.",
   MetricType::Gauge, [](const MemoryStats& s) { return Bytes(s.unused_kib); }},
  {"used_bytes",
   "Memory used by the guest: available minus unused, in bytes (page cache counts as used).",
   MetricType::Gauge, [](const MemoryStats& s) { return ComputeUsed(s).bytes; }},
  {"usable_bytes",
   "Memory the guest can still use without swapping (its MemAvailable), in bytes.",
   MetricType::Gauge, [](const MemoryStats& s) { return Bytes(s.usable_kib); }},
  {"disk_caches_bytes",
   "Memory the guest uses for reclaimable disk caches, in bytes.",
   MetricType::Gauge, [](const MemoryStats& s) { return Bytes(s.disk_caches_kib); }},
  {"current_balloon_bytes",
   "Memory currently assigned to the guest by the balloon, in bytes.",
   MetricType::Gauge, [](const MemoryStats& s) { return Bytes(s.current_balloon_kib); }},
  {"maximum_bytes",
   "Maximum memory the guest may be assigned, in bytes.",
   MetricType::Gauge, [](const MemoryStats& s) { return Bytes(s.maximum_kib); }},
  {"rss_bytes",
   "Resident set size of the host process running the guest, in bytes.",
   MetricType::Gauge, [](const MemoryStats& s) { return Bytes(s.rss_kib); }},
  {"swap_in_bytes_total",
   "Memory the guest has read in from swap, in bytes.",
   MetricType::Counter, [](const MemoryStats& s) { return Bytes(s.swap_in_kib); }},
  {"swap_out_bytes_total",
   "Memory the guest has written out to swap, in bytes.",
   MetricType::Counter, [](const MemoryStats& s) { return Bytes(s.swap_out_kib); }},
  {"major_fault_total",
   "Page faults in the guest that needed disk I/O.",
   MetricType::Counter, [](const MemoryStats& s) { return Count(s.major_faults); }},
  {"minor_fault_total",
   "Page faults in the guest served without disk I/O.",
   MetricType::Counter, [](const MemoryStats& s) { return Count(s.minor_faults); }},
  {"hugetlb_pgalloc_total",
   "Successful huge page allocations in the guest.",
   MetricType::Counter, [](const MemoryStats& s) { return Count(s.hugetlb_pgalloc); }},
  {"hugetlb_pgfail_total",
   "Failed huge page allocations in the guest.",
   MetricType::Counter, [](const MemoryStats& s) { return Count(s.hugetlb_pgfail); }},
  {"last_update_timestamp_seconds",
   "Time of the guest's last balloon stats report, in seconds since the epoch.",
   MetricType::Gauge, [](const MemoryStats& s) { return Timestamp(s.last_update_seconds); }},
}};
// clang-format on

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

double KibToBytes(std::uint64_t kib) { return static_cast<double>(kib) * 1024; }

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
    Family family = MakeFamily(std::string(kMemoryStatsPrefix) + spec.suffix,
                               spec.help, spec.type);
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

MetricSet BuildMemoryFamilies(const std::vector<DomainMemory>& domains) {
  MetricSet set;
  AddMemoryFamilies(LabelDomains(domains, set), set);
  return set;
}

}  // namespace lme
