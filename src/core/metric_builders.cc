#include "core/metric_builders.h"

namespace lme {

prometheus::MetricFamily MakeFamily(std::string name, std::string help,
                                    prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

void AddSample(prometheus::MetricFamily& family, const Labels& labels,
               double value) {
  prometheus::ClientMetric metric;
  metric.label.reserve(labels.size());
  for (const auto& [name, label_value] : labels) {
    metric.label.push_back({name, label_value});
  }
  switch (family.type) {
    case prometheus::MetricType::Counter:
      metric.counter.value = value;
      break;
    case prometheus::MetricType::Gauge:
      metric.gauge.value = value;
      break;
    default:
      metric.untyped.value = value;
      break;
  }
  family.metric.push_back(std::move(metric));
}

prometheus::MetricFamily SingleGauge(std::string name, std::string help,
                                     double value, const Labels& labels) {
  auto family = MakeFamily(std::move(name), std::move(help),
                           prometheus::MetricType::Gauge);
  AddSample(family, labels, value);
  return family;
}

}  // namespace lme
