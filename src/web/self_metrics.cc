#include "web/self_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

namespace lme {
namespace {

std::optional<std::string> ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string_view> Fields(std::string_view text) {
  std::vector<std::string_view> fields;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t start = text.find_first_not_of(" \n", at);
    if (start == std::string_view::npos) break;
    const std::size_t end = text.find_first_of(" \n", start);
    fields.push_back(text.substr(start, end - start));
    at = end == std::string_view::npos ? text.size() : end;
  }
  return fields;
}

std::optional<std::uint64_t> Unsigned(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

// The soft limit as procfs reports it: "unlimited" is 2^64-1.
double SoftLimit(int resource) {
  rlimit limit{};
  if (getrlimit(resource, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return static_cast<double>(std::numeric_limits<std::uint64_t>::max());
  }
  return static_cast<double>(limit.rlim_cur);
}

double OpenFds() {
  std::error_code error;
  double count = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", error), end;
       !error && it != end; it.increment(error)) {
    ++count;
  }
  // The iterator's own descriptor is counted too, as procfs counts its own.
  return count;
}

}  // namespace

std::optional<ProcStat> ParseProcStat(std::string_view line) {
  // The command name is in parentheses and may hold spaces and ')': the
  // fields start after the last ')'.
  const std::size_t paren = line.rfind(')');
  if (paren == std::string_view::npos) return std::nullopt;
  const auto fields = Fields(line.substr(paren + 1));
  // fields[0] is field 3 of proc(5) (state).
  if (fields.size() < 22) return std::nullopt;
  const auto utime = Unsigned(fields[11]), stime = Unsigned(fields[12]),
             start = Unsigned(fields[19]), vsize = Unsigned(fields[20]),
             rss = Unsigned(fields[21]);
  if (!utime || !stime || !start || !vsize || !rss) return std::nullopt;
  return ProcStat{*utime, *stime, *start, *vsize, *rss};
}

std::optional<double> ParseBootTime(std::string_view proc_stat) {
  const std::size_t at = proc_stat.find("\nbtime ");
  if (at == std::string_view::npos) return std::nullopt;
  const auto fields = Fields(proc_stat.substr(at + 7, 32));
  if (fields.empty()) return std::nullopt;
  const auto value = Unsigned(fields.front());
  if (!value) return std::nullopt;
  return static_cast<double>(*value);
}

std::optional<ProcessStats> ReadProcessStats() {
  const auto stat_line = ReadFile("/proc/self/stat");
  const auto system_stat = ReadFile("/proc/stat");
  if (!stat_line || !system_stat) return std::nullopt;
  const auto stat = ParseProcStat(*stat_line);
  const auto boot = ParseBootTime(*system_stat);
  if (!stat || !boot) return std::nullopt;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  ProcessStats stats;
  stats.cpu_seconds = static_cast<double>(stat->utime + stat->stime) / ticks;
  stats.resident_bytes = static_cast<double>(stat->rss) * page;
  stats.virtual_bytes = static_cast<double>(stat->vsize);
  stats.virtual_max_bytes = SoftLimit(RLIMIT_AS);
  stats.open_fds = OpenFds();
  stats.max_fds = SoftLimit(RLIMIT_NOFILE);
  stats.start_time_seconds =
      *boot + static_cast<double>(stat->starttime) / ticks;
  return stats;
}

MetricSet SelfMetrics(const std::optional<ProcessStats>& process,
                      const HandlerStats& handler) {
  MetricSet set;
  if (process) {
    const auto gauge = [&](const char* name, const char* help, double value) {
      set.AddSingle(name, help, MetricType::Gauge, value);
    };
    set.AddSingle("process_cpu_seconds_total",
                  "Total user and system CPU time spent in seconds.",
                  MetricType::Counter, process->cpu_seconds);
    gauge("process_max_fds", "Maximum number of open file descriptors.",
          process->max_fds);
    gauge("process_open_fds", "Number of open file descriptors.",
          process->open_fds);
    gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
          process->resident_bytes);
    gauge("process_start_time_seconds",
          "Start time of the process since unix epoch in seconds.",
          process->start_time_seconds);
    gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.",
          process->virtual_bytes);
    gauge("process_virtual_memory_max_bytes",
          "Maximum amount of virtual memory available in bytes.",
          process->virtual_max_bytes);
  }
  set.AddSingle("promhttp_metric_handler_requests_in_flight",
                "Current number of scrapes being served.", MetricType::Gauge,
                handler.in_flight);
  Family requests = MakeFamily("promhttp_metric_handler_requests_total",
                               "Total number of scrapes by HTTP status code.",
                               MetricType::Counter);
  for (const auto& [code, count] : handler.requests_by_code) {
    set.AddSample(requests, {{"code", std::to_string(code)}},
                  static_cast<double>(count));
  }
  set.Add(std::move(requests));
  return set;
}

}  // namespace lme
