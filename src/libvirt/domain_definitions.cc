#include "libvirt/domain_definitions.h"

#include <cstdlib>

#include "libvirt/connection.h"
#include "libvirt/error.h"

namespace lme::libvirt {

std::shared_ptr<const CachedDefinition> DomainDefinitions::Find(
    const std::string& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto kept = kept_.find(key);
  return kept == kept_.end() ? nullptr : kept->second;
}

void DomainDefinitions::Remember(const std::string& key,
                                 CachedDefinition definition) {
  auto shared = std::make_shared<const CachedDefinition>(std::move(definition));
  std::lock_guard<std::mutex> lock(mutex_);
  kept_[key] = std::move(shared);
}

void DomainDefinitions::KeepOnly(const std::set<std::string>& keys) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto kept = kept_.begin(); kept != kept_.end();) {
    kept = keys.count(kept->first) > 0 ? std::next(kept) : kept_.erase(kept);
  }
}

std::size_t DomainDefinitions::Size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return kept_.size();
}

DefinitionRead ReadDefinition(virConnectPtr connection, virDomainPtr domain) {
  char* xml = virDomainGetXMLDesc(domain, 0);
  if (xml == nullptr) {
    const Error error = LastError();
    if (error.Kind() == LibvirtErrorKind::kNoDomain) return {};
    if (!IsAlive(connection)) {
      throw ConnectionLost("virDomainGetXMLDesc: " + error.message);
    }
    return {std::nullopt,
            "cannot read the domain definition: " + error.message};
  }
  const std::string text(xml);
  std::free(xml);
  auto definition = ParseDomainDefinition(text);
  if (!definition) return {std::nullopt, "cannot parse the domain definition"};
  return {std::move(definition), {}};
}

}  // namespace lme::libvirt
