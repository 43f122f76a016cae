#pragma once

#include "collector/collector.h"
#include "collector/sources.h"

namespace lme {

// The host's memory, for overcommit and headroom beside the guests' sums.
class NodeMemoryCollector : public Collector {
 public:
  explicit NodeMemoryCollector(NodeMemorySource& source) : source_(source) {}

  std::string Name() const override { return "node_memory"; }
  bool Update(Deadline deadline, MetricSet& out) override;

 private:
  NodeMemorySource& source_;
};

}  // namespace lme
