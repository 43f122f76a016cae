// Measures the exporter's exposition path against the direct formatter the
// benchmark report proposes (docs/benchmarks.md), on the same domains:
//   current  what src/ does per scrape: one prometheus::MetricFamily per stat,
//            one ClientMetric with two copied labels per domain and stat, then
//            prometheus::TextSerializer into an ostringstream and str()
//   direct   one pass into a reused std::string: the label block escaped once
//            per domain, integers written with std::to_chars
// Only a yardstick for the proposal. It mirrors src/core/memory_families.cc
// instead of linking it, so that changes in src/ cannot break the build.
//   lme-format-proto [DOMAINS] [ITERATIONS]
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <optional>

namespace {

struct MemoryStats {  // KiB, as libvirt reports them
  std::optional<std::uint64_t> available_kib, unused_kib, usable_kib, disk_caches_kib,
      current_balloon_kib, maximum_kib, rss_kib, swap_in_kib, swap_out_kib, major_faults,
      minor_faults, hugetlb_pgalloc, hugetlb_pgfail, last_update_seconds;
};

struct DomainMemory {
  std::string name;
  std::string uuid;
  MemoryStats stats;
};

bool HasBalloonReport(const MemoryStats& s) {
  return s.available_kib.has_value() && s.unused_kib.has_value();
}

// What the test driver reports: 13 stats for a virtio balloon, nothing
// without one (every tenth domain), plus the maximum.
std::vector<DomainMemory> MakeDomains(int count) {
  const char* prefixes[] = {"web", "db-primary", "cache", "worker",
                            "ci-runner-large", "k8s-node"};
  std::vector<DomainMemory> domains(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    DomainMemory& d = domains[static_cast<std::size_t>(i)];
    char name[64];
    std::snprintf(name, sizeof name, "%s-%05d", prefixes[i % 6], i);
    char uuid[40];
    std::snprintf(uuid, sizeof uuid, "6d3c1f0a-0000-4000-8000-%012d", i);
    d.name = name;
    d.uuid = uuid;
    const std::uint64_t kib = 1048576ULL * static_cast<std::uint64_t>(1 + i % 16);
    MemoryStats& s = d.stats;
    s.maximum_kib = kib;
    if (i % 10 == 9) continue;
    s.current_balloon_kib = kib;
    s.available_kib = kib;
    s.unused_kib = kib / 2;
    s.usable_kib = kib / 2 + 1000;
    s.disk_caches_kib = kib / 8;
    s.rss_kib = kib / 2 + 12345;
    s.swap_in_kib = 0;
    s.swap_out_kib = 0;
    s.major_faults = 1234;
    s.minor_faults = 567890;
    s.hugetlb_pgalloc = 0;
    s.hugetlb_pgfail = 0;
    s.last_update_seconds = 1700000000 + i;
  }
  return domains;
}

// --- the proposal -----------------------------------------------------------

enum class Unit { kBytes, kCount, kTimestamp, kUsed };

struct Family {
  const char* suffix;
  const char* help;
  const char* type;
  std::optional<std::uint64_t> MemoryStats::*field;
  Unit unit;
};

// Same families, order and help texts as src/core/memory_families.cc.
const Family kFamilies[] = {
    {"available_bytes", "Memory the guest's balloon driver reports as available to the guest (its MemTotal), in bytes.", "gauge", &MemoryStats::available_kib, Unit::kBytes},
    {"unused_bytes", "Memory left completely unused by the guest (its MemFree), in bytes.", "gauge", &MemoryStats::unused_kib, Unit::kBytes},
    {"used_bytes", "Memory used by the guest: available minus unused, in bytes (page cache counts as used).", "gauge", nullptr, Unit::kUsed},
    {"usable_bytes", "Memory the guest can still use without swapping (its MemAvailable), in bytes.", "gauge", &MemoryStats::usable_kib, Unit::kBytes},
    {"disk_caches_bytes", "Memory the guest uses for reclaimable disk caches, in bytes.", "gauge", &MemoryStats::disk_caches_kib, Unit::kBytes},
    {"current_balloon_bytes", "Memory currently assigned to the guest by the balloon, in bytes.", "gauge", &MemoryStats::current_balloon_kib, Unit::kBytes},
    {"maximum_bytes", "Maximum memory the guest may be assigned, in bytes.", "gauge", &MemoryStats::maximum_kib, Unit::kBytes},
    {"rss_bytes", "Resident set size of the host process running the guest, in bytes.", "gauge", &MemoryStats::rss_kib, Unit::kBytes},
    {"swap_in_bytes_total", "Memory the guest has read in from swap, in bytes.", "counter", &MemoryStats::swap_in_kib, Unit::kBytes},
    {"swap_out_bytes_total", "Memory the guest has written out to swap, in bytes.", "counter", &MemoryStats::swap_out_kib, Unit::kBytes},
    {"major_fault_total", "Page faults in the guest that needed disk I/O.", "counter", &MemoryStats::major_faults, Unit::kCount},
    {"minor_fault_total", "Page faults in the guest served without disk I/O.", "counter", &MemoryStats::minor_faults, Unit::kCount},
    {"hugetlb_pgalloc_total", "Successful huge page allocations in the guest.", "counter", &MemoryStats::hugetlb_pgalloc, Unit::kCount},
    {"hugetlb_pgfail_total", "Failed huge page allocations in the guest.", "counter", &MemoryStats::hugetlb_pgfail, Unit::kCount},
    {"last_update_timestamp_seconds", "Time of the guest's last balloon stats report, in seconds since the epoch.", "gauge", &MemoryStats::last_update_seconds, Unit::kTimestamp},
};

constexpr const char* kReportedHelp =
    "1 when the guest's balloon driver reports memory stats (available and unused present), "
    "else 0.";

void AppendEscaped(std::string& out, const std::string& value) {
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

void AppendNumber(std::string& out, std::uint64_t value) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, end);
}

std::optional<std::uint64_t> Value(const Family& family, const MemoryStats& s) {
  switch (family.unit) {
    case Unit::kUsed:
      if (!s.available_kib || !s.unused_kib || *s.unused_kib > *s.available_kib) return {};
      return (*s.available_kib - *s.unused_kib) * 1024;
    case Unit::kBytes:
      if (!(s.*family.field)) return {};
      return *(s.*family.field) * 1024;
    case Unit::kTimestamp:
      if (!(s.*family.field) || *(s.*family.field) == 0) return {};
      return *(s.*family.field);
    case Unit::kCount:
      return s.*family.field;
  }
  return {};
}

std::vector<const DomainMemory*> Sorted(const std::vector<DomainMemory>& domains) {
  std::vector<const DomainMemory*> sorted;
  sorted.reserve(domains.size());
  for (const auto& d : domains) sorted.push_back(&d);
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
    return std::tie(a->name, a->uuid) < std::tie(b->name, b->uuid);
  });
  return sorted;
}

using Labels = std::vector<std::pair<std::string, std::string>>;

// As src/core/metric_builders.cc's AddSample: labels built per sample, then
// copied into the ClientMetric, the value stored as a double.
void AddSample(prometheus::MetricFamily& family, const Labels& labels, double value) {
  prometheus::ClientMetric metric;
  metric.label.reserve(labels.size());
  for (const auto& [name, label_value] : labels) metric.label.push_back({name, label_value});
  if (family.type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(std::move(metric));
}

std::string Current(const std::vector<DomainMemory>& domains) {
  const auto sorted = Sorted(domains);
  std::vector<prometheus::MetricFamily> families;
  auto add_family = [&](const char* suffix, const char* help, const char* type, auto value_of) {
    prometheus::MetricFamily family;
    family.name = std::string("libvirt_domain_memory_stats_") + suffix;
    family.help = help;
    family.type = std::string(type) == "counter" ? prometheus::MetricType::Counter
                                                 : prometheus::MetricType::Gauge;
    for (const DomainMemory* d : sorted) {
      if (const auto value = value_of(*d)) {
        AddSample(family, {{"domain", d->name}, {"uuid", d->uuid}},
                  static_cast<double>(*value));
      }
    }
    if (!family.metric.empty()) families.push_back(std::move(family));
  };
  for (const Family& family : kFamilies) {
    add_family(family.suffix, family.help, family.type,
               [&](const DomainMemory& d) { return Value(family, d.stats); });
  }
  add_family("reported", kReportedHelp, "gauge",
             [](const DomainMemory& d) -> std::optional<std::uint64_t> {
               return HasBalloonReport(d.stats) ? 1 : 0;
             });
  const prometheus::TextSerializer serializer;
  std::ostringstream out;
  serializer.Serialize(out, families);
  return out.str();
}

// `labels` and `out` live across scrapes, so steady state allocates nothing.
void Direct(const std::vector<DomainMemory>& domains, std::vector<std::string>& labels,
            std::string& out) {
  const auto sorted = Sorted(domains);
  labels.resize(sorted.size());
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    std::string& l = labels[i];
    l.assign("{domain=\"");
    AppendEscaped(l, sorted[i]->name);
    l += "\",uuid=\"";
    AppendEscaped(l, sorted[i]->uuid);
    l += "\"} ";
  }
  out.clear();
  auto family_block = [&](const char* suffix, const char* help, const char* type, auto value_of) {
    bool header = false;
    for (std::size_t i = 0; i < sorted.size(); ++i) {
      const std::optional<std::uint64_t> value = value_of(*sorted[i]);
      if (!value) continue;
      if (!header) {
        out += "# HELP libvirt_domain_memory_stats_"; out += suffix; out += ' '; out += help;
        out += "\n# TYPE libvirt_domain_memory_stats_"; out += suffix; out += ' '; out += type;
        out += '\n';
        header = true;
      }
      out += "libvirt_domain_memory_stats_"; out += suffix;
      out += labels[i];
      AppendNumber(out, *value);
      out += '\n';
    }
  };
  for (const Family& family : kFamilies) {
    family_block(family.suffix, family.help, family.type,
                 [&](const DomainMemory& d) { return Value(family, d.stats); });
  }
  family_block("reported", kReportedHelp, "gauge",
               [](const DomainMemory& d) -> std::optional<std::uint64_t> {
                 return HasBalloonReport(d.stats) ? 1 : 0;
               });
}

double SeriesValueSum(const std::string& text, int& series) {
  double sum = 0;
  series = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    ++series;
    sum += std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
  }
  return sum;
}

template <typename F>
double MedianMicros(int iterations, F&& run) {
  std::vector<double> us;
  for (int i = 0; i < iterations; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run();
    us.push_back(std::chrono::duration<double, std::micro>(
                     std::chrono::steady_clock::now() - start).count());
  }
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 5000;
  const int iterations = argc > 2 ? std::atoi(argv[2]) : 15;
  const auto domains = MakeDomains(count);

  std::vector<std::string> labels;
  std::string direct;
  Direct(domains, labels, direct);
  const std::string current = Current(domains);
  int current_series = 0, direct_series = 0;
  const double current_sum = SeriesValueSum(current, current_series);
  const double direct_sum = SeriesValueSum(direct, direct_series);
  if (current_series != direct_series || current_sum != direct_sum) {
    std::printf("outputs differ: %d vs %d series, sums %.17g vs %.17g\n", current_series,
                direct_series, current_sum, direct_sum);
    return 1;
  }

  // Interleaved, so both see the same machine load.
  double current_us = 0, direct_us = 0;
  std::vector<double> c, d;
  for (int i = 0; i < iterations; ++i) {
    c.push_back(MedianMicros(1, [&] { (void)Current(domains).size(); }));
    d.push_back(MedianMicros(1, [&] { Direct(domains, labels, direct); }));
  }
  std::sort(c.begin(), c.end());
  std::sort(d.begin(), d.end());
  current_us = c[c.size() / 2];
  direct_us = d[d.size() / 2];
  std::printf("domains=%d series=%d bytes_current=%zu bytes_direct=%zu current_ms=%.2f "
              "direct_ms=%.2f current_ns_per_series=%.0f direct_ns_per_series=%.0f "
              "speedup=%.1f identical=%s\n",
              count, current_series, current.size(), direct.size(), current_us / 1e3,
              direct_us / 1e3, current_us * 1e3 / current_series,
              direct_us * 1e3 / direct_series, current_us / direct_us,
              current == direct ? "yes" : "no");
  return 0;
}
