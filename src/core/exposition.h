// The Prometheus text exposition format (version 0.0.4), written in one pass.
// prometheus-cpp's TextSerializer goes through an ostream and printf-style
// double formatting, which cost about 1 µs per series: over half of a
// scrape's CPU at 5000 domains (docs/benchmarks.md). Each label set is
// escaped once, however many series carry it.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "core/metric_set.h"

namespace lme {

// The families exactly as TextSerializer would write them (gauges, counters
// and untyped samples: the only types this exporter uses), except that HELP
// is escaped and values read back as the same double.
std::string RenderExposition(const MetricSet& set);

// Renders a collection once however many scrapes share it: under load most
// answers come from a shared collection, and rendering each anew cost CPU
// and a copy of the text per worker thread.
class ExpositionCache {
 public:
  std::shared_ptr<const std::string> Render(
      const std::shared_ptr<const MetricSet>& set);

 private:
  std::mutex mutex_;
  std::weak_ptr<const MetricSet> rendered_from_;
  std::shared_ptr<const std::string> text_;
};

}  // namespace lme
