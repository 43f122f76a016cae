#include "core/exposition.h"

#include <catch2/catch.hpp>
#include <prometheus/text_serializer.h>

#include <limits>
#include <sstream>

#include "core/domain_families.h"
#include "core/memory_families.h"
#include "test_domains.h"

namespace lme {
namespace {

using prometheus::MetricFamily;

std::string ViaTextSerializer(const std::vector<MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

std::vector<MetricFamily> RealisticFamilies() {
  MemoryStats stats;
  stats.available_kib = 94928;
  stats.unused_kib = 35704;
  stats.usable_kib = 41320;
  stats.disk_caches_kib = 1 << 20;
  stats.current_balloon_kib = 131072;
  stats.maximum_kib = 68719476736ull;  // 64 TiB
  stats.swap_in_kib = 0;
  stats.major_faults = 123456789;
  stats.last_update_seconds = 1764000000;
  std::vector<DomainMemory> domains{
      Running("web-01", "u1", stats), Running("quote\"back\\slash", "u2", stats),
      Running("new\nline", "u3"), Running("ünïcødé-гость-客人", "u4", stats)};
  auto families = BuildDomainFamilies(domains);
  for (auto& f : BuildMemoryFamilies(domains)) families.push_back(std::move(f));
  for (auto& f : BuildGuestTotalFamilies(domains)) families.push_back(std::move(f));
  MetricFamily duration{"scrape_duration_seconds", "Time.",
                        prometheus::MetricType::Gauge, {}};
  for (double seconds : {0.001733531, 0.5, 2.0, 1e-07}) {
    prometheus::ClientMetric metric;
    metric.gauge.value = seconds;
    duration.metric.push_back(metric);
  }
  families.push_back(duration);
  return families;
}

TEST_CASE("the exposition matches prometheus-cpp's for what we export",
          "[exposition]") {
  const auto families = RealisticFamilies();
  CHECK(RenderExposition(families) == ViaTextSerializer(families));
}

TEST_CASE("HELP text is escaped, unlike prometheus-cpp 1.0.1", "[exposition]") {
  const MetricFamily family{"m", "a \\ b\nc", prometheus::MetricType::Gauge, {}};
  CHECK(RenderExposition({family}) == "# HELP m a \\\\ b\\nc\n# TYPE m gauge\n");
}

TEST_CASE("special values use the format's spelling", "[exposition]") {
  MetricFamily family{"m", "", prometheus::MetricType::Counter, {}};
  for (double value : {std::numeric_limits<double>::quiet_NaN(),
                       std::numeric_limits<double>::infinity(),
                       -std::numeric_limits<double>::infinity(), 1e21}) {
    prometheus::ClientMetric metric;
    metric.counter.value = value;
    family.metric.push_back(metric);
  }
  CHECK(RenderExposition({family}) ==
        "# TYPE m counter\nm NaN\nm +Inf\nm -Inf\nm 1e+21\n");
}

TEST_CASE("values read back as the same double", "[exposition]") {
  MetricFamily family{"m", "", prometheus::MetricType::Gauge, {}};
  for (double value : {1000000.0, 9007199254740991.0, 123456789012345678.0}) {
    prometheus::ClientMetric metric;
    metric.gauge.value = value;
    family.metric.push_back(metric);
  }
  // TextSerializer writes the last as 1.234567890123457e+17, which reads
  // back as another double.
  CHECK(RenderExposition({family}) ==
        "# TYPE m gauge\nm 1000000\nm 9007199254740991\n"
        "m 123456789012345680\n");
}

TEST_CASE("a shared collection is rendered once", "[exposition]") {
  ExpositionCache cache;
  auto families =
      std::make_shared<const std::vector<MetricFamily>>(RealisticFamilies());
  const auto first = cache.Render(families);
  CHECK(*first == RenderExposition(*families));
  CHECK(cache.Render(families) == first);  // the same text object
  auto next =
      std::make_shared<const std::vector<MetricFamily>>(RealisticFamilies());
  CHECK(cache.Render(next) != first);
}

}  // namespace
}  // namespace lme
