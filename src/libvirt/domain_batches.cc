#include "libvirt/domain_batches.h"

#include <algorithm>
#include <utility>

#include "libvirt/connection.h"
#include "libvirt/domain_identity.h"

namespace lme::libvirt {
namespace {

std::vector<DomainHandle> ListHandles(virConnectPtr connection) {
  virDomainPtr* raw = nullptr;
  const int count = virConnectListAllDomains(connection, &raw, 0);
  if (count < 0) FailConnectionWide(connection, "virConnectListAllDomains");
  return AdoptDomainArray(raw, count);
}

ListedDomain Describe(virDomainPtr domain) {
  const unsigned int id = virDomainGetID(domain);
  // virDomainGetID answers -1 for a domain that is not running.
  return {DomainUuid(domain), DomainName(domain), id,
          id != static_cast<unsigned int>(-1)};
}

}  // namespace

std::vector<ListedDomain> ListDomains(virConnectPtr connection) {
  std::vector<ListedDomain> listed;
  for (const DomainHandle& handle : ListHandles(connection)) {
    listed.push_back(Describe(handle.get()));
  }
  std::sort(listed.begin(), listed.end(),
            [](const ListedDomain& a, const ListedDomain& b) {
              return a.uuid < b.uuid;
            });
  return listed;
}

BatchConnection::BatchConnection(std::shared_ptr<virConnect> connection)
    : connection_(std::move(connection)) {}

bool BatchConnection::Knows(const ListedDomain& domain) const {
  const auto found = known_.find(domain.uuid);
  return found != known_.end() && found->second.domain.name == domain.name &&
         found->second.domain.id == domain.id;
}

void BatchConnection::ListAgain() {
  known_.clear();
  for (DomainHandle& handle : ListHandles(connection_.get())) {
    ListedDomain domain = Describe(handle.get());
    std::string uuid = domain.uuid;
    known_.emplace(std::move(uuid),
                   Known{std::move(domain), std::move(handle)});
  }
}

std::vector<virDomainPtr> BatchConnection::HandlesFor(
    const std::vector<ListedDomain>& domains) {
  const bool complete =
      std::all_of(domains.begin(), domains.end(),
                  [this](const ListedDomain& domain) { return Knows(domain); });
  if (!complete) ListAgain();
  std::vector<virDomainPtr> handles;
  handles.reserve(domains.size());
  for (const ListedDomain& domain : domains) {
    const auto found = known_.find(domain.uuid);
    if (found != known_.end()) handles.push_back(found->second.handle.get());
  }
  return handles;
}

}  // namespace lme::libvirt
