#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "collector/sources.h"
#include "libvirt/connection.h"
#include "util/logger.h"

namespace lme::libvirt {

// Nova's metadata of the active domains, read once per domain start: the
// cache key is the UUID with the domain ID, which changes whenever Nova
// restarts a guest with a new definition (resize, rebuild, migration).
class OpenStackMetadataReader : public OpenStackMetadataSource {
 public:
  OpenStackMetadataReader(Connection& connection, Logger& logger);

  std::vector<DomainOpenStackInstance> FetchOpenStackMetadata() override;
  std::uint64_t MetadataReads() const override { return reads_; }

 private:
  std::vector<DomainOpenStackInstance> Fetch(virConnectPtr connection);
  struct ReadResult {
    // False after an error worth retrying: the domain is not cached.
    bool cacheable = true;
    // Empty when the domain carries no usable Nova metadata.
    std::optional<OpenStackInstance> instance;
  };
  // Throws only when the connection died.
  ReadResult Read(
      virConnectPtr connection, virDomainPtr domain,
      const DomainOpenStackInstance& identity);

  Connection& connection_;
  Logger& logger_;
  std::map<std::string, std::optional<OpenStackInstance>> cache_;
  std::uint64_t reads_ = 0;
  LogOnce read_errors_;
};

}  // namespace lme::libvirt
