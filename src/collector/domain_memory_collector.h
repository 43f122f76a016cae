#pragma once

#include "collector/collector.h"
#include "collector/sources.h"
#include "util/logger.h"

namespace lme {

// Per-domain balloon memory stats, domain state and vCPUs, and the guests'
// memory summed per host.
class DomainMemoryCollector : public Collector {
 public:
  DomainMemoryCollector(DomainMemorySource& source, Logger& logger);

  static constexpr CollectorInfo kInfo{
      "domain_memory",
      "per-domain balloon memory stats, state and vCPUs, and the guests' "
      "memory summed per host",
      true};
  bool Update(Deadline deadline, MetricSet& out) override;

 private:
  void WarnAboutInconsistentReports(const std::vector<DomainMemory>& domains);

  DomainMemorySource& source_;
  Logger& logger_;
  LogOnce inconsistent_reports_;
};

}  // namespace lme
