#include "core/metric_set.h"

namespace lme {
namespace {

prometheus::ClientMetric ToClientMetric(MetricType type, const Labels& labels,
                                        double value) {
  prometheus::ClientMetric metric;
  for (const auto& [name, label_value] : labels) {
    metric.label.push_back({name, label_value});
  }
  switch (type) {
    case MetricType::Counter: metric.counter.value = value; break;
    case MetricType::Gauge: metric.gauge.value = value; break;
    default: metric.untyped.value = value; break;
  }
  return metric;
}

}  // namespace

MetricSet::MetricSet() : label_sets_(1) {}

LabelSetId MetricSet::AddLabels(Labels labels) {
  if (labels.empty()) return kNoLabels;
  label_sets_.push_back(std::move(labels));
  return static_cast<LabelSetId>(label_sets_.size() - 1);
}

std::size_t MetricSet::SampleCount() const {
  std::size_t samples = 0;
  for (const auto& family : families_) samples += family.samples.size();
  return samples;
}

void MetricSet::Add(Family family) {
  if (!family.samples.empty()) families_.push_back(std::move(family));
}

void MetricSet::AddSample(Family& family, const Labels& labels, double value) {
  family.samples.push_back({AddLabels(labels), value});
}

void MetricSet::AddSingle(std::string name, std::string help, MetricType type,
                          double value, Labels labels) {
  Family family = MakeFamily(std::move(name), std::move(help), type);
  family.samples.push_back({AddLabels(std::move(labels)), value});
  Add(std::move(family));
}

void MetricSet::Append(MetricSet other) {
  const auto offset = static_cast<LabelSetId>(label_sets_.size() - 1);
  for (std::size_t i = 1; i < other.label_sets_.size(); ++i) {
    label_sets_.push_back(std::move(other.label_sets_[i]));
  }
  for (auto& family : other.families_) {
    for (auto& sample : family.samples) {
      if (sample.labels != kNoLabels) sample.labels += offset;
    }
    families_.push_back(std::move(family));
  }
}

Family MakeFamily(std::string name, std::string help, MetricType type) {
  return Family{std::move(name), std::move(help), type, {}};
}

std::vector<prometheus::MetricFamily> ToMetricFamilies(const MetricSet& set) {
  std::vector<prometheus::MetricFamily> families;
  for (const auto& family : set.families()) {
    prometheus::MetricFamily converted{family.name, family.help, family.type,
                                       {}};
    for (const auto& sample : family.samples) {
      converted.metric.push_back(ToClientMetric(
          family.type, set.LabelsOf(sample.labels), sample.value));
    }
    families.push_back(std::move(converted));
  }
  return families;
}

}  // namespace lme
