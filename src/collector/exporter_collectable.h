// The single place where collectors run and their failures become metrics.
#pragma once

#include <prometheus/collectable.h>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "collector/collector.h"
#include "core/duration.h"
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
  // `default_budget` bounds a scrape that brings no deadline of its own.
  ExporterCollectable(Collector& libvirt_collector,
                      std::vector<Collector*> others, BuildInfo build_info,
                      Seconds default_budget, Logger& logger);

  // Never throws: a failing collector is logged and reported through the
  // success gauge, because an exception out of a scrape ends the process.
  std::vector<prometheus::MetricFamily> Collect() const override;

  // Answers by the deadline. Scrapes that arrive while a collection is
  // running share it instead of starting their own, so libvirt sees one
  // collection at a time however many scrapers there are.
  std::vector<prometheus::MetricFamily> Collect(Deadline deadline) const;

  // The same in the exporter's own model, without copying the answer:
  // scrapes that share a collection share its families.
  std::shared_ptr<const MetricSet> CollectShared(Deadline deadline) const;

 private:
  struct Outcome {
    std::string collector;
    double seconds = 0;
    bool success = false;
    bool threw = true;
  };
  using Families = MetricSet;
  struct Flight {
    bool done = false;
    std::shared_ptr<const Families> result;  // null when it failed
  };

  Families CollectNow(Deadline deadline) const;
  void Land(Flight& flight, std::shared_ptr<const Families> result) const;
  std::shared_ptr<const Families> WaitForCollectionInFlight(
      std::unique_lock<std::mutex>& lock, Deadline deadline) const;
  Outcome Run(Collector& collector, Deadline deadline, Families& out) const;
  void LogFailure(const std::string& collector, const std::string& what) const;
  void LogRecovery(const std::string& collector) const;
  Families SelfFamilies(bool libvirt_up, const std::vector<Outcome>& outcomes,
                        std::uint64_t collections_so_far) const;
  Families NotRunFamilies(std::uint64_t collections_so_far) const;

  Collector& libvirt_collector_;
  std::vector<Collector*> others_;
  BuildInfo build_info_;
  Seconds default_budget_;
  Logger& logger_;

  // Guards everything below; never held while collecting.
  mutable std::mutex mutex_;
  mutable std::condition_variable collection_done_;
  // The collection running now, if any; its waiters keep their own
  // reference, so nothing outlives the scrapes that share it.
  mutable std::shared_ptr<Flight> in_flight_;
  mutable std::uint64_t collections_ = 0;
  // Collector name to the error it last failed with (one collection at a
  // time touches it, so only the scrape running it does).
  mutable std::map<std::string, std::string> last_failure_;
};

}  // namespace lme
