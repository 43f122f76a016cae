// One collector per concern, node_exporter style: each adds its families to
// a scrape and throws when it cannot; ExporterCollectable turns that into
// the `..._scrape_collector_success` gauge in one place.
#pragma once

#include <string>
#include <vector>

#include "core/duration.h"
#include "core/metric_set.h"

namespace lme {

class Collector {
 public:
  virtual ~Collector() = default;
  virtual std::string Name() const = 0;
  // Appends this collector's families by the deadline; throws on failure.
  // Returns false when the answer is partial (some domains timed out): the
  // families are kept but the collector does not count as successful.
  virtual bool Update(Deadline deadline, MetricSet& out) = 0;
};

}  // namespace lme
