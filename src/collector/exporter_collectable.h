// The single place where collectors run and their failures become metrics:
// the scrape entry point.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "collector/collector.h"
#include "core/collector_selection.h"
#include "core/duration.h"
#include "util/logger.h"

namespace lme {

struct BuildInfo {
  std::string version;
  std::string libvirt_version;
};

class ExporterCollectable {
 public:
  // `collectors`: every registered collector, in registration order; the
  // first one that runs in a scrape decides `libvirt_up` (it is the one that
  // connects to libvirt), and the others run only when it succeeded
  // (otherwise they are reported as failed without running).
  ExporterCollectable(std::vector<CollectorEntry> collectors,
                      BuildInfo build_info, Logger& logger);

  // The collectors a scrape with these URL parameters runs; an error when
  // they name unknown (or, in collect[], disabled) collectors.
  CollectorSelection Select(const std::vector<std::string>& collect,
                            const std::vector<std::string>& exclude) const;
  CollectorSelection SelectAll() const { return Select({}, {}); }

  // Runs the selected collectors and answers by the deadline; never throws:
  // a failing collector is logged and reported through the success gauge,
  // because an exception out of a scrape ends the process. Scrapes with the
  // same selection that arrive while its collection runs share it instead
  // of starting their own; collections run one at a time, because the
  // readers share one libvirt connection.
  std::shared_ptr<const MetricSet> Collect(
      Deadline deadline, const CollectorSelection& selection) const;

  using Joiner = std::function<void(std::shared_ptr<const MetricSet>)>;
  // Attaches `done` to the collection in flight for this selection when
  // there is one that ends by `deadline` (every collection ends by its own
  // deadline): true, and `done` is called once, from the thread that ends
  // that collection, with what the scrapes waiting in Collect get. False
  // when there is none (the caller collects with Collect). Never blocks on a
  // collection, so many scrapes can share one without a thread each.
  bool JoinInFlight(Deadline deadline, const CollectorSelection& selection,
                    Joiner done) const;

 private:
  struct Outcome {
    std::string collector;
    double seconds = 0;
    bool success = false;
    bool threw = true;
  };
  struct Flight {
    Deadline deadline;  // the leading scrape's: it ends by then
    bool done = false;
    std::shared_ptr<const MetricSet> result;  // null when it failed
    std::vector<Joiner> joiners;
  };

  std::shared_ptr<const MetricSet> LeadCollection(
      std::unique_lock<std::mutex>& lock, Deadline deadline,
      const CollectorSelection& selection, const std::string& key) const;
  MetricSet CollectNow(Deadline deadline,
                       const CollectorSelection& selection) const;
  void EndCollection(const std::string& key, Flight& flight,
                     std::shared_ptr<const MetricSet> result,
                     const CollectorSelection& selection) const;
  // Lands the flight; returns its joiners, to be called once the lock is
  // released, with what they get.
  std::vector<Joiner> LandLocked(
      const std::string& key, Flight& flight,
      std::shared_ptr<const MetricSet> result,
      const CollectorSelection& selection,
      std::shared_ptr<const MetricSet>& for_joiners) const;
  void CallJoiners(std::vector<Joiner> joiners,
                   const std::shared_ptr<const MetricSet>& result) const;
  std::shared_ptr<const MetricSet> WaitForCollectionInFlight(
      std::unique_lock<std::mutex>& lock, Deadline deadline,
      const CollectorSelection& selection, const std::string& key) const;
  Collector* Find(const std::string& name) const;
  Outcome Run(const std::string& name, Deadline deadline, MetricSet& out) const;
  void LogFailure(const std::string& collector, const std::string& what) const;
  void LogRecovery(const std::string& collector) const;
  MetricSet SelfFamilies(const std::vector<Outcome>& outcomes,
                         std::uint64_t collections_so_far) const;
  MetricSet NotRunFamilies(const CollectorSelection& selection,
                           std::uint64_t collections_so_far) const;

  std::vector<CollectorEntry> collectors_;
  BuildInfo build_info_;
  Logger& logger_;

  // Guards everything below; never held while collecting.
  mutable std::mutex mutex_;
  // Signalled when a collection ends (or a scrape gives up on its turn).
  mutable std::condition_variable collection_done_;
  // A collection runs: the turn is taken. One at a time, because the
  // readers share one libvirt connection.
  mutable bool collecting_ = false;
  // The collections running or waiting for their turn, by selection key;
  // their waiters keep their own reference, so nothing outlives the scrapes
  // that share it.
  mutable std::map<std::string, std::shared_ptr<Flight>> in_flight_;
  mutable std::uint64_t collections_ = 0;
  // Collector name to the error it last failed with; only the collection
  // that has the turn touches it.
  mutable std::map<std::string, std::string> last_failure_;
};

}  // namespace lme
