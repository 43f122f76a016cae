// The families of one scrape, as the collectors build them and the
// exposition writer reads them.
#pragma once

#include <prometheus/metric_type.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lme {

using Labels = std::vector<std::pair<std::string, std::string>>;
// Labels for a moment, without copying names and values: what the
// per-domain builders pass for every domain.
using LabelViews =
    std::initializer_list<std::pair<std::string_view, std::string_view>>;
using MetricType = prometheus::MetricType;

// Index of a label set in its MetricSet.
using LabelSetId = std::uint32_t;

struct Sample {
  LabelSetId labels;
  double value;
};

struct Family {
  std::string name;
  std::string help;
  MetricType type;
  std::vector<Sample> samples;
};

// Series refer to label sets instead of owning labels: a domain's series in
// all its memory families share one, so a series costs 16 bytes.
// prometheus-cpp's ClientMetric (over 200 bytes, plus its own copy of every
// label) was most of the exporter's memory and CPU at thousands of domains.
// Label sets are kept as the exposition writes them, escaped once.
class MetricSet {
 public:
  static constexpr LabelSetId kNoLabels = 0;

  MetricSet();

  LabelSetId AddLabels(const Labels& labels);
  LabelSetId AddLabels(LabelViews labels);
  // Room for `label_sets` more label sets of about `bytes` in all, so a
  // large scrape does not copy its label text as it grows.
  void ReserveLabels(std::size_t label_sets, std::size_t bytes);
  // As the exposition format writes it: `a="x",b="y \"quoted\""`.
  std::string_view LabelText(LabelSetId id) const;
  std::size_t LabelSetCount() const { return label_ends_.size(); }
  const std::vector<Family>& families() const { return families_; }
  std::size_t SampleCount() const;

  // A family without samples is left out: there is nothing to expose.
  void Add(Family family);
  void AddSample(Family& family, const Labels& labels, double value);
  void AddSingle(std::string name, std::string help, MetricType type,
                 double value, const Labels& labels = {});
  // Appends `other`'s families after this set's own.
  void Append(MetricSet other);

 private:
  template <typename Pairs>
  LabelSetId AppendLabelSet(const Pairs& labels);

  std::string label_text_;
  std::vector<std::size_t> label_ends_;  // label set i ends at label_ends_[i]
  std::vector<Family> families_;
};

Family MakeFamily(std::string name, std::string help, MetricType type);

}  // namespace lme
