#include "core/stats_parsing.h"

#include "catch_compat.h"

namespace lme {
namespace {

TEST_CASE("virDomainMemoryStats fields land in their slots", "[parsing]") {
  const MemoryStats stats =
      ParseMemoryStatFields({{"available", 1000},
                             {"unused", 400},
                             {"usable", 500},
                             {"disk_caches", 90},
                             {"current", 1024},
                             {"rss", 700},
                             {"swap_in", 1},
                             {"swap_out", 2},
                             {"major_fault", 3},
                             {"minor_fault", 4},
                             {"hugetlb_pgalloc", 5},
                             {"hugetlb_pgfail", 6},
                             {"last_update", 1700000000}});
  CHECK(stats.available_kib == 1000u);
  CHECK(stats.unused_kib == 400u);
  CHECK(stats.usable_kib == 500u);
  CHECK(stats.disk_caches_kib == 90u);
  CHECK(stats.current_balloon_kib == 1024u);
  CHECK(stats.rss_kib == 700u);
  CHECK(stats.swap_in_kib == 1u);
  CHECK(stats.swap_out_kib == 2u);
  CHECK(stats.major_faults == 3u);
  CHECK(stats.minor_faults == 4u);
  CHECK(stats.hugetlb_pgalloc == 5u);
  CHECK(stats.hugetlb_pgfail == 6u);
  CHECK(stats.last_update_seconds == 1700000000u);
  CHECK_FALSE(stats.maximum_kib.has_value());
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

TEST_CASE("bulk balloon names map to the short names", "[parsing]") {
  CHECK(BalloonFieldShortName("balloon.unused") == "unused");
  CHECK(BalloonFieldShortName("balloon.last-update") == "last_update");
  CHECK(BalloonFieldShortName("balloon.current") == "current");
  CHECK(BalloonFieldShortName("balloon.") == "");
  CHECK(BalloonFieldShortName("vcpu.current").empty());
  CHECK(BalloonFieldShortName("balloo").empty());
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
