#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "collector/sources.h"
#include "libvirt/connection.h"
#include "util/blocking_calls.h"
#include "util/logger.h"

namespace lme::libvirt {

// Nova's metadata of the active domains, read once per domain start: the
// cache key is the UUID with the domain ID, which changes whenever Nova
// restarts a guest with a new definition (resize, rebuild, migration).
class OpenStackMetadataReader : public OpenStackMetadataSource {
 public:
  using Cache = std::map<std::string, std::optional<OpenStackInstance>>;

  OpenStackMetadataReader(Connection& connection, BlockingCalls& calls,
                          Logger& logger);

  std::vector<DomainOpenStackInstance> FetchOpenStackMetadata(
      Deadline deadline) override;
  std::uint64_t MetadataReads() const override { return reads_; }

  // What one pass over the domains found; built on a thread of its own from
  // a copy of the cache, and adopted by the scrape thread.
  struct Pass {
    std::vector<DomainOpenStackInstance> instances;
    Cache cache;
    std::uint64_t reads = 0;
    std::vector<std::pair<DomainOpenStackInstance, std::string>> problems;
  };

 private:
  void LogProblems(const Pass& pass);

  Connection& connection_;
  BlockingCalls& calls_;
  Logger& logger_;
  Cache cache_;
  std::uint64_t reads_ = 0;
  LogOnce problems_;
};

}  // namespace lme::libvirt
