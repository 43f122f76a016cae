#pragma once

#include "collector/collector.h"
#include "collector/sources.h"

namespace lme {

// Opt-in: one info series per Nova instance, joinable on `uuid`/`domain`.
class OpenStackCollector : public Collector {
 public:
  explicit OpenStackCollector(OpenStackMetadataSource& source)
      : source_(source) {}

  static constexpr CollectorInfo kInfo{
      "openstack_metadata",
      "Nova instance metadata (project, flavor, user) as "
      "libvirt_domain_openstack_info",
      false};
  bool Update(Deadline deadline, MetricSet& out) override;

 private:
  OpenStackMetadataSource& source_;
};

}  // namespace lme
