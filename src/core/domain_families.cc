#include "core/domain_families.h"

#include <algorithm>
#include <string_view>

namespace lme {
void AddDomainFamilies(const std::vector<LabelledDomain>& domains,
                       MetricSet& set) {
  const auto active =
      std::count_if(domains.begin(), domains.end(),
                    [](const auto& entry) { return entry.domain->active; });
  set.AddSingle("libvirt_domains",
                "Number of active domains seen in this scrape.",
                MetricType::Gauge, static_cast<double>(active));
  auto info = MakeFamily(
      "libvirt_domain_info",
      "A metric with a constant value 1 for every defined domain, labelled "
      "with its state (running, paused, shutoff, ...).",
      MetricType::Gauge);
  auto vcpus =
      MakeFamily("libvirt_domain_vcpus",
                 "Number of virtual CPUs the domain has.", MetricType::Gauge);
  for (const auto& [domain, labels] : domains) {
    const std::string_view state =
        domain->state.empty() ? "unknown" : std::string_view(domain->state);
    info.samples.push_back({set.AddLabels({{"domain", domain->name},
                                           {"state", state},
                                           {"uuid", domain->uuid}}),
                            1});
    if (domain->vcpus) {
      vcpus.samples.push_back({labels, static_cast<double>(*domain->vcpus)});
    }
  }
  set.Add(std::move(info));
  set.Add(std::move(vcpus));
}

MetricSet BuildDomainCollectorFamilies(
    const std::vector<DomainMemory>& domains) {
  MetricSet set;
  // Three label sets a domain: domain and uuid; domain, state and uuid;
  // domain, status and uuid.
  std::size_t label_bytes = 0;
  for (const auto& domain : domains) {
    label_bytes += 3 * (domain.name.size() + domain.uuid.size()) + 96;
  }
  set.ReserveLabels(3 * domains.size(), label_bytes);
  const auto labelled = LabelDomains(domains, set);
  AddDomainFamilies(labelled, set);
  set.Append(BuildGuestTotalFamilies(domains));
  AddMemoryFamilies(labelled, set);
  return set;
}

MetricSet BuildGuestTotalFamilies(const std::vector<DomainMemory>& domains) {
  double maximum = 0;
  double current = 0;
  for (const auto& domain : domains) {
    if (!domain.active) continue;
    if (domain.stats.maximum_kib)
      maximum += KibToBytes(*domain.stats.maximum_kib);
    if (domain.stats.current_balloon_kib) {
      current += KibToBytes(*domain.stats.current_balloon_kib);
    }
  }
  MetricSet set;
  set.AddSingle("libvirt_node_guest_maximum_memory_bytes",
                "Sum of the maximum memory of the active guests, in bytes.",
                MetricType::Gauge, maximum);
  set.AddSingle("libvirt_node_guest_current_memory_bytes",
                "Sum of the memory currently assigned to the active guests "
                "(balloon size), in bytes.",
                MetricType::Gauge, current);
  return set;
}

MetricSet BuildNodeMemoryFamilies(const NodeMemory& node) {
  struct Spec {
    const char* name;
    const char* help;
    const std::optional<std::uint64_t>& kib;
  };
  const Spec specs[] = {
      {"libvirt_node_memory_total_bytes", "Memory of the host, in bytes.",
       node.total_kib},
      {"libvirt_node_memory_free_bytes",
       "Memory of the host left unused, in bytes.", node.free_kib},
      {"libvirt_node_memory_buffers_bytes",
       "Memory of the host used for buffers, in bytes.", node.buffers_kib},
      {"libvirt_node_memory_cached_bytes",
       "Memory of the host used for the page cache, in bytes.",
       node.cached_kib},
  };
  MetricSet set;
  for (const auto& spec : specs) {
    if (spec.kib) {
      set.AddSingle(spec.name, spec.help, MetricType::Gauge,
                    KibToBytes(*spec.kib));
    }
  }
  return set;
}

}  // namespace lme
