#include "collector/domain_memory_collector.h"

#include <algorithm>

#include "core/domain_families.h"

namespace lme {

DomainMemoryCollector::DomainMemoryCollector(DomainMemorySource& source,
                                             Logger& logger)
    : source_(source), logger_(logger) {}

bool DomainMemoryCollector::Update(Deadline deadline, MetricSet& out) {
  const std::vector<DomainMemory> domains = source_.FetchDomainMemory(deadline);
  WarnAboutInconsistentReports(domains);
  out.Append(BuildDomainCollectorFamilies(domains));
  out.AddSingle(
      "libvirt_memory_exporter_domain_definition_reads_total",
      "Domain definitions read for the balloon's device and stats period: "
      "once per domain start, again after --libvirt.definition-refresh, "
      "and when a guest's status needs confirming.",
      MetricType::Counter, static_cast<double>(source_.DefinitionReads()));
  return std::none_of(domains.begin(), domains.end(),
                      [](const DomainMemory& d) { return d.timed_out; });
}

void DomainMemoryCollector::WarnAboutInconsistentReports(
    const std::vector<DomainMemory>& domains) {
  std::vector<const DomainMemory*> inconsistent;
  // Only reports that count now: a stale guest's old report is not logged.
  for (const auto& domain : domains) {
    if (ComputeUsed(CurrentStats(domain)).inconsistent) {
      inconsistent.push_back(&domain);
    }
  }
  inconsistent_reports_.Report(
      inconsistent,
      [](const DomainMemory* d) { return d->uuid + "/" + d->name; },
      [&](const DomainMemory* d) {
        logger_.Warn(
            "guest reports more unused than available memory; leaving out its "
            "used memory",
            {{"domain", d->name},
             {"uuid", d->uuid},
             {"available_kib", std::to_string(*d->stats.available_kib)},
             {"unused_kib", std::to_string(*d->stats.unused_kib)}});
      });
}

}  // namespace lme
