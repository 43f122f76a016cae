// One collector per concern, node_exporter style: each adds its families to
// a scrape and throws when it cannot; ExporterCollectable turns that into
// the `..._scrape_collector_success` gauge in one place. The collectors are
// listed once, in src/collector_list.cc.
#pragma once

#include <string>
#include <vector>

#include "core/duration.h"
#include "core/metric_set.h"

namespace lme {

// What the flags, the URL parameters and the self metrics know of a
// collector; every collector class has one as `kInfo`.
struct CollectorInfo {
  // The `collector` label of the self metrics and the name in collect[] and
  // exclude[]; the flags spell it with dashes (core/collector_selection.h).
  const char* name;
  const char* help;  // for --help
  bool enabled_by_default;
};

class Collector {
 public:
  virtual ~Collector() = default;
  // Appends this collector's families by the deadline; throws on failure.
  // Returns false when the answer is partial (some domains timed out): the
  // families are kept but the collector does not count as successful.
  virtual bool Update(Deadline deadline, MetricSet& out) = 0;
};

// A collector as a scrape sees it: its name, and the collector itself unless
// the flags switched it off.
struct CollectorEntry {
  std::string name;
  Collector* collector = nullptr;
};

}  // namespace lme
