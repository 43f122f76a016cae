// Who a domain is, read from its handle without a call to the daemon.
#pragma once

#include <libvirt/libvirt.h>

#include <array>
#include <string>

#include "core/domain_definition.h"

namespace lme::libvirt {

inline std::string DomainName(virDomainPtr domain) {
  const char* name = virDomainGetName(domain);
  return name ? name : "";
}

inline std::string DomainUuid(virDomainPtr domain) {
  std::array<unsigned char, VIR_UUID_BUFLEN> uuid{};
  if (virDomainGetUUID(domain, uuid.data()) != 0) return "";
  return lme::UuidText(uuid);
}

// Changes whenever the domain is started again (its ID changes), which is
// when Nova applies a new definition (resize, rebuild, migration): the key
// for what is read once per domain start (core's DomainStartKey).
inline std::string DomainStartKey(virDomainPtr domain,
                                  const std::string& uuid) {
  return lme::DomainStartKey(uuid, virDomainGetID(domain));
}

}  // namespace lme::libvirt
