#include "libvirt/openstack_metadata_reader.h"

#include <array>
#include <cstdlib>

#include <libvirt/virterror.h>

#include "libvirt/error.h"

namespace lme::libvirt {
namespace {

DomainOpenStackInstance Identify(virDomainPtr domain) {
  DomainOpenStackInstance identity;
  if (const char* name = virDomainGetName(domain)) identity.domain = name;
  std::array<char, VIR_UUID_STRING_BUFLEN> uuid{};
  if (virDomainGetUUIDString(domain, uuid.data()) == 0) {
    identity.uuid = uuid.data();
  }
  return identity;
}

std::string CacheKey(virDomainPtr domain, const std::string& uuid) {
  return uuid + "#" + std::to_string(virDomainGetID(domain));
}

}  // namespace

OpenStackMetadataReader::OpenStackMetadataReader(Connection& connection,
                                                 Logger& logger)
    : connection_(connection), logger_(logger) {}

std::vector<DomainOpenStackInstance>
OpenStackMetadataReader::FetchOpenStackMetadata() {
  return connection_.Use([this](virConnectPtr c) { return Fetch(c); });
}

std::vector<DomainOpenStackInstance> OpenStackMetadataReader::Fetch(
    virConnectPtr connection) {
  virDomainPtr* raw = nullptr;
  const int count = virConnectListAllDomains(connection, &raw,
                                             VIR_CONNECT_LIST_DOMAINS_ACTIVE);
  if (count < 0) FailConnectionWide(connection, "virConnectListAllDomains");
  std::vector<DomainOpenStackInstance> instances;
  std::map<std::string, std::optional<OpenStackInstance>> still_present;
  for (const DomainHandle& handle : AdoptDomainArray(raw, count)) {
    DomainOpenStackInstance entry = Identify(handle.get());
    const std::string key = CacheKey(handle.get(), entry.uuid);
    auto cached = cache_.find(key);
    std::optional<OpenStackInstance> instance;
    if (cached != cache_.end()) {
      instance = cached->second;
    } else {
      ReadResult read = Read(connection, handle.get(), entry);
      if (!read.cacheable) continue;
      instance = std::move(read.instance);
    }
    still_present.emplace(key, instance);
    if (!instance) continue;
    entry.instance = std::move(*instance);
    instances.push_back(std::move(entry));
  }
  cache_ = std::move(still_present);
  return instances;
}

OpenStackMetadataReader::ReadResult OpenStackMetadataReader::Read(
    virConnectPtr connection, virDomainPtr domain,
    const DomainOpenStackInstance& identity) {
  ++reads_;
  char* xml = virDomainGetMetadata(domain, VIR_DOMAIN_METADATA_ELEMENT,
                                   kNovaMetadataNamespace, 0);
  if (xml == nullptr) {
    const Error error = LastError();
    if (error.code == VIR_ERR_NO_DOMAIN_METADATA ||
        error.Kind() == LibvirtErrorKind::kUnsupported) {
      return {};
    }
    if (!IsAlive(connection)) {
      throw ConnectionLost("virDomainGetMetadata: " + error.message);
    }
    if (read_errors_.First(identity.uuid + "/" + error.message)) {
      logger_.Warn("cannot read domain metadata",
                   {{"domain", identity.domain},
                    {"uuid", identity.uuid},
                    {"err", error.message}});
    }
    return {false, std::nullopt};
  }
  const std::string text(xml);
  std::free(xml);
  auto instance = ParseNovaInstance(text);
  if (!instance) {
    logger_.Warn("ignoring malformed Nova metadata",
                 {{"domain", identity.domain}, {"uuid", identity.uuid}});
  }
  return {true, std::move(instance)};
}

}  // namespace lme::libvirt
