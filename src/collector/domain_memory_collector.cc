#include "collector/domain_memory_collector.h"

#include <algorithm>
#include <set>

#include "core/domain_families.h"

namespace lme {

DomainMemoryCollector::DomainMemoryCollector(DomainMemorySource& source,
                                             Logger& logger)
    : source_(source), logger_(logger) {}

bool DomainMemoryCollector::Update(Deadline deadline, MetricSet& out) {
  const std::vector<DomainMemory> domains = source_.FetchDomainMemory(deadline);
  WarnAboutInconsistentReports(domains);
  out.Append(BuildDomainCollectorFamilies(domains));
  return std::none_of(domains.begin(), domains.end(),
                      [](const DomainMemory& d) { return d.timed_out; });
}

void DomainMemoryCollector::WarnAboutInconsistentReports(
    const std::vector<DomainMemory>& domains) {
  std::set<std::string> inconsistent;
  for (const auto& domain : domains) {
    if (!ComputeUsed(domain.stats).inconsistent) continue;
    const std::string key = domain.uuid + "/" + domain.name;
    inconsistent.insert(key);
    if (inconsistent_reports_.First(key)) {
      logger_.Warn(
          "guest reports more unused than available memory; leaving out its "
          "used memory",
          {{"domain", domain.name},
           {"uuid", domain.uuid},
           {"available_kib", std::to_string(*domain.stats.available_kib)},
           {"unused_kib", std::to_string(*domain.stats.unused_kib)}});
    }
  }
  inconsistent_reports_.KeepOnly(inconsistent);
}

}  // namespace lme
