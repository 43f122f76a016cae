#include "core/domain_families.h"

#include <algorithm>

#include "core/memory_families.h"
#include "core/metric_builders.h"

namespace lme {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

void PushIfNotEmpty(MetricFamily family, std::vector<MetricFamily>& out) {
  if (!family.metric.empty()) out.push_back(std::move(family));
}

}  // namespace

std::vector<MetricFamily> BuildDomainFamilies(
    const std::vector<DomainMemory>& domains) {
  const auto active = std::count_if(domains.begin(), domains.end(),
                                    [](const auto& d) { return d.active; });
  std::vector<MetricFamily> families;
  families.push_back(SingleGauge("libvirt_domains",
                                 "Number of active domains seen in this scrape.",
                                 static_cast<double>(active)));
  auto info = MakeFamily(
      "libvirt_domain_info",
      "A metric with a constant value 1 for every defined domain, labelled "
      "with its state (running, paused, shutoff, ...).",
      MetricType::Gauge);
  auto vcpus = MakeFamily("libvirt_domain_vcpus",
                          "Number of virtual CPUs the domain has.",
                          MetricType::Gauge);
  for (const DomainMemory* domain : SortedByNameThenUuid(domains)) {
    AddSample(info,
              {{"domain", domain->name},
               {"state", domain->state.empty() ? "unknown" : domain->state},
               {"uuid", domain->uuid}},
              1);
    if (domain->vcpus) {
      AddSample(vcpus, {{"domain", domain->name}, {"uuid", domain->uuid}},
                static_cast<double>(*domain->vcpus));
    }
  }
  PushIfNotEmpty(std::move(info), families);
  PushIfNotEmpty(std::move(vcpus), families);
  return families;
}

std::vector<MetricFamily> BuildGuestTotalFamilies(
    const std::vector<DomainMemory>& domains) {
  double maximum = 0;
  double current = 0;
  for (const auto& domain : domains) {
    if (!domain.active) continue;
    if (domain.stats.maximum_kib) maximum += KibToBytes(*domain.stats.maximum_kib);
    if (domain.stats.current_balloon_kib) {
      current += KibToBytes(*domain.stats.current_balloon_kib);
    }
  }
  return {SingleGauge("libvirt_node_guest_maximum_memory_bytes",
                      "Sum of the maximum memory of the active guests, in "
                      "bytes.",
                      maximum),
          SingleGauge("libvirt_node_guest_current_memory_bytes",
                      "Sum of the memory currently assigned to the active "
                      "guests (balloon size), in bytes.",
                      current)};
}

std::vector<MetricFamily> BuildNodeMemoryFamilies(const NodeMemory& node) {
  struct Spec {
    const char* name;
    const char* help;
    const std::optional<std::uint64_t>& kib;
  };
  const Spec specs[] = {
      {"libvirt_node_memory_total_bytes",
       "Memory of the host, in bytes.", node.total_kib},
      {"libvirt_node_memory_free_bytes",
       "Memory of the host left unused, in bytes.", node.free_kib},
      {"libvirt_node_memory_buffers_bytes",
       "Memory of the host used for buffers, in bytes.", node.buffers_kib},
      {"libvirt_node_memory_cached_bytes",
       "Memory of the host used for the page cache, in bytes.",
       node.cached_kib},
  };
  std::vector<MetricFamily> families;
  for (const auto& spec : specs) {
    if (spec.kib) {
      families.push_back(SingleGauge(spec.name, spec.help, KibToBytes(*spec.kib)));
    }
  }
  return families;
}

}  // namespace lme
