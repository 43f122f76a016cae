#include "core/stats_parsing.h"

#include <set>
#include <string>

#include "catch_compat.h"

namespace lme {
namespace {

TEST_CASE("virDomainMemoryStats fields land in their slots", "[parsing]") {
  StatFields fields;
  std::uint64_t value = 1000;
  for (const auto& stat : kBalloonStats) {
    fields.push_back({std::string(stat.name), value++});
  }
  const MemoryStats stats = ParseMemoryStatFields(fields);
  value = 1000;
  for (const auto& stat : kBalloonStats) {
    INFO(stat.name);
    CHECK(stats.*stat.member == value++);
  }
  // Spot checks that the table's names are libvirt's.
  CHECK(ParseMemoryStatFields({{"current", 7}}).current_balloon_kib == 7u);
  CHECK(ParseMemoryStatFields({{"last_update", 8}}).last_update_seconds == 8u);
}

TEST_CASE("fields libvirt did not send stay absent, not zero", "[parsing]") {
  const MemoryStats stats = ParseMemoryStatFields({{"rss", 4096}});
  CHECK(stats.rss_kib == 4096u);
  CHECK_FALSE(stats.available_kib.has_value());
  CHECK_FALSE(stats.unused_kib.has_value());
  CHECK_FALSE(stats.usable_kib.has_value());
  CHECK_FALSE(stats.last_update_seconds.has_value());
}

TEST_CASE("unknown field names are ignored", "[parsing]") {
  MemoryStats stats;
  CHECK_FALSE(ApplyStatField({"some_future_stat", 7}, stats));
  CHECK(ApplyStatField({"unused", 7}, stats));
  CHECK(stats.unused_kib == 7u);
}

TEST_CASE("bulk balloon names map to their stats", "[parsing]") {
  for (const auto& stat : kBalloonStats) {
    INFO(stat.name);
    CHECK(BalloonFieldStat("balloon." + std::string(stat.bulk_name)) == &stat);
  }
  CHECK(BalloonFieldStat("balloon.last-update")->name == "last_update");
  CHECK(BalloonFieldStat("balloon.current")->name == "current");
  CHECK(BalloonFieldStat("balloon.") == nullptr);
  CHECK(BalloonFieldStat("balloon.some-future-stat") == nullptr);
  CHECK(BalloonFieldStat("vcpu.current") == nullptr);
  CHECK(BalloonFieldStat("balloo") == nullptr);
}

TEST_CASE("every row has its own names and metric", "[parsing]") {
  std::set<std::string_view> names, bulk_names, suffixes;
  for (const auto& stat : kBalloonStats) {
    INFO(stat.name);
    CHECK(names.insert(stat.name).second);
    CHECK(bulk_names.insert(stat.bulk_name).second);
    CHECK(suffixes.insert(stat.suffix).second);
    CHECK_FALSE(stat.help.empty());
    const bool total = stat.suffix.size() > 6 &&
                       stat.suffix.substr(stat.suffix.size() - 6) == "_total";
    CHECK(total == (stat.type == MetricType::Counter));
    if (stat.unit == StatUnit::kKib) {
      CHECK(stat.suffix.find("bytes") != std::string_view::npos);
    }
  }
}

TEST_CASE("a bulk record is parsed from its balloon fields only", "[parsing]") {
  const StatFields record = {{"state.state", 1},
                             {"balloon.current", 131072},
                             {"balloon.maximum", 262144},
                             {"balloon.available", 94928},
                             {"balloon.unused", 35704},
                             {"balloon.usable", 41320},
                             {"balloon.last-update", 1764000000},
                             {"balloon.rss", 200000}};
  REQUIRE(HasBalloonFields(record));
  const MemoryStats stats = ParseBalloonRecord(record);
  CHECK(stats.current_balloon_kib == 131072u);
  CHECK(stats.maximum_kib == 262144u);
  CHECK(stats.available_kib == 94928u);
  CHECK(stats.unused_kib == 35704u);
  CHECK(stats.usable_kib == 41320u);
  CHECK(stats.last_update_seconds == 1764000000u);
  CHECK(stats.rss_kib == 200000u);
}

TEST_CASE("a record without balloon fields asks for the fallback",
          "[parsing]") {
  CHECK_FALSE(HasBalloonFields({}));
  CHECK_FALSE(HasBalloonFields({{"state.state", 1}, {"vcpu.current", 2}}));
  CHECK(HasBalloonFields({{"balloon.current", 1}}));
}

}  // namespace
}  // namespace lme
