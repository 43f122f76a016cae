#include "collector/exporter_collectable.h"

#include <chrono>
#include <exception>

#include "core/metric_builders.h"

namespace lme {
namespace {

constexpr const char* kSelfPrefix = "libvirt_memory_exporter_";

std::string CurrentExceptionMessage() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

ExporterCollectable::ExporterCollectable(Collector& libvirt_collector,
                                         std::vector<Collector*> others,
                                         BuildInfo build_info, Logger& logger)
    : libvirt_collector_(libvirt_collector),
      others_(std::move(others)),
      build_info_(std::move(build_info)),
      logger_(logger) {}

std::vector<prometheus::MetricFamily> ExporterCollectable::Collect() const {
  try {
    std::lock_guard<std::mutex> lock(collect_mutex_);
    std::vector<prometheus::MetricFamily> collected;
    std::vector<Outcome> outcomes{Run(libvirt_collector_, collected)};
    for (Collector* other : others_) {
      // Without libvirt the others would only fail the same way, each
      // dialling libvirt again.
      outcomes.push_back(outcomes.front().success
                             ? Run(*other, collected)
                             : Outcome{other->Name(), 0, false});
    }
    auto families = SelfFamilies(outcomes.front().success, outcomes);
    for (auto& family : collected) families.push_back(std::move(family));
    return families;
  } catch (...) {
    // Only allocation failure can get here; an empty answer beats a crash.
    logger_.Error("scrape failed", {{"err", CurrentExceptionMessage()}});
    return {};
  }
}

ExporterCollectable::Outcome ExporterCollectable::Run(
    Collector& collector, std::vector<prometheus::MetricFamily>& out) const {
  const auto start = std::chrono::steady_clock::now();
  Outcome outcome{collector.Name()};
  try {
    std::vector<prometheus::MetricFamily> families;
    collector.Update(families);
    for (auto& family : families) out.push_back(std::move(family));
    outcome.success = true;
    LogRecovery(outcome.collector);
  } catch (...) {
    LogFailure(outcome.collector, CurrentExceptionMessage());
  }
  outcome.seconds = std::chrono::duration<double>(
                        std::chrono::steady_clock::now() - start)
                        .count();
  return outcome;
}

// A collector that keeps failing is logged when it starts failing (and when
// the reason changes), not on every scrape.
void ExporterCollectable::LogFailure(const std::string& collector,
                                     const std::string& what) const {
  auto [it, inserted] = last_failure_.try_emplace(collector, what);
  if (!inserted && it->second == what) {
    logger_.Debug("collector failed", {{"collector", collector}, {"err", what}});
    return;
  }
  it->second = what;
  logger_.Error("collector failed", {{"collector", collector}, {"err", what}});
}

void ExporterCollectable::LogRecovery(const std::string& collector) const {
  if (last_failure_.erase(collector) == 0) return;
  logger_.Info("collector recovered", {{"collector", collector}});
}

std::vector<prometheus::MetricFamily> ExporterCollectable::SelfFamilies(
    bool libvirt_up, const std::vector<Outcome>& outcomes) const {
  std::vector<prometheus::MetricFamily> families;
  families.push_back(SingleGauge(
      "libvirt_up",
      "1 when the exporter could connect to libvirt and list the domains, "
      "else 0.",
      libvirt_up ? 1 : 0));
  auto duration = MakeFamily(
      std::string(kSelfPrefix) + "scrape_collector_duration_seconds",
      "Time a collector took in this scrape, in seconds.",
      prometheus::MetricType::Gauge);
  auto success = MakeFamily(
      std::string(kSelfPrefix) + "scrape_collector_success",
      "1 when a collector succeeded in this scrape, else 0.",
      prometheus::MetricType::Gauge);
  for (const auto& outcome : outcomes) {
    AddSample(duration, {{"collector", outcome.collector}}, outcome.seconds);
    AddSample(success, {{"collector", outcome.collector}},
              outcome.success ? 1 : 0);
  }
  families.push_back(std::move(duration));
  families.push_back(std::move(success));
  families.push_back(SingleGauge(
      std::string(kSelfPrefix) + "build_info",
      "A metric with a constant value 1, labelled with the exporter's version "
      "and the libvirt library version it runs with.",
      1,
      {{"libvirt_version", build_info_.libvirt_version},
       {"version", build_info_.version}}));
  return families;
}

}  // namespace lme
