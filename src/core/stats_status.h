// Why a guest has memory stats or not, and whether the ones it has are still
// current: the decision behind libvirt_domain_memory_stats_status. Pure: the
// caller passes the domain's balloon configuration, what libvirt returned
// and the time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/duration.h"

namespace lme {

enum class StatsStatus {
  kReporting,      // the guest's driver reported, recently enough
  kNoBalloon,      // no balloon device: the fix is in the domain definition
  kNoStatsPeriod,  // a device, but stats polling is off (period 0)
  kNotReporting,   // device and period, but the guest never reported
  kStale,          // reported once, not for longer than StaleAfter(period)
};

// The `status` label value of each status, in the enum's order.
inline constexpr std::string_view kStatsStatusNames[] = {
    "reporting", "no_balloon", "no_stats_period", "not_reporting", "stale"};

inline std::string_view StatusName(StatsStatus status) {
  return kStatsStatusNames[static_cast<int>(status)];
}

// What a domain's live definition says about its balloon.
struct BalloonConfig {
  // A balloon device: <memballoon> with a model other than 'none'.
  bool device = false;
  // <stats period='N'/>: QEMU asks the guest for stats every N seconds;
  // 0 (or no <stats>) means it does not ask.
  std::uint64_t period_seconds = 0;
  // The driver stamps last_update with the host's clock when a report
  // arrives (QEMU). libvirt's test driver stamps a constant instead, so
  // the age of its reports says nothing: see DriverStampsReportTimes.
  bool real_report_times = true;
};

using WallTime = std::chrono::system_clock::time_point;

struct StatusInputs {
  // Empty when the definition could not be read: then only what libvirt
  // returned decides (reporting, or not_reporting).
  std::optional<BalloonConfig> balloon;
  // The guest-side fields came back (available and unused).
  bool fields_present = false;
  // Seconds since the epoch of the last report; empty or 0: never.
  std::optional<std::uint64_t> last_update;
  WallTime now;
  // The domain's state as core names it ("running", "paused", ...).
  std::string_view state;
};

// How old the last report may be before a running guest counts as stale:
// three stats periods plus 10 s. QEMU asks the guest again only a period
// after the previous answer arrived, and the guest answers from a kernel
// work item, so a healthy guest's report is up to one period plus its
// answer's delay old; last_update has whole seconds. Three periods let a
// busy guest (CPU-starved, reclaiming memory) miss two rounds, and the 10 s
// keep a short period (1-2 s) from flagging a guest that is only held up
// for a few seconds. Default Nova period 10 s: stale after 40 s.
Seconds StaleAfter(std::uint64_t period_seconds);

// True for states in which the guest's vCPUs run, so its reports keep
// coming: running, blocked (idle) and shutdown (shutting down). A paused,
// suspended or crashed guest's memory does not change, so its last report
// is as good as new; nostate and unknown are not judged.
bool GuestRuns(std::string_view state);

// The status, in this order: no device; period 0 (even with values left
// from before polling stopped); no guest-side fields; a report older than
// StaleAfter(period) while the guest runs and its driver stamps real
// times; else reporting.
StatsStatus DecideStatsStatus(const StatusInputs& inputs);

// What a domain's status was in the last scrape that had its stats.
struct StatusMemory {
  StatsStatus status = StatsStatus::kReporting;
  std::optional<std::uint64_t> last_update;
};

// Whether a status decided from the cached definition must be confirmed
// with a fresh read of the definition before it is exported: a status other
// than `reporting` may come from a live change the cache has not seen (the
// period set to 0 shows as `stale` first), so the definition is read at once
// when a domain turns to such a status, and again when its guest reports
// anew while the period was 0 (the period was set again). no_balloon cannot
// change while the domain runs: a balloon device is not hot-plugged.
bool NeedsConfirmation(StatsStatus from_cache,
                       const std::optional<StatusMemory>& previous,
                       std::optional<std::uint64_t> last_update);

}  // namespace lme
