#include "collector_list.h"

#include "collector/domain_memory_collector.h"
#include "collector/node_memory_collector.h"
#include "collector/openstack_collector.h"
#include "libvirt/domain_memory_reader.h"
#include "libvirt/node_memory_reader.h"
#include "libvirt/openstack_metadata_reader.h"

namespace lme {

std::vector<CollectorRegistration> RegisteredCollectors() {
  return {
      RegisterCollector<DomainMemoryCollector, libvirt::DomainMemoryReader>(),
      RegisterCollector<NodeMemoryCollector, libvirt::NodeMemoryReader>(),
      RegisterCollector<OpenStackCollector, libvirt::OpenStackMetadataReader>(),
  };
}

std::vector<CollectorInfo> InfosOf(
    const std::vector<CollectorRegistration>& registrations) {
  std::vector<CollectorInfo> infos;
  for (const auto& registration : registrations) {
    infos.push_back(registration.info);
  }
  return infos;
}

Collectors::Collectors(const std::vector<CollectorRegistration>& registrations,
                       const std::set<std::string>& enabled,
                       LibvirtAccess& access) {
  for (const auto& registration : registrations) {
    CollectorEntry entry{registration.info.name, nullptr};
    if (enabled.count(entry.name) > 0) {
      owned_.push_back(registration.make(access));
      entry.collector = owned_.back().get();
    }
    entries_.push_back(std::move(entry));
  }
}

}  // namespace lme
