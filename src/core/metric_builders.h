// Small helpers to fill prometheus-cpp's plain metric structs per scrape.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>

namespace lme {

using Labels = std::vector<std::pair<std::string, std::string>>;

prometheus::MetricFamily MakeFamily(std::string name, std::string help,
                                    prometheus::MetricType type);

// Appends a sample, stored in the field that matches the family's type.
void AddSample(prometheus::MetricFamily& family, const Labels& labels,
               double value);

// A family with a single unlabelled (or labelled) sample.
prometheus::MetricFamily SingleGauge(std::string name, std::string help,
                                     double value, const Labels& labels = {});

}  // namespace lme
