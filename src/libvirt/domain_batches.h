// What fetching the domains in batches needs of libvirt: the list of
// domains to split, and for each batch a connection with handles of its own
// (a handle belongs to the connection that listed it, and
// virDomainListGetStats takes handles of one connection).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "libvirt/handles.h"

namespace lme::libvirt {

// A listed domain: who it is, and whether it was running then.
struct ListedDomain {
  std::string uuid;
  std::string name;
  unsigned int id = 0;  // virDomainGetID: changes with every start
  bool active = false;
};

// Every domain on the connection, sorted by UUID, so that batches keep
// their domains from one scrape to the next. Throws LibvirtUnavailable
// (ConnectionLost when the connection died).
std::vector<ListedDomain> ListDomains(virConnectPtr connection);

// A connection a batch runs on, with the handles it listed there. They are
// kept across scrapes: a batch lists again only when one of its domains is
// new to this connection, or was renamed or started again since. Used by one
// call at a time.
class BatchConnection {
 public:
  // Held by the call that uses the connection while it runs; the
  // connection counts as in use from Reserve (when the call is made, before
  // a worker starts it) until then.
  class Use {
   public:
    explicit Use(BatchConnection& connection) : connection_(connection) {
      connection_.in_use_ = true;
    }
    ~Use() { connection_.in_use_ = false; }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

   private:
    BatchConnection& connection_;
  };

  explicit BatchConnection(std::shared_ptr<virConnect> connection);

  virConnectPtr get() const { return connection_.get(); }

  // A call still runs on it (one given up on, or the other call of a hedged
  // batch): the next scrape needs another connection.
  bool InUse() const { return in_use_; }
  void Reserve() { in_use_ = true; }

  // Handles on this connection for `domains`, in their order; domains this
  // connection does not list (any more) are left out. Throws as
  // ListDomains.
  std::vector<virDomainPtr> HandlesFor(
      const std::vector<ListedDomain>& domains);

 private:
  bool Knows(const ListedDomain& domain) const;
  void ListAgain();

  struct Known {
    ListedDomain domain;  // as this connection listed it
    DomainHandle handle;
  };

  std::shared_ptr<virConnect> connection_;
  std::unordered_map<std::string, Known> known_;  // by UUID
  std::atomic<bool> in_use_{false};
};

}  // namespace lme::libvirt
