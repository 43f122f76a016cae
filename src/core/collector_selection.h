// Which collectors one scrape runs, decided from the `collect[]` and
// `exclude[]` URL parameters the way node_exporter does. Pure.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace lme {

struct CollectorSelection {
  // The collectors to run, in registration order.
  std::vector<std::string> collectors;
  // Set when the request must be refused (HTTP 400), saying why.
  std::string error;
};

// `registered`: every collector's name, in registration order; `enabled`:
// those the flags switched on.
//   neither parameter  every enabled collector
//   collect[]          the named ones; each must be registered and enabled
//   exclude[]          every enabled one but those named; each must be
//                      registered (naming a disabled one changes nothing)
//   both               refused, as node_exporter does
CollectorSelection SelectCollectors(const std::vector<std::string>& registered,
                                    const std::set<std::string>& enabled,
                                    const std::vector<std::string>& collect,
                                    const std::vector<std::string>& exclude);

// How the flags name a collector: "domain_memory" is switched by
// --collector.domain-memory / --no-collector.domain-memory and
// LIBVIRT_EXPORTER_COLLECTOR_DOMAIN_MEMORY.
std::string CollectorFlag(const std::string& name);  // without the dashes
std::string CollectorEnvVar(const std::string& name);

// The same selection always gives the same key: scrapes with equal keys may
// share one collection.
std::string SelectionKey(const CollectorSelection& selection);

}  // namespace lme
