#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "collector/sources.h"
#include "libvirt/connection.h"
#include "libvirt/error.h"
#include "util/logger.h"

namespace lme::libvirt {

// Reads every domain's state and vCPUs and the active domains' balloon
// stats: one bulk call per scrape where the driver supports it.
class DomainMemoryReader : public DomainMemorySource {
 public:
  DomainMemoryReader(Connection& connection, Logger& logger);

  std::vector<DomainMemory> FetchDomainMemory() override;

 private:
  std::vector<DomainMemory> FetchFrom(virConnectPtr connection);
  std::optional<std::vector<DomainMemory>> FetchBulk(virConnectPtr connection);
  std::vector<DomainMemory> FetchPerDomain(virConnectPtr connection);
  // Fills in what the bulk record lacked by asking the domain directly.
  // False when the domain disappeared while it was being read.
  bool CompleteFromDomain(virConnectPtr connection, virDomainPtr handle,
                          DomainMemory& domain, bool need_memory_stats);
  // Applies DecideDomainErrorAction: false when the domain is to be left out.
  bool KeepAfterError(virConnectPtr connection, const DomainMemory& identity,
                      const std::string& call);
  void WarnOnce(const DomainMemory& identity, const std::string& call,
                const Error& error);

  Connection& connection_;
  Logger& logger_;
  LogOnce domain_errors_;
  std::set<std::string> failing_this_scrape_;
};

}  // namespace lme::libvirt
