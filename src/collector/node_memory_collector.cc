#include "collector/node_memory_collector.h"

#include "core/domain_families.h"

namespace lme {

bool NodeMemoryCollector::Update(Deadline deadline, MetricSet& out) {
  out.Append(BuildNodeMemoryFamilies(source_.FetchNodeMemory(deadline)));
  return true;
}

}  // namespace lme
