#include "core/duration.h"

#include "catch_compat.h"

namespace lme {
namespace {

TEST_CASE("Go-style durations parse", "[duration]") {
  CHECK(ParseDuration("9s")->count() == Approx(9));
  CHECK(ParseDuration("500ms")->count() == Approx(0.5));
  CHECK(ParseDuration("1m30s")->count() == Approx(90));
  CHECK(ParseDuration("2h")->count() == Approx(7200));
  CHECK(ParseDuration("24h")->count() == Approx(86400));
  for (const char* bad : {"", "9", "s", "0s", "-1s", "1.5s", "9 s", "9sec",
                          "1d", "99999999999s", "25h", "3000000h"}) {
    INFO(bad);
    CHECK_FALSE(ParseDuration(bad).has_value());
  }
}

TEST_CASE("the scraper's timeout sets the budget, less the offset",
          "[duration]") {
  const Seconds configured(9.5);
  const Seconds offset(0.5);
  CHECK(CollectionBudget(std::nullopt, configured, offset).count() ==
        Approx(9.5));
  CHECK(CollectionBudget(10.0, configured, offset).count() == Approx(9.5));
  CHECK(CollectionBudget(30.0, configured, offset).count() == Approx(29.5));
  // A tiny timeout keeps half of itself rather than nothing.
  CHECK(CollectionBudget(0.6, configured, offset).count() == Approx(0.3));
  for (double bad : {0.0, -3.0, 1e9}) {
    INFO(bad);
    CHECK(CollectionBudget(bad, configured, offset).count() == Approx(9.5));
  }
}

}  // namespace
}  // namespace lme
