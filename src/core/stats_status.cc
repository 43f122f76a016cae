#include "core/stats_status.h"

namespace lme {
namespace {

constexpr std::uint64_t kStalePeriods = 3;
constexpr Seconds kStaleSlack{10};

bool IsStale(const BalloonConfig& balloon, const StatusInputs& inputs) {
  if (!balloon.real_report_times || !GuestRuns(inputs.state)) return false;
  // Without a time of the last report (libvirt before 2.1) there is nothing
  // to judge by.
  if (!inputs.last_update || *inputs.last_update == 0) return false;
  const WallTime reported_at{std::chrono::seconds(*inputs.last_update)};
  // A report stamped in the future (a remote host's clock ahead of ours)
  // has a negative age: not stale.
  return inputs.now - reported_at > StaleAfter(balloon.period_seconds);
}

}  // namespace

Seconds StaleAfter(std::uint64_t period_seconds) {
  return Seconds(static_cast<double>(kStalePeriods * period_seconds)) +
         kStaleSlack;
}

bool GuestRuns(std::string_view state) {
  return state == "running" || state == "blocked" || state == "shutdown";
}

StatsStatus DecideStatsStatus(const StatusInputs& inputs) {
  if (!inputs.balloon) {
    return inputs.fields_present ? StatsStatus::kReporting
                                 : StatsStatus::kNotReporting;
  }
  const BalloonConfig& balloon = *inputs.balloon;
  if (!balloon.device) return StatsStatus::kNoBalloon;
  if (balloon.period_seconds == 0) return StatsStatus::kNoStatsPeriod;
  if (!inputs.fields_present) return StatsStatus::kNotReporting;
  if (IsStale(balloon, inputs)) return StatsStatus::kStale;
  return StatsStatus::kReporting;
}

bool NeedsConfirmation(StatsStatus from_cache,
                       const std::optional<StatusMemory>& previous,
                       std::optional<std::uint64_t> last_update) {
  if (from_cache == StatsStatus::kReporting ||
      from_cache == StatsStatus::kNoBalloon) {
    return false;
  }
  if (!previous || previous->status != from_cache) return true;
  return last_update != previous->last_update;
}

}  // namespace lme
