// What gzip costs at each level on a real exposition: compresses a body the
// exporter served (saved by bench/gzip_bench.py) in the 64 KiB pieces the
// server compresses, with the server's own GzipStream, and prints per level
// the compressed size and the CPU time of one answer (median of ROUNDS).
//
//   lme-gzip-cost FILE [ROUNDS]
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "web/gzip.h"

namespace {

constexpr std::size_t kPieceSize = 64 * 1024;  // as core/exposition.cc

double CpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + now.tv_nsec / 1e9;
}

std::size_t CompressOnce(std::string_view body, int level, std::string& out) {
  lme::GzipStream stream(level);
  std::size_t total = 0;
  for (std::size_t at = 0; at < body.size(); at += kPieceSize) {
    out.clear();
    const bool last = at + kPieceSize >= body.size();
    stream.Compress(body.substr(at, kPieceSize), last, out);
    total += out.size();
  }
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: lme-gzip-cost FILE [ROUNDS]\n");
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  const std::string body{std::istreambuf_iterator<char>(in), {}};
  if (body.empty()) {
    std::fprintf(stderr, "lme-gzip-cost: %s is empty or unreadable\n", argv[1]);
    return 1;
  }
  const int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 9;
  std::string out;
  std::printf(
      "| level | bytes | of plain | CPU ms per answer |\n|---|---|---|---|\n");
  std::printf("| none | %zu | 100 %% | 0 |\n", body.size());
  for (int level : {1, 2, 4, 6, 9}) {
    std::vector<double> times;
    std::size_t bytes = 0;
    for (int i = 0; i < rounds; ++i) {
      const double start = CpuSeconds();
      bytes = CompressOnce(body, level, out);
      times.push_back(CpuSeconds() - start);
    }
    std::sort(times.begin(), times.end());
    std::printf(
        "| %d | %zu | %.1f %% | %.1f |\n", level, bytes,
        100.0 * static_cast<double>(bytes) / static_cast<double>(body.size()),
        times[times.size() / 2] * 1000);
  }
  return 0;
}
