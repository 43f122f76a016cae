#include "core/metric_set.h"

namespace lme {
namespace {

constexpr std::string_view kEscapedInLabelValues = "\\\n\"";

const char* EscapeFor(char special) {
  switch (special) {
    case '\n': return "\\n";
    case '"': return "\\\"";
    default: return "\\\\";
  }
}

// Copies runs of plain characters at once: label values rarely need escapes.
void AppendEscapedLabelValue(std::string_view value, std::string& out) {
  for (;;) {
    const std::size_t special = value.find_first_of(kEscapedInLabelValues);
    out.append(value.substr(0, special));
    if (special == std::string_view::npos) return;
    out += EscapeFor(value[special]);
    value.remove_prefix(special + 1);
  }
}

// The inverse of writing a label set: only ever reads what AddLabels wrote.
Labels ParseLabelText(std::string_view text) {
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

MetricSet::MetricSet() : label_ends_{0} {}

template <typename Pairs>
LabelSetId MetricSet::AppendLabelSet(const Pairs& labels) {
  if (labels.size() == 0) return kNoLabels;
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) label_text_ += ',';
    first = false;
    label_text_ += name;
    label_text_ += "=\"";
    AppendEscapedLabelValue(value, label_text_);
    label_text_ += '"';
  }
  label_ends_.push_back(label_text_.size());
  return static_cast<LabelSetId>(label_ends_.size() - 1);
}

LabelSetId MetricSet::AddLabels(const Labels& labels) {
  return AppendLabelSet(labels);
}

LabelSetId MetricSet::AddLabels(LabelViews labels) {
  return AppendLabelSet(labels);
}

void MetricSet::ReserveLabels(std::size_t label_sets, std::size_t bytes) {
  label_ends_.reserve(label_ends_.size() + label_sets);
  label_text_.reserve(label_text_.size() + bytes);
}

std::string_view MetricSet::LabelText(LabelSetId id) const {
  const std::size_t begin = id == kNoLabels ? 0 : label_ends_[id - 1];
  return std::string_view(label_text_).substr(begin, label_ends_[id] - begin);
}

Labels MetricSet::LabelsOf(LabelSetId id) const {
  return ParseLabelText(LabelText(id));
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
                          double value, const Labels& labels) {
  Family family = MakeFamily(std::move(name), std::move(help), type);
  family.samples.push_back({AddLabels(labels), value});
  Add(std::move(family));
}

void MetricSet::Append(MetricSet other) {
  if (families_.empty() && label_ends_.size() == 1) {
    *this = std::move(other);
    return;
  }
  const auto offset = static_cast<LabelSetId>(label_ends_.size() - 1);
  const std::size_t text_offset = label_text_.size();
  label_text_ += other.label_text_;
  for (std::size_t i = 1; i < other.label_ends_.size(); ++i) {
    label_ends_.push_back(other.label_ends_[i] + text_offset);
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
    prometheus::MetricFamily converted{
        family.name, family.help, family.type, {}};
    for (const auto& sample : family.samples) {
      converted.metric.push_back(ToClientMetric(
          family.type, set.LabelsOf(sample.labels), sample.value));
    }
    families.push_back(std::move(converted));
  }
  return families;
}

}  // namespace lme
