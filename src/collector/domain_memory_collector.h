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

  std::string Name() const override { return "domain_memory"; }
  bool Update(Deadline deadline, MetricSet& out) override;

 private:
  void WarnAboutInconsistentReports(const std::vector<DomainMemory>& domains);

  DomainMemorySource& source_;
  Logger& logger_;
  LogOnce inconsistent_reports_;
};

}  // namespace lme
