#pragma once

#include "collector/collector.h"
#include "collector/sources.h"

namespace lme {

// The host's memory, for overcommit and headroom beside the guests' sums.
class NodeMemoryCollector : public Collector {
 public:
  explicit NodeMemoryCollector(NodeMemorySource& source) : source_(source) {}

  static constexpr CollectorInfo kInfo{
      "node_memory", "the host's memory (total, free, buffers, cached)", true};
  bool Update(Deadline deadline, MetricSet& out) override;

 private:
  NodeMemorySource& source_;
};

}  // namespace lme
