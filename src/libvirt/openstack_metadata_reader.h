#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "collector/sources.h"
#include "libvirt/connection.h"
#include "libvirt/domain_definitions.h"
#include "util/blocking_calls.h"
#include "util/logger.h"

namespace lme::libvirt {

// Nova's metadata of the active domains, from their definitions as read
// once per domain start (DomainDefinitions, shared with the domain_memory
// collector, which usually has read them already): the key is the UUID with
// the domain ID, which changes whenever Nova restarts a guest with a new
// definition (resize, rebuild, migration).
class OpenStackMetadataReader : public OpenStackMetadataSource {
 public:
  OpenStackMetadataReader(Connection& connection, BlockingCalls& calls,
                          Logger& logger,
                          std::shared_ptr<DomainDefinitions> definitions =
                              std::make_shared<DomainDefinitions>());

  std::vector<DomainOpenStackInstance> FetchOpenStackMetadata(
      Deadline deadline) override;
  std::uint64_t MetadataReads() const override { return reads_; }

  // What one pass over the domains found, on a thread of its own; the
  // definitions it read are kept in DomainDefinitions as it goes.
  struct Pass {
    std::vector<DomainOpenStackInstance> instances;
    std::set<std::string> keys;  // the active domains' starts
    std::uint64_t reads = 0;
    std::vector<std::pair<DomainOpenStackInstance, std::string>> problems;
  };

 private:
  void LogProblems(const Pass& pass);

  Connection& connection_;
  BlockingCalls& calls_;
  Logger& logger_;
  std::shared_ptr<DomainDefinitions> definitions_;
  std::uint64_t reads_ = 0;
  LogOnce problems_;
};

}  // namespace lme::libvirt
