// The stats status of a guest as a pure decision: every branch, the stale
// threshold at its edges, and when a status must be confirmed by reading the
// definition again. Times are made up.
#include "core/stats_status.h"

#include <set>
#include <string>

#include "catch_compat.h"

namespace lme {
namespace {

using std::chrono::seconds;

constexpr std::uint64_t kReportedAt = 1'700'000'000;
const WallTime kReportTime{seconds(kReportedAt)};

BalloonConfig Balloon(std::uint64_t period, bool real_times = true) {
  BalloonConfig balloon;
  balloon.device = true;
  balloon.period_seconds = period;
  balloon.real_report_times = real_times;
  return balloon;
}

// A running guest that reported at kReportedAt, looked at `age` later.
StatusInputs Reported(BalloonConfig balloon, Seconds age) {
  StatusInputs inputs;
  inputs.balloon = balloon;
  inputs.fields_present = true;
  inputs.last_update = kReportedAt;
  inputs.now = kReportTime + std::chrono::duration_cast<seconds>(age);
  inputs.state = "running";
  return inputs;
}

TEST_CASE("every status has its own label value", "[status]") {
  std::set<std::string> names;
  for (auto name : kStatsStatusNames) names.emplace(name);
  CHECK(names.size() == std::size(kStatsStatusNames));
  CHECK(StatusName(StatsStatus::kReporting) == "reporting");
  CHECK(StatusName(StatsStatus::kNoBalloon) == "no_balloon");
  CHECK(StatusName(StatsStatus::kNoStatsPeriod) == "no_stats_period");
  CHECK(StatusName(StatsStatus::kNotReporting) == "not_reporting");
  CHECK(StatusName(StatsStatus::kStale) == "stale");
}

TEST_CASE("a guest that reported recently is reporting", "[status]") {
  CHECK(DecideStatsStatus(Reported(Balloon(10), Seconds(3))) ==
        StatsStatus::kReporting);
}

TEST_CASE("without a balloon device: no_balloon, whatever came back",
          "[status]") {
  StatusInputs inputs = Reported(Balloon(10), Seconds(1));
  inputs.balloon->device = false;
  CHECK(DecideStatsStatus(inputs) == StatsStatus::kNoBalloon);
  inputs.fields_present = false;
  inputs.last_update.reset();
  CHECK(DecideStatsStatus(inputs) == StatsStatus::kNoBalloon);
}

TEST_CASE("period 0: no_stats_period, even with values left from before",
          "[status]") {
  // QEMU keeps the last report when polling stops: fresh-looking numbers.
  CHECK(DecideStatsStatus(Reported(Balloon(0), Seconds(1))) ==
        StatsStatus::kNoStatsPeriod);
  StatusInputs never = Reported(Balloon(0), Seconds(1));
  never.fields_present = false;
  never.last_update = 0;
  CHECK(DecideStatsStatus(never) == StatsStatus::kNoStatsPeriod);
}

TEST_CASE("device and period but no guest fields: not_reporting", "[status]") {
  StatusInputs inputs = Reported(Balloon(10), Seconds(1));
  inputs.fields_present = false;
  inputs.last_update = 0;  // QEMU: the guest never answered
  CHECK(DecideStatsStatus(inputs) == StatsStatus::kNotReporting);
  inputs.last_update.reset();
  CHECK(DecideStatsStatus(inputs) == StatsStatus::kNotReporting);
}

TEST_CASE("the stale threshold is three periods plus 10 s", "[status]") {
  CHECK(StaleAfter(10) == Seconds(40));
  CHECK(StaleAfter(2) == Seconds(16));
  CHECK(StaleAfter(1) == Seconds(13));
  CHECK(StaleAfter(60) == Seconds(190));
}

TEST_CASE("a report older than the threshold is stale, not one second before",
          "[status]") {
  for (std::uint64_t period : {1, 2, 10, 60, 300}) {
    INFO("period " << period);
    const Seconds threshold = StaleAfter(period);
    CHECK(DecideStatsStatus(Reported(Balloon(period), threshold)) ==
          StatsStatus::kReporting);
    CHECK(DecideStatsStatus(Reported(
              Balloon(period), threshold + Seconds(1))) == StatsStatus::kStale);
  }
}

TEST_CASE("a busy guest that is late by a period or two is not stale",
          "[status]") {
  // QEMU asks again one period after the last answer; a guest that needs a
  // period to answer, twice in a row, has a report about three periods old.
  CHECK(DecideStatsStatus(Reported(Balloon(10), Seconds(3 * 10 + 9))) ==
        StatsStatus::kReporting);
  CHECK(DecideStatsStatus(Reported(Balloon(2), Seconds(3 * 2 + 9))) ==
        StatsStatus::kReporting);
}

TEST_CASE("only a running guest goes stale", "[status]") {
  for (const char* state : {"running", "blocked", "shutdown"}) {
    INFO(state);
    StatusInputs inputs = Reported(Balloon(10), Seconds(3600));
    inputs.state = state;
    CHECK(DecideStatsStatus(inputs) == StatsStatus::kStale);
  }
  // Its memory does not change, so its last report is as good as new.
  for (const char* state :
       {"paused", "pmsuspended", "crashed", "nostate", "unknown", ""}) {
    INFO(state);
    StatusInputs inputs = Reported(Balloon(10), Seconds(3600));
    inputs.state = state;
    CHECK(DecideStatsStatus(inputs) == StatsStatus::kReporting);
  }
}

TEST_CASE("a driver without real report times never makes a guest stale",
          "[status]") {
  // libvirt's test driver: last_update is 627319920 (1989) for everyone.
  StatusInputs inputs = Reported(Balloon(10, false), Seconds(0));
  inputs.last_update = 627319920;
  CHECK(DecideStatsStatus(inputs) == StatsStatus::kReporting);
  // The other statuses do not depend on the report time.
  inputs.balloon->period_seconds = 0;
  CHECK(DecideStatsStatus(inputs) == StatsStatus::kNoStatsPeriod);
}

TEST_CASE("without a time of the last report there is no staleness",
          "[status]") {
  StatusInputs inputs = Reported(Balloon(10), Seconds(3600));
  inputs.last_update.reset();  // libvirt before 2.1
  CHECK(DecideStatsStatus(inputs) == StatsStatus::kReporting);
  inputs.last_update = 0;
  CHECK(DecideStatsStatus(inputs) == StatsStatus::kReporting);
}

TEST_CASE("a report stamped in the future is not stale", "[status]") {
  // A remote host whose clock is ahead of the exporter's.
  StatusInputs inputs = Reported(Balloon(10), Seconds(0));
  inputs.now = kReportTime - seconds(3600);
  CHECK(DecideStatsStatus(inputs) == StatsStatus::kReporting);
}

TEST_CASE("an unknown definition: the stats alone decide", "[status]") {
  StatusInputs inputs = Reported(Balloon(10), Seconds(3600));
  inputs.balloon.reset();
  CHECK(DecideStatsStatus(inputs) == StatsStatus::kReporting);
  inputs.fields_present = false;
  CHECK(DecideStatsStatus(inputs) == StatsStatus::kNotReporting);
}

TEST_CASE("reporting and no_balloon need no confirmation", "[status]") {
  CHECK_FALSE(NeedsConfirmation(StatsStatus::kReporting, std::nullopt, 5));
  CHECK_FALSE(NeedsConfirmation(StatsStatus::kNoBalloon, std::nullopt, 5));
  CHECK_FALSE(NeedsConfirmation(StatsStatus::kNoBalloon,
                                StatusMemory{StatsStatus::kReporting, 5}, 5));
}

TEST_CASE("a domain turning to another status is confirmed at once",
          "[status]") {
  // The period set to 0 live looks like a stale guest until the definition
  // is read again.
  for (StatsStatus status : {StatsStatus::kStale, StatsStatus::kNoStatsPeriod,
                             StatsStatus::kNotReporting}) {
    INFO(StatusName(status));
    CHECK(NeedsConfirmation(status, std::nullopt, 5));
    CHECK(
        NeedsConfirmation(status, StatusMemory{StatsStatus::kReporting, 5}, 5));
  }
  CHECK(NeedsConfirmation(StatsStatus::kStale,
                          StatusMemory{StatsStatus::kNotReporting, 0}, 5));
}

TEST_CASE("a status that stays is not confirmed again", "[status]") {
  for (StatsStatus status : {StatsStatus::kStale, StatsStatus::kNoStatsPeriod,
                             StatsStatus::kNotReporting}) {
    INFO(StatusName(status));
    CHECK_FALSE(NeedsConfirmation(status, StatusMemory{status, 5}, 5));
  }
  CHECK_FALSE(NeedsConfirmation(StatsStatus::kNotReporting,
                                StatusMemory{StatsStatus::kNotReporting, 0},
                                0));
}

TEST_CASE("a new report while the period was 0 is confirmed", "[status]") {
  // Polling does not resume by itself: someone set a period again.
  CHECK(NeedsConfirmation(StatsStatus::kNoStatsPeriod,
                          StatusMemory{StatsStatus::kNoStatsPeriod, 5}, 7));
  CHECK(NeedsConfirmation(StatsStatus::kNoStatsPeriod,
                          StatusMemory{StatsStatus::kNoStatsPeriod, 0}, 7));
}

}  // namespace
}  // namespace lme
