#include "collector/openstack_collector.h"

#include "core/openstack_metadata.h"

namespace lme {

bool OpenStackCollector::Update(Deadline deadline, MetricSet& out) {
  out.Append(BuildOpenStackFamilies(source_.FetchOpenStackMetadata(deadline)));
  out.AddSingle(
      "libvirt_memory_exporter_openstack_metadata_reads_total",
      "Domain definitions read for Nova instance info by this collector; "
      "flat while the domains stay the same, as definitions are kept per "
      "domain start and shared with the domain_memory collector (0 while "
      "that one runs: it reads them first).",
      MetricType::Counter, static_cast<double>(source_.MetadataReads()));
  return true;
}

}  // namespace lme
