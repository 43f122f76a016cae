// The Prometheus text exposition format (version 0.0.4), written in one pass.
// prometheus-cpp's TextSerializer goes through an ostream and printf-style
// double formatting, which cost about 1 µs per series: over half of a
// scrape's CPU at 5000 domains (docs/benchmarks.md).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/metric_set.h"

namespace lme {

// Receives the text piece by piece, each piece at most about 64 KiB.
using TextSink = std::function<void(std::string_view piece)>;

// The same text in pieces on demand, so that a server can write one piece,
// wait until the client has taken it, and only then make the next: a slow
// reader holds no thread and no copy of the whole text. `set` must outlive
// the writer.
class ExpositionWriter {
 public:
  explicit ExpositionWriter(const MetricSet& set) : set_(set) {}

  // Appends the next piece (about 64 KiB, or what is left) to `out`; false,
  // appending nothing, once the whole text has been written.
  bool Next(std::string& out);

 private:
  const MetricSet& set_;
  std::size_t family_ = 0;
  std::size_t sample_ = 0;
  bool header_written_ = false;
};

// The sets' text one after the other, piece by piece (each call appends the
// next piece to `out`; false once all is written); it keeps the sets alive.
std::function<bool(std::string& out)> ExpositionPieces(
    std::vector<std::shared_ptr<const MetricSet>> sets);

// Writes the families exactly as TextSerializer would (gauges, counters and
// untyped samples: the only types this exporter uses), except that HELP is
// escaped and values read back as the same double. In pieces, so a scrape
// never holds the whole text (about 10 MiB at 5000 domains).
void WriteExposition(const MetricSet& set, const TextSink& sink);

// The whole text at once, for tests and golden files.
std::string RenderExposition(const MetricSet& set);

}  // namespace lme
