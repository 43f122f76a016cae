// The domains' live definitions, read once per domain start and shared by
// the readers that need them: domain_memory (the balloon and its stats
// period) and openstack_metadata (Nova's metadata). One read and one parse
// of a domain's XML serve both.
#pragma once

#include <libvirt/libvirt.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "core/domain_definition.h"

namespace lme::libvirt {

// Keyed by domain start (core's DomainStartKey). Safe to use from the
// readers' worker threads, which may outlive a scrape.
class DomainDefinitions {
 public:
  // A kept definition is read again once it is `refresh_after` old, so a
  // live change (a new stats period) shows after at most that long.
  explicit DomainDefinitions(Seconds refresh_after = kDefinitionRefreshAfter)
      : refresh_after_(refresh_after) {}

  Seconds RefreshAfter() const { return refresh_after_; }
  // Null when nothing is kept for that domain start.
  std::shared_ptr<const CachedDefinition> Find(const std::string& key) const;
  void Remember(const std::string& key, CachedDefinition definition);
  // Forgets every domain start but these: domains gone or started again.
  void KeepOnly(const std::set<std::string>& keys);
  std::size_t Size() const;

 private:
  const Seconds refresh_after_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const CachedDefinition>> kept_;
};

struct DefinitionRead {
  // Empty when the domain is gone or the read failed.
  std::optional<DomainDefinition> definition;
  // What went wrong, for the log; empty when the domain simply went away.
  std::string problem;
};

// Reads and parses a domain's live definition (virDomainGetXMLDesc: the
// running configuration, with live changes such as a new stats period).
// Throws ConnectionLost when the connection died.
DefinitionRead ReadDefinition(virConnectPtr connection, virDomainPtr domain);

}  // namespace lme::libvirt
