// The single place where collectors run and their failures become metrics.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/collectable.h>

#include "collector/collector.h"
#include "util/logger.h"

namespace lme {

struct BuildInfo {
  std::string version;
  std::string libvirt_version;
};

class ExporterCollectable : public prometheus::Collectable {
 public:
  // `libvirt_collector` decides `libvirt_up`: it is the one that connects to
  // libvirt and lists the domains. `others` run after it, and only when it
  // succeeded (otherwise they are reported as failed without running).
  ExporterCollectable(Collector& libvirt_collector,
                      std::vector<Collector*> others, BuildInfo build_info,
                      Logger& logger);

  // Never throws: a failing collector is logged and reported through the
  // success gauge, because an exception out of a scrape ends the process.
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  struct Outcome {
    std::string collector;
    double seconds = 0;
    bool success = false;
  };

  Outcome Run(Collector& collector,
              std::vector<prometheus::MetricFamily>& out) const;
  void LogFailure(const std::string& collector, const std::string& what) const;
  void LogRecovery(const std::string& collector) const;
  std::vector<prometheus::MetricFamily> SelfFamilies(
      bool libvirt_up, const std::vector<Outcome>& outcomes) const;

  Collector& libvirt_collector_;
  std::vector<Collector*> others_;
  BuildInfo build_info_;
  Logger& logger_;
  // libvirt sees one collection at a time, whatever the number of scrapers.
  mutable std::mutex collect_mutex_;
  // Collector name to the error it last failed with; guarded by the mutex.
  mutable std::map<std::string, std::string> last_failure_;
};

}  // namespace lme
