#include "web/self_metrics.h"

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "catch_compat.h"
#include "core/exposition.h"

namespace lme {
namespace {

TEST_CASE("proc stat lines, command names with spaces and parentheses",
          "[self_metrics]") {
  const auto stat = ParseProcStat(
      "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 "
      "9 0 123456 987654321 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 "
      "0 17 1 0 0 0 0 0\n");
  REQUIRE(stat.has_value());
  CHECK(stat->utime == 250);
  CHECK(stat->stime == 75);
  CHECK(stat->starttime == 123456);
  CHECK(stat->vsize == 987654321);
  CHECK(stat->rss == 2048);
  CHECK_FALSE(ParseProcStat("4242 (a) S 1 2 3").has_value());
  CHECK_FALSE(ParseProcStat("no parenthesis").has_value());
  CHECK(ParseBootTime("cpu 1 2\nbtime 1764000000\nprocesses 9\n") ==
        1764000000.0);
  CHECK_FALSE(ParseBootTime("cpu 1 2\n").has_value());
}

std::string StatusField(const std::string& name) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + ":", 0) == 0) return line.substr(name.size() + 1);
  }
  return "";
}

TEST_CASE("process stats agree with /proc/self", "[self_metrics]") {
  const auto stats = ReadProcessStats();
  REQUIRE(stats.has_value());
  const double rss_kib = std::stod(StatusField("VmRSS"));
  const double vm_kib = std::stod(StatusField("VmSize"));
  CHECK(stats->resident_bytes == Approx(rss_kib * 1024).epsilon(0.2));
  CHECK(stats->virtual_bytes == Approx(vm_kib * 1024).epsilon(0.05));
  rlimit files{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &files) == 0);
  CHECK(stats->max_fds == static_cast<double>(files.rlim_cur));
  std::size_t fds = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)entry;
    ++fds;
  }
  CHECK(std::fabs(stats->open_fds - static_cast<double>(fds)) <= 1);
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  // The test process started in the last hour, not in the future.
  CHECK(stats->start_time_seconds <= static_cast<double>(now.tv_sec) + 1);
  CHECK(stats->start_time_seconds > static_cast<double>(now.tv_sec) - 3600);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double cpu =
      static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
      (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  CHECK(std::fabs(stats->cpu_seconds - cpu) < 0.1);
}

TEST_CASE("self metrics have client_golang's names", "[self_metrics]") {
  ProcessStats process;
  process.cpu_seconds = 1.5;
  process.virtual_max_bytes = 18446744073709551615.0;
  HandlerStats handler;
  handler.in_flight = 1;
  handler.requests_by_code = {{200, 7}, {500, 0}, {503, 2}};
  const std::string text = RenderExposition(SelfMetrics(process, handler));
  for (const char* line :
       {"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total "
        "1.5\n",
        // 2^64 as a double (Go writes 1.8446744073709552e+19: the same value).
        "process_virtual_memory_max_bytes 18446744073709551616\n",
        "# TYPE process_start_time_seconds gauge\n", "process_open_fds 0\n",
        "process_max_fds 0\n", "process_resident_memory_bytes 0\n",
        "process_virtual_memory_bytes 0\n",
        "promhttp_metric_handler_requests_in_flight 1\n",
        "# TYPE promhttp_metric_handler_requests_total counter\n"
        "promhttp_metric_handler_requests_total{code=\"200\"} 7\n"
        "promhttp_metric_handler_requests_total{code=\"500\"} 0\n"
        "promhttp_metric_handler_requests_total{code=\"503\"} 2\n"}) {
    INFO(line);
    CHECK(text.find(line) != std::string::npos);
  }
  const std::string without = RenderExposition(SelfMetrics({}, handler));
  CHECK(without.find("process_") == std::string::npos);
}

}  // namespace
}  // namespace lme
