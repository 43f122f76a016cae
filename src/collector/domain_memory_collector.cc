#include "collector/domain_memory_collector.h"

#include <set>

#include "core/memory_families.h"
#include "core/metric_builders.h"

namespace lme {

DomainMemoryCollector::DomainMemoryCollector(DomainMemorySource& source,
                                             Logger& logger)
    : source_(source), logger_(logger) {}

void DomainMemoryCollector::Update(
    std::vector<prometheus::MetricFamily>& out) {
  const std::vector<DomainMemory> domains = source_.FetchDomainMemory();
  WarnAboutInconsistentReports(domains);
  out.push_back(SingleGauge("libvirt_domains",
                            "Number of active domains seen in this scrape.",
                            static_cast<double>(domains.size())));
  for (auto& family : BuildMemoryFamilies(domains)) {
    out.push_back(std::move(family));
  }
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
