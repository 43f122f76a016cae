#include "collector/openstack_collector.h"

#include "core/metric_builders.h"
#include "core/openstack_metadata.h"

namespace lme {

bool OpenStackCollector::Update(Deadline deadline,
                                std::vector<prometheus::MetricFamily>& out) {
  for (auto& family :
       BuildOpenStackFamilies(source_.FetchOpenStackMetadata(deadline))) {
    out.push_back(std::move(family));
  }
  auto reads = MakeFamily(
      "libvirt_memory_exporter_openstack_metadata_reads_total",
      "Domain metadata reads for Nova instance info; flat while the domains "
      "stay the same, because results are cached per domain start.",
      prometheus::MetricType::Counter);
  AddSample(reads, {}, static_cast<double>(source_.MetadataReads()));
  out.push_back(std::move(reads));
  return true;
}

}  // namespace lme
