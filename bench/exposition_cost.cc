// What the exporter's exposition path costs per scrape, against the
// prometheus-cpp path it replaced, on the same domains:
//   build      BuildDomainCollectorFamilies, as
//              src/collector/domain_memory_collector.cc does
//   render     WriteExposition of that set, each piece copied into a reused
//              buffer as the web server copies it into the chunk it sends
//   reference  ToMetricFamilies of the same set (standing in for the
//              per-scrape MetricFamily construction the exporter used to do),
//              then prometheus::TextSerializer into an ostringstream and str()
// The two texts differ in HELP escaping and in how some doubles are printed,
// so only their series counts are compared.
//   lme-exposition-cost [DOMAINS] [ITERATIONS]
#include <malloc.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "core/domain_families.h"
#include "core/exposition.h"
#include "core/memory_families.h"
#include "core/metric_set.h"
#include "test_support.h"

namespace {

using Clock = std::chrono::steady_clock;

// What the test driver reports: 13 stats for a virtio balloon, nothing
// without one (every tenth domain), plus the maximum.
std::vector<lme::DomainMemory> MakeDomains(int count) {
  const char* prefixes[] = {"web",    "db-primary",      "cache",
                            "worker", "ci-runner-large", "k8s-node"};
  std::vector<lme::DomainMemory> domains(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    lme::DomainMemory& d = domains[static_cast<std::size_t>(i)];
    char name[64];
    std::snprintf(name, sizeof name, "%s-%05d", prefixes[i % 6], i);
    char uuid[40];
    std::snprintf(uuid, sizeof uuid, "6d3c1f0a-0000-4000-8000-%012d", i);
    d.name = name;
    d.uuid = uuid;
    // Running with vCPUs, so the per-domain families have series too.
    d.active = true;
    d.state = "running";
    d.vcpus = 2;
    const std::uint64_t kib =
        1048576ULL * static_cast<std::uint64_t>(1 + i % 16);
    lme::MemoryStats& s = d.stats;
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

lme::MetricSet Build(const std::vector<lme::DomainMemory>& domains) {
  return lme::BuildDomainCollectorFamilies(domains);
}

std::string Serialize(const std::vector<prometheus::MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

int SeriesIn(const std::string& text) {
  int series = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != '#') ++series;
  }
  return series;
}

// Live heap: large blocks (the text at thousands of domains) are mmapped
// and counted in hblkhd, not uordblks.
std::size_t HeapInUse() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

// As the web server writes a scrape: piece by piece into a reused buffer.
std::size_t WriteInPieces(const lme::MetricSet& set) {
  std::string frame;
  std::size_t written = 0;
  lme::WriteExposition(set, [&](std::string_view piece) {
    frame.assign(piece);
    written += frame.size();
  });
  return written;
}

double Millis(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 5000;
  const int iterations = std::max(1, argc > 2 ? std::atoi(argv[2]) : 15);
  const auto domains = MakeDomains(count);

  // Untimed first round: checks the paths agree, measures what the set
  // keeps alive, and warms the allocator for the timed rounds.
  const std::size_t heap_before = HeapInUse();
  const lme::MetricSet first_set = Build(domains);
  const std::size_t set_bytes = HeapInUse() - heap_before;
  const std::string first_text = lme::RenderExposition(first_set);
  const int series = SeriesIn(first_text);
  const int reference_series =
      SeriesIn(Serialize(lme::ToMetricFamilies(first_set)));
  if (series != reference_series) {
    std::fprintf(stderr, "series differ: %d rendered, %d from prometheus-cpp\n",
                 series, reference_series);
    return 1;
  }

  // Interleaved, so all three see the same machine load. Each round's set,
  // families and texts are freed after its clocks stop, for both paths alike.
  std::vector<double> build_ms, render_ms, reference_ms;
  for (int i = 0; i < iterations; ++i) {
    const auto start = Clock::now();
    const lme::MetricSet set = Build(domains);
    const auto built = Clock::now();
    const std::size_t written = WriteInPieces(set);
    const auto rendered = Clock::now();
    if (written != first_text.size()) return 1;
    const auto families = lme::ToMetricFamilies(set);
    const std::string reference = Serialize(families);
    const auto done = Clock::now();
    build_ms.push_back(Millis(start, built));
    render_ms.push_back(Millis(built, rendered));
    reference_ms.push_back(Millis(rendered, done));
  }
  const double build = Median(build_ms);
  const double render = Median(render_ms);
  const double ours = build + render;
  const double reference = Median(reference_ms);
  std::printf(
      "domains=%d series=%d bytes=%zu build_ms=%.2f render_ms=%.2f "
      "ours_ms=%.2f ours_ns_per_series=%.0f prometheus_cpp_ms=%.2f "
      "prometheus_cpp_ns_per_series=%.0f speedup=%.1f set_bytes=%zu\n",
      count, series, first_text.size(), build, render, ours,
      ours * 1e6 / series, reference, reference * 1e6 / series,
      reference / ours, set_bytes);
  return 0;
}
