#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "collector/domain_memory_source.h"
#include "libvirt/error.h"
#include "libvirt/handles.h"
#include "util/logger.h"

namespace lme::libvirt {

// Reads the active domains' balloon stats over one read-only connection that
// is kept across scrapes and reopened when it died.
class DomainMemoryReader : public DomainMemorySource {
 public:
  DomainMemoryReader(std::string uri, Logger& logger);

  std::vector<DomainMemory> FetchDomainMemory() override;

 private:
  bool EnsureConnected();
  std::vector<DomainMemory> FetchFrom(virConnectPtr connection);
  std::optional<std::vector<DomainMemory>> FetchBulk(virConnectPtr connection);
  std::vector<DomainMemory> FetchPerDomain(virConnectPtr connection);
  // Empty when the domain disappeared while it was being read.
  std::optional<MemoryStats> ReadDomainStats(virConnectPtr connection,
                                             virDomainPtr domain,
                                             const DomainMemory& identity);
  // Applies DecideDomainErrorAction: false when the domain is to be left out.
  bool KeepAfterError(virConnectPtr connection, const DomainMemory& identity,
                      const std::string& call, const Error& error);
  void WarnOnce(const DomainMemory& identity, const std::string& call,
                const Error& error);

  std::string uri_;
  Logger& logger_;
  ConnectHandle connection_;
  LogOnce domain_errors_;
  std::set<std::string> failing_this_scrape_;
};

}  // namespace lme::libvirt
