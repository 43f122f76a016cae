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

}  // namespace lme
