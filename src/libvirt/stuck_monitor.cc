#include "libvirt/stuck_monitor.h"

#include "libvirt/handles.h"

namespace lme::libvirt {

std::set<std::string> StuckDomains(virConnectPtr connection,
                                   const std::vector<std::string>& uuids,
                                   std::chrono::milliseconds stuck_after) {
  std::set<std::string> stuck;
  for (const std::string& uuid : uuids) {
    const DomainHandle domain(
        virDomainLookupByUUIDString(connection, uuid.c_str()));
    virDomainControlInfo info{};
    if (!domain || virDomainGetControlInfo(domain.get(), &info, 0) < 0)
      continue;
    if (info.state == VIR_DOMAIN_CONTROL_OCCUPIED &&
        info.stateTime >=
            static_cast<unsigned long long>(stuck_after.count())) {
      stuck.insert(uuid);
    }
  }
  return stuck;
}

}  // namespace lme::libvirt
