#include "core/exposition.h"

#include <prometheus/text_serializer.h>

#include <limits>
#include <sstream>

#include "catch_compat.h"
#include "core/domain_families.h"
#include "core/memory_families.h"
#include "test_support.h"

namespace lme {
namespace {

using prometheus::MetricFamily;

std::string ViaTextSerializer(const std::vector<MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

MetricSet RealisticFamilies() {
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
  std::vector<DomainMemory> domains{Running("web-01", "u1", stats),
                                    Running("quote\"back\\slash", "u2", stats),
                                    Running("new\nline", "u3"),
                                    Running("ünïcødé-гость-客人", "u4", stats)};
  MetricSet set = BuildDomainFamilies(domains);
  set.Append(BuildMemoryFamilies(domains));
  set.Append(BuildGuestTotalFamilies(domains));
  Family duration =
      MakeFamily("scrape_duration_seconds", "Time.", MetricType::Gauge);
  for (double seconds : {0.001733531, 0.5, 2.0, 1e-07}) {
    set.AddSample(duration, {{"collector", std::to_string(seconds)}}, seconds);
  }
  set.Add(std::move(duration));
  set.AddSingle("collections_total", "", MetricType::Counter, 7);
  return set;
}

// One family whose unlabelled samples have these values.
MetricSet Unlabelled(MetricType type, std::initializer_list<double> values) {
  MetricSet set;
  Family family = MakeFamily("m", "", type);
  for (double value : values)
    family.samples.push_back({MetricSet::kNoLabels, value});
  set.Add(std::move(family));
  return set;
}

TEST_CASE("the exposition matches prometheus-cpp's for what we export",
          "[exposition]") {
  const MetricSet set = RealisticFamilies();
  CHECK(RenderExposition(set) == ViaTextSerializer(ToMetricFamilies(set)));
}

TEST_CASE("HELP text is escaped, unlike prometheus-cpp 1.0.1", "[exposition]") {
  MetricSet set;
  set.AddSingle("m", "a \\ b\nc", MetricType::Gauge, 1);
  CHECK(RenderExposition(set) ==
        "# HELP m a \\\\ b\\nc\n# TYPE m gauge\nm 1\n");
}

TEST_CASE("special values use the format's spelling", "[exposition]") {
  const MetricSet set = Unlabelled(
      MetricType::Counter, {std::numeric_limits<double>::quiet_NaN(),
                            std::numeric_limits<double>::infinity(),
                            -std::numeric_limits<double>::infinity(), 1e21});
  CHECK(RenderExposition(set) ==
        "# TYPE m counter\nm NaN\nm +Inf\nm -Inf\nm 1e+21\n");
}

TEST_CASE("values read back as the same double", "[exposition]") {
  const MetricSet set = Unlabelled(
      MetricType::Gauge, {1000000.0, 9007199254740991.0, 123456789012345678.0});
  // TextSerializer writes the last as 1.234567890123457e+17, which reads
  // back as another double.
  CHECK(RenderExposition(set) ==
        "# TYPE m gauge\nm 1000000\nm 9007199254740991\n"
        "m 123456789012345680\n");
}

TEST_CASE("the text is written in pieces of bounded size", "[exposition]") {
  std::vector<DomainMemory> domains;
  for (int i = 0; i < 2000; ++i) {
    MemoryStats stats;
    stats.available_kib = 1024;
    stats.unused_kib = 512;
    domains.push_back(Running("guest-" + std::to_string(i), "u", stats));
  }
  const MetricSet set = BuildMemoryFamilies(domains);
  std::vector<std::string> pieces;
  WriteExposition(set, [&](std::string_view p) { pieces.emplace_back(p); });
  REQUIRE(pieces.size() > 1);
  std::string joined;
  for (const auto& piece : pieces) {
    CHECK(piece.size() <= 68 * 1024);
    CHECK_FALSE(piece.empty());
    joined += piece;
  }
  CHECK(joined == RenderExposition(set));
  CHECK(joined == ViaTextSerializer(ToMetricFamilies(set)));
}

}  // namespace
}  // namespace lme
