// Pure mapping of what libvirt says about each domain as a whole (state,
// vCPUs) and of the guests' memory summed per host.
#pragma once

#include <vector>

#include <prometheus/metric_family.h>

#include "core/memory_stats.h"

namespace lme {

// `libvirt_domains`, `libvirt_domain_info` and `libvirt_domain_vcpus`:
// shut-off domains appear here so dashboards can tell "shut off" from
// "no balloon driver".
std::vector<prometheus::MetricFamily> BuildDomainFamilies(
    const std::vector<DomainMemory>& domains);

// Sums over the active guests of their maximum and current memory, the
// numerators of the host's overcommit ratios.
std::vector<prometheus::MetricFamily> BuildGuestTotalFamilies(
    const std::vector<DomainMemory>& domains);

// `libvirt_node_memory_*_bytes` for what the host reported.
std::vector<prometheus::MetricFamily> BuildNodeMemoryFamilies(
    const NodeMemory& node);

}  // namespace lme
