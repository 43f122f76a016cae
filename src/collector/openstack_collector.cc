#include "collector/openstack_collector.h"

#include "core/openstack_metadata.h"

namespace lme {

bool OpenStackCollector::Update(Deadline deadline, MetricSet& out) {
  out.Append(BuildOpenStackFamilies(source_.FetchOpenStackMetadata(deadline)));
  out.AddSingle(
      "libvirt_memory_exporter_openstack_metadata_reads_total",
      "Domain metadata reads for Nova instance info; flat while the domains "
      "stay the same, because results are cached per domain start.",
      MetricType::Counter, static_cast<double>(source_.MetadataReads()));
  return true;
}

}  // namespace lme
