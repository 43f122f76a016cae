// Pure mapping of what libvirt says about each domain as a whole (state,
// vCPUs) and of the guests' memory summed per host.
#pragma once

#include <vector>

#include "core/memory_families.h"
#include "core/memory_stats.h"
#include "core/metric_set.h"

namespace lme {

// `libvirt_domains`, `libvirt_domain_info` and `libvirt_domain_vcpus`:
// shut-off domains appear here so dashboards can tell "shut off" from
// "no balloon driver".
void AddDomainFamilies(const std::vector<LabelledDomain>& domains,
                       MetricSet& set);

// Sums over the active guests of their maximum and current memory, the
// numerators of the host's overcommit ratios.
MetricSet BuildGuestTotalFamilies(const std::vector<DomainMemory>& domains);

// Everything the domain_memory collector exports, in order: the domain
// families, the guest totals and the memory families, sorted and labelled
// once.
MetricSet BuildDomainCollectorFamilies(
    const std::vector<DomainMemory>& domains);

// `libvirt_node_memory_*_bytes` for what the host reported.
MetricSet BuildNodeMemoryFamilies(const NodeMemory& node);

}  // namespace lme
