// The tests' one set of helpers: domains to feed the builders, and test-only
// views of a MetricSet (prometheus-cpp's model, to compare with its
// serializer and to look families up; label sets back as pairs; the
// per-part family builders). Production code has a single path (the
// collectors into WriteExposition) and needs none of this. Used by the unit
// and integration tests, the fuzzers and the exposition benchmark.
#pragma once

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/domain_families.h"
#include "core/memory_families.h"
#include "core/memory_stats.h"
#include "core/metric_set.h"

namespace lme {

inline DomainMemory Running(std::string name, std::string uuid,
                            MemoryStats stats = {}) {
  DomainMemory domain;
  domain.name = std::move(name);
  domain.uuid = std::move(uuid);
  domain.stats = std::move(stats);
  domain.state = "running";
  return domain;
}

// What a guest whose balloon driver reports gives (KiB).
inline MemoryStats Reporting(std::uint64_t available, std::uint64_t unused) {
  MemoryStats stats;
  stats.available_kib = available;
  stats.unused_kib = unused;
  return stats;
}

// "libvirt_domain_memory_stats_" + suffix.
inline std::string MemoryStat(std::string_view suffix) {
  return std::string(kMemoryStatsPrefix) + std::string(suffix);
}

// The inverse of writing a label set: only ever reads what AddLabels wrote.
inline Labels ParseLabelText(std::string_view text) {
  Labels labels;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t equals = text.find('=', i);
    std::string name(text.substr(i, equals - i));
    std::string value;
    for (i = equals + 2; text[i] != '"'; ++i) {
      if (text[i] == '\\') {
        ++i;
        value += text[i] == 'n' ? '\n' : text[i];
      } else {
        value += text[i];
      }
    }
    labels.emplace_back(std::move(name), std::move(value));
    i += 2;  // the closing quote and the comma
  }
  return labels;
}

inline Labels LabelsOf(const MetricSet& set, LabelSetId id) {
  return ParseLabelText(set.LabelText(id));
}

inline prometheus::ClientMetric ToClientMetric(MetricType type,
                                               const Labels& labels,
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

// prometheus-cpp's model of the same families.
inline std::vector<prometheus::MetricFamily> ToMetricFamilies(
    const MetricSet& set) {
  std::vector<prometheus::MetricFamily> families;
  for (const auto& family : set.families()) {
    prometheus::MetricFamily converted{
        family.name, family.help, family.type, {}};
    for (const auto& sample : family.samples) {
      converted.metric.push_back(ToClientMetric(
          family.type, LabelsOf(set, sample.labels), sample.value));
    }
    families.push_back(std::move(converted));
  }
  return families;
}

// The family with that full name, or null.
inline const prometheus::MetricFamily* Find(
    const std::vector<prometheus::MetricFamily>& families,
    const std::string& name) {
  for (const auto& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

// One part of what the domain_memory collector builds, on its own.
inline MetricSet BuildMemoryFamilies(const std::vector<DomainMemory>& domains) {
  MetricSet set;
  AddMemoryFamilies(LabelDomains(domains, set), set);
  return set;
}

inline MetricSet BuildDomainFamilies(const std::vector<DomainMemory>& domains) {
  MetricSet set;
  AddDomainFamilies(LabelDomains(domains, set), set);
  return set;
}

}  // namespace lme
