// One collector per concern, node_exporter style: each adds its families to
// a scrape and throws when it cannot; ExporterCollectable turns that into
// the `..._scrape_collector_success` gauge in one place.
#pragma once

#include <string>
#include <vector>

#include <prometheus/metric_family.h>

namespace lme {

class Collector {
 public:
  virtual ~Collector() = default;
  virtual std::string Name() const = 0;
  // Appends this collector's families; throws on failure.
  virtual void Update(std::vector<prometheus::MetricFamily>& out) = 0;
};

}  // namespace lme
