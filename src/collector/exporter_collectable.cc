#include "collector/exporter_collectable.h"

#include <chrono>
#include <exception>
#include <set>
#include <stdexcept>

#include "util/exception_text.h"

namespace lme {
namespace {

constexpr const char* kSelfPrefix = "libvirt_memory_exporter_";

}  // namespace

ExporterCollectable::ExporterCollectable(std::vector<CollectorEntry> collectors,
                                         BuildInfo build_info, Logger& logger)
    : collectors_(std::move(collectors)),
      build_info_(std::move(build_info)),
      logger_(logger) {}

CollectorSelection ExporterCollectable::Select(
    const std::vector<std::string>& collect,
    const std::vector<std::string>& exclude) const {
  std::vector<std::string> registered;
  std::set<std::string> enabled;
  for (const auto& entry : collectors_) {
    registered.push_back(entry.name);
    if (entry.collector != nullptr) enabled.insert(entry.name);
  }
  return SelectCollectors(registered, enabled, collect, exclude);
}

std::shared_ptr<const MetricSet> ExporterCollectable::Collect(
    Deadline deadline, const CollectorSelection& selection) const {
  try {
    const std::string key = SelectionKey(selection);
    std::unique_lock<std::mutex> lock(mutex_);
    if (in_flight_.count(key) > 0) {
      return WaitForCollectionInFlight(lock, deadline, selection, key);
    }
    return LeadCollection(lock, deadline, selection, key);
  } catch (...) {
    // Only allocation failure can get here; an empty answer beats a crash.
    logger_.Error("scrape failed", {{"err", CurrentExceptionText()}});
    return std::make_shared<const MetricSet>();
  }
}

bool ExporterCollectable::JoinInFlight(Deadline deadline,
                                       const CollectorSelection& selection,
                                       Joiner done) const {
  const std::string key = SelectionKey(selection);
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = in_flight_.find(key);
  if (found == in_flight_.end() || found->second->deadline > deadline) {
    return false;
  }
  found->second->joiners.push_back(std::move(done));
  return true;
}

// Starts the collection for this selection, which later scrapes with the
// same selection join, once no other collection runs.
std::shared_ptr<const MetricSet> ExporterCollectable::LeadCollection(
    std::unique_lock<std::mutex>& lock, Deadline deadline,
    const CollectorSelection& selection, const std::string& key) const {
  const auto flight = std::make_shared<Flight>();
  flight->deadline = deadline;
  in_flight_[key] = flight;
  if (!collection_done_.wait_until(lock, deadline,
                                   [this] { return !collecting_; })) {
    logger_.Debug("a scrape gave up waiting for another collection to end");
    auto result = std::make_shared<const MetricSet>(
        NotRunFamilies(selection, collections_));
    std::shared_ptr<const MetricSet> for_joiners;
    auto joiners = LandLocked(key, *flight, result, selection, for_joiners);
    lock.unlock();
    CallJoiners(std::move(joiners), for_joiners);
    return result;
  }
  collecting_ = true;
  lock.unlock();
  std::shared_ptr<const MetricSet> result;
  try {
    result = std::make_shared<const MetricSet>(CollectNow(deadline, selection));
  } catch (...) {
    EndCollection(key, *flight, nullptr, selection);
    throw;
  }
  EndCollection(key, *flight, result, selection);
  return result;
}

// Hands the result to the scrapes that waited for this collection (a failed
// one, nullptr, leaves them to answer without it) and the turn to the next.
void ExporterCollectable::EndCollection(
    const std::string& key, Flight& flight,
    std::shared_ptr<const MetricSet> result,
    const CollectorSelection& selection) const {
  std::shared_ptr<const MetricSet> for_joiners;
  std::vector<Joiner> joiners;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    collecting_ = false;
    joiners =
        LandLocked(key, flight, std::move(result), selection, for_joiners);
  }
  CallJoiners(std::move(joiners), for_joiners);
}

std::vector<ExporterCollectable::Joiner> ExporterCollectable::LandLocked(
    const std::string& key, Flight& flight,
    std::shared_ptr<const MetricSet> result,
    const CollectorSelection& selection,
    std::shared_ptr<const MetricSet>& for_joiners) const {
  flight.result = std::move(result);
  flight.done = true;
  in_flight_.erase(key);
  collection_done_.notify_all();
  if (!flight.joiners.empty()) {
    for_joiners = flight.result ? flight.result
                                : std::make_shared<const MetricSet>(
                                      NotRunFamilies(selection, collections_));
  }
  return std::move(flight.joiners);
}

// Outside the lock: a joiner may do anything but block.
void ExporterCollectable::CallJoiners(
    std::vector<Joiner> joiners,
    const std::shared_ptr<const MetricSet>& result) const {
  for (Joiner& joiner : joiners) {
    try {
      joiner(result);
    } catch (...) {
      logger_.Error("a scrape sharing a collection failed",
                    {{"err", CurrentExceptionText()}});
    }
  }
}

std::shared_ptr<const MetricSet> ExporterCollectable::WaitForCollectionInFlight(
    std::unique_lock<std::mutex>& lock, Deadline deadline,
    const CollectorSelection& selection, const std::string& key) const {
  // Its own reference: the flight may land and the next one start before
  // this waiter runs again.
  const std::shared_ptr<Flight> flight = in_flight_.at(key);
  collection_done_.wait_until(lock, deadline, [&] { return flight->done; });
  if (flight->result) return flight->result;
  logger_.Debug("a scrape gave up waiting for the collection in flight");
  return std::make_shared<const MetricSet>(
      NotRunFamilies(selection, collections_));
}

MetricSet ExporterCollectable::CollectNow(
    Deadline deadline, const CollectorSelection& selection) const {
  MetricSet collected;
  std::vector<Outcome> outcomes;
  for (const std::string& name : selection.collectors) {
    // Without libvirt the others would only fail the same way, each
    // dialling libvirt again.
    const bool libvirt_down = !outcomes.empty() && outcomes.front().threw;
    outcomes.push_back(libvirt_down ? Outcome{name}
                                    : Run(name, deadline, collected));
  }
  std::uint64_t collections = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    collections = ++collections_;
  }
  MetricSet families = SelfFamilies(outcomes, collections);
  families.Append(std::move(collected));
  return families;
}

Collector* ExporterCollectable::Find(const std::string& name) const {
  for (const auto& entry : collectors_) {
    if (entry.name == name) return entry.collector;
  }
  return nullptr;
}

ExporterCollectable::Outcome ExporterCollectable::Run(const std::string& name,
                                                      Deadline deadline,
                                                      MetricSet& out) const {
  const auto start = std::chrono::steady_clock::now();
  Outcome outcome{name};
  try {
    Collector* collector = Find(name);
    if (collector == nullptr) throw std::logic_error("collector is disabled");
    MetricSet families;
    outcome.success = collector->Update(deadline, families);
    outcome.threw = false;
    out.Append(std::move(families));
    if (outcome.success) {
      LogRecovery(name);
    } else {
      LogFailure(name, "some domains did not answer in time");
    }
  } catch (...) {
    LogFailure(name, CurrentExceptionText());
  }
  outcome.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return outcome;
}

// A collector that keeps failing is logged when it starts failing (and when
// the reason changes), not on every scrape.
void ExporterCollectable::LogFailure(const std::string& collector,
                                     const std::string& what) const {
  auto [it, inserted] = last_failure_.try_emplace(collector, what);
  if (!inserted && it->second == what) {
    logger_.Debug("collector failed",
                  {{"collector", collector}, {"err", what}});
    return;
  }
  it->second = what;
  logger_.Error("collector failed", {{"collector", collector}, {"err", what}});
}

void ExporterCollectable::LogRecovery(const std::string& collector) const {
  if (last_failure_.erase(collector) == 0) return;
  logger_.Info("collector recovered", {{"collector", collector}});
}

// What a scrape answers when it could not have a collection in time: every
// selected collector failed.
MetricSet ExporterCollectable::NotRunFamilies(
    const CollectorSelection& selection, std::uint64_t collections) const {
  std::vector<Outcome> outcomes;
  for (const auto& name : selection.collectors) outcomes.push_back({name});
  return SelfFamilies(outcomes, collections);
}

// `libvirt_up` comes from the first collector, the one that connects; a
// scrape that selected none made no libvirt call and leaves it out.
MetricSet ExporterCollectable::SelfFamilies(
    const std::vector<Outcome>& outcomes,
    std::uint64_t collections_so_far) const {
  MetricSet families;
  if (!outcomes.empty()) {
    families.AddSingle(
        "libvirt_up",
        "1 when the exporter could connect to libvirt and list the domains, "
        "else 0.",
        MetricType::Gauge, outcomes.front().threw ? 0 : 1);
  }
  auto duration = MakeFamily(
      std::string(kSelfPrefix) + "scrape_collector_duration_seconds",
      "Time a collector took in this scrape, in seconds.", MetricType::Gauge);
  auto success =
      MakeFamily(std::string(kSelfPrefix) + "scrape_collector_success",
                 "1 when a collector succeeded in this scrape, else 0.",
                 MetricType::Gauge);
  for (const auto& outcome : outcomes) {
    const LabelSetId labels =
        families.AddLabels({{"collector", outcome.collector}});
    duration.samples.push_back({labels, outcome.seconds});
    success.samples.push_back({labels, outcome.success ? 1.0 : 0.0});
  }
  families.Add(std::move(duration));
  families.Add(std::move(success));
  families.AddSingle(
      std::string(kSelfPrefix) + "build_info",
      "A metric with a constant value 1, labelled with the exporter's version "
      "and the libvirt library version it runs with.",
      MetricType::Gauge, 1,
      {{"libvirt_version", build_info_.libvirt_version},
       {"version", build_info_.version}});
  families.AddSingle(
      std::string(kSelfPrefix) + "collections_total",
      "Collections from libvirt; scrapes that arrive while one runs share it.",
      MetricType::Counter, static_cast<double>(collections_so_far));
  return families;
}

}  // namespace lme
