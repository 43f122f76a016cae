// RAII owners for libvirt handles. This directory is the only one that
// includes <libvirt/...>.
#pragma once

#include <libvirt/libvirt.h>

#include <cstdlib>
#include <memory>
#include <vector>

namespace lme::libvirt {

struct ConnectCloser {
  void operator()(virConnectPtr connection) const {
    virConnectClose(connection);
  }
};
using ConnectHandle = std::unique_ptr<virConnect, ConnectCloser>;

struct DomainFreer {
  void operator()(virDomainPtr domain) const { virDomainFree(domain); }
};
using DomainHandle = std::unique_ptr<virDomain, DomainFreer>;

// Also releases the domain of every record: those must not be freed again.
struct StatsRecordListFreer {
  void operator()(virDomainStatsRecordPtr* records) const {
    virDomainStatsRecordListFree(records);
  }
};
using StatsRecordList =
    std::unique_ptr<virDomainStatsRecordPtr, StatsRecordListFreer>;

// Takes ownership of the array virConnectListAllDomains returns.
inline std::vector<DomainHandle> AdoptDomainArray(virDomainPtr* domains,
                                                  int count) {
  std::vector<DomainHandle> owned;
  owned.reserve(count > 0 ? static_cast<std::size_t>(count) : 0);
  for (int i = 0; i < count; ++i) owned.emplace_back(domains[i]);
  std::free(domains);
  return owned;
}

}  // namespace lme::libvirt
