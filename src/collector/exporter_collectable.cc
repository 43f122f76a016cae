#include "collector/exporter_collectable.h"

#include <chrono>
#include <exception>

#include "collector/sources.h"
#include "util/exception_text.h"

namespace lme {
namespace {

constexpr const char* kSelfPrefix = "libvirt_memory_exporter_";

}  // namespace

ExporterCollectable::ExporterCollectable(Collector& libvirt_collector,
                                         std::vector<Collector*> others,
                                         BuildInfo build_info,
                                         Seconds default_budget, Logger& logger)
    : libvirt_collector_(libvirt_collector),
      others_(std::move(others)),
      build_info_(std::move(build_info)),
      default_budget_(default_budget),
      logger_(logger) {}

std::vector<prometheus::MetricFamily> ExporterCollectable::Collect() const {
  return Collect(
      std::chrono::steady_clock::now() +
      std::chrono::duration_cast<std::chrono::nanoseconds>(default_budget_));
}

std::vector<prometheus::MetricFamily> ExporterCollectable::Collect(
    Deadline deadline) const {
  return ToMetricFamilies(*CollectShared(deadline));
}

std::shared_ptr<const MetricSet> ExporterCollectable::CollectShared(
    Deadline deadline) const {
  try {
    std::unique_lock<std::mutex> lock(mutex_);
    if (in_flight_) return WaitForCollectionInFlight(lock, deadline);
    const auto flight = std::make_shared<Flight>();
    in_flight_ = flight;
    lock.unlock();
    std::shared_ptr<const Families> result;
    try {
      result = std::make_shared<const Families>(CollectNow(deadline));
    } catch (...) {
      Land(*flight, nullptr);
      throw;
    }
    Land(*flight, result);
    return result;
  } catch (...) {
    // Only allocation failure can get here; an empty answer beats a crash.
    logger_.Error("scrape failed", {{"err", CurrentExceptionText()}});
    return std::make_shared<const Families>();
  }
}

// Hands the result to the scrapes that waited for this collection; a failed
// one (nullptr) leaves them to answer without it.
void ExporterCollectable::Land(Flight& flight,
                               std::shared_ptr<const Families> result) const {
  std::lock_guard<std::mutex> lock(mutex_);
  flight.result = std::move(result);
  flight.done = true;
  in_flight_.reset();
  collection_done_.notify_all();
}

std::shared_ptr<const ExporterCollectable::Families>
ExporterCollectable::WaitForCollectionInFlight(
    std::unique_lock<std::mutex>& lock, Deadline deadline) const {
  // Its own reference: the flight may land and the next one start before
  // this waiter runs again.
  const std::shared_ptr<Flight> flight = in_flight_;
  collection_done_.wait_until(lock, deadline, [&] { return flight->done; });
  if (flight->result) return flight->result;
  logger_.Debug("a scrape gave up waiting for the collection in flight");
  return std::make_shared<const Families>(NotRunFamilies(collections_));
}

ExporterCollectable::Families ExporterCollectable::CollectNow(
    Deadline deadline) const {
  Families collected;
  std::vector<Outcome> outcomes{Run(libvirt_collector_, deadline, collected)};
  const bool libvirt_up = !outcomes.front().threw;
  for (Collector* other : others_) {
    // Without libvirt the others would only fail the same way, each
    // dialling libvirt again.
    outcomes.push_back(libvirt_up ? Run(*other, deadline, collected)
                                  : Outcome{other->Name()});
  }
  std::uint64_t collections = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    collections = ++collections_;
  }
  Families families = SelfFamilies(libvirt_up, outcomes, collections);
  families.Append(std::move(collected));
  return families;
}

ExporterCollectable::Outcome ExporterCollectable::Run(Collector& collector,
                                                      Deadline deadline,
                                                      Families& out) const {
  const auto start = std::chrono::steady_clock::now();
  Outcome outcome{collector.Name()};
  try {
    Families families;
    outcome.success = collector.Update(deadline, families);
    outcome.threw = false;
    out.Append(std::move(families));
    if (outcome.success) {
      LogRecovery(outcome.collector);
    } else {
      LogFailure(outcome.collector, "some domains did not answer in time");
    }
  } catch (...) {
    LogFailure(outcome.collector, CurrentExceptionText());
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

ExporterCollectable::Families ExporterCollectable::NotRunFamilies(
    std::uint64_t collections) const {
  std::vector<Outcome> outcomes{Outcome{libvirt_collector_.Name()}};
  for (Collector* other : others_) outcomes.push_back(Outcome{other->Name()});
  return SelfFamilies(false, outcomes, collections);
}

ExporterCollectable::Families ExporterCollectable::SelfFamilies(
    bool libvirt_up, const std::vector<Outcome>& outcomes,
    std::uint64_t collections_so_far) const {
  Families families;
  families.AddSingle(
      "libvirt_up",
      "1 when the exporter could connect to libvirt and list the domains, "
      "else 0.",
      MetricType::Gauge, libvirt_up ? 1 : 0);
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
