#include "collector/node_memory_collector.h"

#include "core/domain_families.h"

namespace lme {

void NodeMemoryCollector::Update(std::vector<prometheus::MetricFamily>& out) {
  for (auto& family : BuildNodeMemoryFamilies(source_.FetchNodeMemory())) {
    out.push_back(std::move(family));
  }
}

}  // namespace lme
