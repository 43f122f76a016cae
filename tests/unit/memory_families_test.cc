#include "core/memory_families.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "catch_compat.h"
#include "core/metric_set.h"
#include "test_support.h"

namespace lme {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

std::vector<std::string> DomainsIn(const MetricFamily& family) {
  std::vector<std::string> names;
  for (const auto& metric : family.metric) {
    for (const auto& label : metric.label) {
      if (label.name == "domain") names.push_back(label.value);
    }
  }
  return names;
}

std::string Serialize(const std::vector<MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

TEST_CASE("KiB become bytes", "[mapping]") {
  CHECK(KibToBytes(0) == 0);
  CHECK(KibToBytes(1) == 1024);
  CHECK(KibToBytes(131072) == 134217728);
  // Large but plausible (64 TiB of KiB) stays exact in a double.
  CHECK(KibToBytes(68719476736ull) == 70368744177664.0);
}

TEST_CASE("used is available minus unused", "[mapping]") {
  const UsedMemory used = ComputeUsed(Reporting(94928, 35704));
  REQUIRE(used.bytes.has_value());
  CHECK(*used.bytes == (94928.0 - 35704.0) * 1024);
  CHECK_FALSE(used.inconsistent);
  CHECK(*ComputeUsed(Reporting(100, 100)).bytes == 0);
}

TEST_CASE("used is left out when an input is missing", "[mapping]") {
  MemoryStats only_available;
  only_available.available_kib = 100;
  MemoryStats only_unused;
  only_unused.unused_kib = 100;
  CHECK_FALSE(ComputeUsed(only_available).bytes.has_value());
  CHECK_FALSE(ComputeUsed(only_unused).bytes.has_value());
  CHECK_FALSE(ComputeUsed(MemoryStats{}).inconsistent);
}

TEST_CASE("a bogus report does not wrap around", "[mapping]") {
  const UsedMemory used = ComputeUsed(Reporting(100, 101));
  CHECK_FALSE(used.bytes.has_value());
  CHECK(used.inconsistent);
  const auto families = ToMetricFamilies(
      BuildMemoryFamilies({Running("bogus", "u1", Reporting(100, 101))}));
  CHECK(Find(families, MemoryStat("used_bytes")) == nullptr);
  REQUIRE(Find(families, MemoryStat("available_bytes")) != nullptr);
  REQUIRE(Find(families, MemoryStat("unused_bytes")) != nullptr);
}

TEST_CASE(
    "a guest without balloon report has only reported 0 and host-side "
    "series",
    "[mapping]") {
  MemoryStats host_side;
  host_side.rss_kib = 2048;
  host_side.current_balloon_kib = 131072;
  host_side.last_update_seconds = 0;  // device but no driver reports 0
  const auto families = ToMetricFamilies(
      BuildMemoryFamilies({Running("nodriver", "u1", host_side)}));
  for (const char* absent :
       {"available_bytes", "unused_bytes", "used_bytes", "usable_bytes",
        "disk_caches_bytes", "last_update_timestamp_seconds",
        "swap_in_bytes_total", "major_fault_total"}) {
    INFO(absent);
    CHECK(Find(families, MemoryStat(absent)) == nullptr);
  }
  REQUIRE(Find(families, MemoryStat("rss_bytes")) != nullptr);
  CHECK(Find(families, MemoryStat("rss_bytes"))->metric.at(0).gauge.value ==
        2048.0 * 1024);
  REQUIRE(Find(families, MemoryStat("current_balloon_bytes")) != nullptr);
  const MetricFamily* reported = Find(families, MemoryStat("reported"));
  REQUIRE(reported != nullptr);
  REQUIRE(reported->metric.size() == 1);
  CHECK(reported->metric[0].gauge.value == 0);
}

// Each row's unit, spelled out here rather than taken from the code under
// test.
double Exported(StatUnit unit, std::uint64_t raw) {
  return unit == StatUnit::kKib ? raw * 1024.0 : static_cast<double>(raw);
}

double ValueOf(const prometheus::ClientMetric& metric, MetricType type) {
  return type == MetricType::Counter ? metric.counter.value
                                     : metric.gauge.value;
}

TEST_CASE("every stat maps to its family, type and unit", "[mapping]") {
  MemoryStats stats;
  std::uint64_t raw = 1700000000;
  for (const auto& stat : kBalloonStats) stats.*stat.member = raw++;
  stats.available_kib = 1000;
  stats.unused_kib = 400;
  const auto families =
      ToMetricFamilies(BuildMemoryFamilies({Running("vm", "u1", stats)}));

  // Every row, plus used, reported and timed_out.
  CHECK(families.size() == std::size(kBalloonStats) + 3);
  for (const auto& stat : kBalloonStats) {
    INFO(stat.suffix);
    const MetricFamily* family = Find(families, MemoryStat(stat.suffix));
    REQUIRE(family != nullptr);
    CHECK(family->type == stat.type);
    CHECK(family->help == stat.help);
    REQUIRE(family->metric.size() == 1);
    const auto& metric = family->metric[0];
    CHECK(ValueOf(metric, stat.type) ==
          Exported(stat.unit, *(stats.*stat.member)));
    REQUIRE(metric.label.size() == 2);
    CHECK(metric.label[0].name == "domain");
    CHECK(metric.label[0].value == "vm");
    CHECK(metric.label[1].name == "uuid");
    CHECK(metric.label[1].value == "u1");
  }
  CHECK(Find(families, MemoryStat("used_bytes"))->metric[0].gauge.value ==
        600.0 * 1024);
  CHECK(Find(families, MemoryStat("used_bytes"))->type == MetricType::Gauge);
  CHECK(Find(families, MemoryStat("reported"))->metric[0].gauge.value == 1);
  CHECK(Find(families, MemoryStat("timed_out"))->metric[0].gauge.value == 0);
}

// A row of the stat table without its line in docs/metrics.md (the
// contract users read) fails here.
std::string ReadFile(const char* path) {
  std::ifstream file(path);
  REQUIRE(file.good());
  return std::string((std::istreambuf_iterator<char>(file)),
                     std::istreambuf_iterator<char>());
}

TEST_CASE("every balloon stat is documented in docs/metrics.md", "[mapping]") {
  const std::string text = ReadFile(LME_METRICS_DOC);
  for (const auto& stat : kBalloonStats) {
    INFO(stat.suffix);
    CHECK(text.find("| `" + MemoryStat(stat.suffix) + "` |") !=
          std::string::npos);
  }
  for (const char* suffix :
       {"used_bytes", "reported", "timed_out", "status", "period_seconds"}) {
    INFO(suffix);
    CHECK(text.find("| `" + MemoryStat(suffix)) != std::string::npos);
  }
}

// The troubleshooting page has a section per status, named by its label
// value, and the metric contract lists every value.
TEST_CASE("every stats status is documented", "[mapping][status]") {
  const std::string metrics = ReadFile(LME_METRICS_DOC);
  const std::string troubleshooting = ReadFile(LME_TROUBLESHOOTING_DOC);
  for (const auto name : kStatsStatusNames) {
    INFO(name);
    CHECK(metrics.find("`" + std::string(name) + "`") != std::string::npos);
    CHECK(troubleshooting.find("## `" + std::string(name) + "`") !=
          std::string::npos);
  }
}

// A running guest that had reported, in the given status.
DomainMemory WithStatus(std::string name, StatsStatus status,
                        std::optional<std::uint64_t> period = 10) {
  MemoryStats stats;
  std::uint64_t raw = 1000;
  for (const auto& stat : kBalloonStats) stats.*stat.member = raw++;
  stats.unused_kib = 500;
  std::string uuid = "u-" + name;
  DomainMemory domain = Running(std::move(name), std::move(uuid), stats);
  domain.stats_status = status;
  domain.stats_period_seconds = period;
  return domain;
}

TEST_CASE("the guest-side stats are the guest driver's, and only those",
          "[mapping][status]") {
  // Spelled out here: what QEMU and libvirt know without the guest.
  const std::set<std::string> host_side = {"current_balloon_bytes",
                                           "maximum_bytes", "rss_bytes",
                                           "last_update_timestamp_seconds"};
  for (const auto& stat : kBalloonStats) {
    INFO(stat.suffix);
    CHECK((stat.origin == StatOrigin::kHost) ==
          (host_side.count(std::string(stat.suffix)) > 0));
  }
}

TEST_CASE("a stale or unpolled guest keeps only its host-side series",
          "[mapping][status]") {
  for (StatsStatus status : {StatsStatus::kStale, StatsStatus::kNoStatsPeriod,
                             StatsStatus::kNotReporting}) {
    INFO(StatusName(status));
    const DomainMemory domain = WithStatus("vm", status);
    const auto families = ToMetricFamilies(BuildMemoryFamilies({domain}));
    for (const auto& stat : kBalloonStats) {
      INFO(stat.suffix);
      const bool present = Find(families, MemoryStat(stat.suffix)) != nullptr;
      CHECK(present == (stat.origin == StatOrigin::kHost));
    }
    CHECK(Find(families, MemoryStat("used_bytes")) == nullptr);
    CHECK(Find(families, MemoryStat("reported"))->metric[0].gauge.value == 0);
    CHECK(Find(families, MemoryStat("last_update_timestamp_seconds"))
              ->metric[0]
              .gauge.value ==
          static_cast<double>(*domain.stats.last_update_seconds));
    // What counts now has no bogus report to warn about either.
    CHECK_FALSE(CurrentStats(domain).available_kib.has_value());
    CHECK(CurrentStats(domain).rss_kib == domain.stats.rss_kib);
  }
}

TEST_CASE("a reporting guest keeps every series", "[mapping][status]") {
  const auto families = ToMetricFamilies(
      BuildMemoryFamilies({WithStatus("vm", StatsStatus::kReporting)}));
  for (const auto& stat : kBalloonStats) {
    INFO(stat.suffix);
    CHECK(Find(families, MemoryStat(stat.suffix)) != nullptr);
  }
  CHECK(Find(families, MemoryStat("used_bytes")) != nullptr);
  CHECK(Find(families, MemoryStat("reported"))->metric[0].gauge.value == 1);
}

TEST_CASE("one status series per active domain, with its period",
          "[mapping][status]") {
  DomainMemory off = WithStatus("off", StatsStatus::kReporting);
  off.active = false;
  off.state = "shutoff";
  off.stats_status.reset();
  off.stats_period_seconds.reset();
  const auto families = ToMetricFamilies(BuildMemoryFamilies(
      {WithStatus("web", StatsStatus::kReporting, 10),
       WithStatus("appliance", StatsStatus::kNoBalloon, std::nullopt),
       WithStatus("quiet", StatsStatus::kNoStatsPeriod, 0), off}));
  const MetricFamily* status = Find(families, MemoryStat("status"));
  REQUIRE(status != nullptr);
  CHECK(status->type == MetricType::Gauge);
  REQUIRE(status->metric.size() == 3);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"appliance", "no_balloon"},
      {"quiet", "no_stats_period"},
      {"web", "reporting"}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto& metric = status->metric[i];
    CHECK(metric.gauge.value == 1);
    REQUIRE(metric.label.size() == 3);
    CHECK(metric.label[0].name == "domain");
    CHECK(metric.label[0].value == expected[i].first);
    CHECK(metric.label[1].name == "status");
    CHECK(metric.label[1].value == expected[i].second);
    CHECK(metric.label[2].name == "uuid");
  }
  // Absent for the domain without a balloon device.
  const MetricFamily* period = Find(families, MemoryStat("period_seconds"));
  REQUIRE(period != nullptr);
  CHECK(DomainsIn(*period) == std::vector<std::string>{"quiet", "web"});
  CHECK(period->metric[0].gauge.value == 0);
  CHECK(period->metric[1].gauge.value == 10);
}

TEST_CASE("a timestamp of 0 means never and is left out", "[mapping]") {
  MemoryStats stats;
  stats.last_update_seconds = 0;
  CHECK(
      Find(ToMetricFamilies(BuildMemoryFamilies({Running("vm", "u1", stats)})),
           "last_update_timestamp_seconds") == nullptr);
}

TEST_CASE("domains come out ordered by name then UUID", "[mapping]") {
  const auto families = ToMetricFamilies(
      BuildMemoryFamilies({Running("zeta", "2", Reporting(2, 1)),
                           Running("alpha", "9", Reporting(2, 1)),
                           Running("mid", "1", MemoryStats{}),
                           Running("alpha", "3", Reporting(2, 1))}));
  const MetricFamily* available = Find(families, MemoryStat("available_bytes"));
  REQUIRE(available != nullptr);
  CHECK(DomainsIn(*available) ==
        std::vector<std::string>{"alpha", "alpha", "zeta"});
  CHECK(available->metric[0].label[1].value == "3");
  const MetricFamily* reported = Find(families, MemoryStat("reported"));
  REQUIRE(reported != nullptr);
  CHECK(DomainsIn(*reported) ==
        std::vector<std::string>{"alpha", "alpha", "mid", "zeta"});
}

TEST_CASE("no domains, no memory families", "[mapping]") {
  CHECK(ToMetricFamilies(BuildMemoryFamilies({})).empty());
}

TEST_CASE("hostile domain names are escaped in the exposition", "[mapping]") {
  const auto text = Serialize(ToMetricFamilies(BuildMemoryFamilies(
      {Running("quote\"back\\slash", "u1", Reporting(2, 1)),
       Running("new\nline", "u2", Reporting(2, 1)),
       Running("ünïcødé-гость-客人", "u3", Reporting(2, 1))})));
  CHECK(text.find(R"(domain="quote\"back\\slash")") != std::string::npos);
  CHECK(text.find(R"(domain="new\nline")") != std::string::npos);
  CHECK(text.find("domain=\"ünïcødé-гость-客人\"") != std::string::npos);
  // Every line is a comment or a sample: the newline did not split one.
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    INFO(line);
    const bool comment_or_sample =
        line.rfind("# ", 0) == 0 || line.rfind(kMemoryStatsPrefix, 0) == 0;
    CHECK(comment_or_sample);
  }
}

}  // namespace
}  // namespace lme
