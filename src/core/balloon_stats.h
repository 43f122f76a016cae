// The rows of core/balloon_stat_list.h as data, for code that walks every
// stat: the parsers, the families, the tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/memory_stats.h"
#include "core/metric_set.h"

namespace lme {

enum class StatUnit { kKib, kCount, kTimestamp };

// Who knows the value: the guest's balloon driver, or the host (libvirt,
// QEMU) without the guest. Guest values count only while the guest's stats
// status is `reporting` (core/stats_status.h).
enum class StatOrigin { kGuest, kHost };

struct BalloonStat {
  std::optional<std::uint64_t> MemoryStats::*member;
  // virDomainMemoryStats reports it (src/libvirt maps the tag to `name`).
  bool has_tag;
  std::string_view name;
  std::string_view bulk_name;  // after "balloon." in a bulk stats record
  std::string_view suffix;     // after kMemoryStatsPrefix
  MetricType type;
  StatUnit unit;
  StatOrigin origin;
  std::string_view help;
};

// clang-format off
#define LME_TAG(tag) true
#define LME_NO_TAG false
#define LME_STAT_ROW(member, tag, name, bulk_name, suffix, type, unit, origin, \
                     help)                                                    \
  BalloonStat{&MemoryStats::member, tag, name, bulk_name, suffix,             \
              MetricType::type, StatUnit::k##unit, StatOrigin::k##origin,     \
              help},
// clang-format on
inline constexpr BalloonStat kBalloonStats[] = {
    LME_BALLOON_STATS(LME_STAT_ROW, LME_IGNORE_ROW)};
#undef LME_STAT_ROW
#undef LME_NO_TAG
#undef LME_TAG

// libvirt reports memory in KiB; Prometheus wants base units.
inline double KibToBytes(std::uint64_t kib) {
  return static_cast<double>(kib) * 1024;
}

// A raw value in the exported unit; empty when libvirt did not send it, or
// for a timestamp of 0 (libvirt's "the guest never reported").
std::optional<double> ToExportedUnit(StatUnit unit,
                                     const std::optional<std::uint64_t>& raw);

// The row with that virDomainMemoryStats name, or bulk record field name
// (without "balloon."); null for names no row has.
const BalloonStat* FindStatByName(std::string_view name);
const BalloonStat* FindStatByBulkName(std::string_view bulk_name);

}  // namespace lme
