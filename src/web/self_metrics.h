// The exporter's own metrics, with the names and meaning of client_golang's
// process collector and promhttp's handler instrumentation, so that the
// dashboards operators have for every Go exporter work here too.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/metric_set.h"
#include "web/http_server.h"

namespace lme {

struct ProcessStats {
  double cpu_seconds = 0;
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double virtual_max_bytes = 0;  // the address-space limit; 2^64-1: none
  double open_fds = 0;
  double max_fds = 0;
  double start_time_seconds = 0;  // since the Unix epoch
};

// The fields of /proc/self/stat that client_golang reads: utime and stime
// (clock ticks), starttime (ticks after boot), vsize (bytes) and rss
// (pages). Empty for a malformed line.
struct ProcStat {
  std::uint64_t utime = 0, stime = 0, starttime = 0, vsize = 0, rss = 0;
};
std::optional<ProcStat> ParseProcStat(std::string_view line);
// "btime" of /proc/stat: boot time in seconds since the epoch.
std::optional<double> ParseBootTime(std::string_view proc_stat);

// Reads /proc/self and the process's limits. Empty when /proc is not there.
std::optional<ProcessStats> ReadProcessStats();

// process_* (when stats are given) and promhttp_metric_handler_*.
MetricSet SelfMetrics(const std::optional<ProcessStats>& process,
                      const HandlerStats& handler);

}  // namespace lme
