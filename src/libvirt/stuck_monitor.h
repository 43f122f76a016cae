#pragma once

#include <libvirt/libvirt.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

namespace lme::libvirt {

// UUIDs of the domains whose QEMU monitor has been busy with one command for
// at least `stuck_after`: what a stopped or wedged QEMU looks like.
std::set<std::string> StuckDomains(virConnectPtr connection,
                                   const std::vector<std::string>& uuids,
                                   std::chrono::milliseconds stuck_after);

}  // namespace lme::libvirt
