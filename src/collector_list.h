// Every collector the exporter has, listed once: the flags, the URL
// parameters, the self metrics and the scrape all follow from this list.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "collector/collector.h"
#include "libvirt/connection.h"
#include "libvirt/domain_definitions.h"
#include "util/blocking_calls.h"
#include "util/logger.h"

namespace lme {

// What a collector's reader gets: the one shared libvirt connection, the
// bounded pool of threads that may block in libvirt, the logger, and the
// domains' definitions as read once per domain start (shared, so that each
// is read once for every reader that needs it).
struct LibvirtAccess {
  libvirt::Connection& connection;
  BlockingCalls& calls;
  Logger& logger;
  std::shared_ptr<libvirt::DomainDefinitions> definitions =
      std::make_shared<libvirt::DomainDefinitions>();
};

struct CollectorRegistration {
  CollectorInfo info;
  // Makes the collector with its reader (the collector reads through it).
  std::function<std::unique_ptr<Collector>(LibvirtAccess&)> make;
};

// In registration order: the first decides `libvirt_up`.
std::vector<CollectorRegistration> RegisteredCollectors();

std::vector<CollectorInfo> InfosOf(
    const std::vector<CollectorRegistration>& registrations);

// The collectors switched on, made; they refer to `access`, which must
// outlive them.
class Collectors {
 public:
  Collectors(const std::vector<CollectorRegistration>& registrations,
             const std::set<std::string>& enabled, LibvirtAccess& access);

  // Every registered collector by name, null where switched off: what
  // ExporterCollectable runs.
  const std::vector<CollectorEntry>& Entries() const { return entries_; }

 private:
  std::vector<std::unique_ptr<Collector>> owned_;
  std::vector<CollectorEntry> entries_;
};

// A collector together with the reader it reads through. Readers and
// collectors take what they need of (connection, calls, logger, definitions)
// and (source, logger), in that order.
template <typename CollectorType, typename Reader>
class WithReader : public Collector {
 public:
  explicit WithReader(LibvirtAccess& access)
      : reader_(MakeReader(access)),
        collector_(MakeCollector(reader_, access)) {}

  bool Update(Deadline deadline, MetricSet& out) override {
    return collector_.Update(deadline, out);
  }

 private:
  static Reader MakeReader(LibvirtAccess& a) {
    if constexpr (std::is_constructible_v<
                      Reader, libvirt::Connection&, BlockingCalls&, Logger&,
                      std::shared_ptr<libvirt::DomainDefinitions>>) {
      return Reader(a.connection, a.calls, a.logger, a.definitions);
    } else if constexpr (std::is_constructible_v<Reader, libvirt::Connection&,
                                                 BlockingCalls&, Logger&>) {
      return Reader(a.connection, a.calls, a.logger);
    } else {
      return Reader(a.connection, a.calls);
    }
  }
  static CollectorType MakeCollector(Reader& reader, LibvirtAccess& a) {
    if constexpr (std::is_constructible_v<CollectorType, Reader&, Logger&>) {
      return CollectorType(reader, a.logger);
    } else {
      return CollectorType(reader);
    }
  }

  Reader reader_;
  CollectorType collector_;
};

// One registration line: RegisterCollector<NodeMemoryCollector,
// libvirt::NodeMemoryReader>().
template <typename CollectorType, typename Reader>
CollectorRegistration RegisterCollector() {
  return {CollectorType::kInfo, [](LibvirtAccess& access) {
            return std::make_unique<WithReader<CollectorType, Reader>>(access);
          }};
}

}  // namespace lme
