// The Prometheus text exposition format (version 0.0.4), written in one pass.
// prometheus-cpp's TextSerializer goes through an ostream and printf-style
// double formatting, which cost about 1 µs per series: over half of a
// scrape's CPU at 5000 domains (docs/benchmarks.md).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/metric_family.h>

namespace lme {

// Appends the families to `out` exactly as TextSerializer would write
// gauges, counters and untyped samples (the only types this exporter uses).
void AppendExposition(const std::vector<prometheus::MetricFamily>& families,
                      std::string& out);

std::string RenderExposition(
    const std::vector<prometheus::MetricFamily>& families);

// Renders a collection once however many scrapes share it: under load most
// answers come from a shared collection, and rendering each anew cost CPU
// and a copy of the text per worker thread.
class ExpositionCache {
 public:
  using Families = std::vector<prometheus::MetricFamily>;
  std::shared_ptr<const std::string> Render(
      const std::shared_ptr<const Families>& families);

 private:
  std::mutex mutex_;
  std::weak_ptr<const Families> rendered_from_;
  std::shared_ptr<const std::string> text_;
};

}  // namespace lme
