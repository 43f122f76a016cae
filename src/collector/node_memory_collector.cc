#include "collector/node_memory_collector.h"

#include "core/domain_families.h"

namespace lme {

bool NodeMemoryCollector::Update(Deadline deadline,
                                 std::vector<prometheus::MetricFamily>& out) {
  for (auto& family :
       BuildNodeMemoryFamilies(source_.FetchNodeMemory(deadline))) {
    out.push_back(std::move(family));
  }
  return true;
}

}  // namespace lme
