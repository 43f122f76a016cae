#include "core/exposition.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

namespace lme {
namespace {

// HELP text escapes backslash and newline; label values also the quote.
void AppendEscaped(std::string_view text, bool quote, std::string& out) {
  for (char c : text) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '"':
        if (quote) {
          out += "\\\"";
          break;
        }
        [[fallthrough]];
      default: out += c;
    }
  }
}

// Integers that a double holds exactly (byte counts, timestamps) are written
// in full; anything else in the shortest form that reads back the same.
void AppendValue(double value, std::string& out) {
  constexpr double kExactIntegers = 9007199254740992.0;  // 2^53
  char buffer[32];
  std::to_chars_result result{};
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  if (std::trunc(value) == value && std::fabs(value) < kExactIntegers) {
    result = std::to_chars(buffer, buffer + sizeof buffer,
                           static_cast<std::int64_t>(value));
  } else {
    result = std::to_chars(buffer, buffer + sizeof buffer, value);
  }
  out.append(buffer, result.ptr);
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::Counter: return "counter";
    case MetricType::Gauge: return "gauge";
    case MetricType::Summary: return "summary";
    case MetricType::Histogram: return "histogram";
    default: return "untyped";
  }
}

// Every label set of the scrape, written out once: `a="x",b="y"`.
class LabelBlocks {
 public:
  explicit LabelBlocks(const MetricSet& set) {
    ends_.reserve(set.label_sets().size());
    for (const Labels& labels : set.label_sets()) {
      for (std::size_t i = 0; i < labels.size(); ++i) {
        if (i > 0) text_ += ',';
        text_ += labels[i].first;
        text_ += "=\"";
        AppendEscaped(labels[i].second, true, text_);
        text_ += '"';
      }
      ends_.push_back(text_.size());
    }
  }

  std::string_view Of(LabelSetId id) const {
    const std::size_t begin = id == 0 ? 0 : ends_[id - 1];
    return std::string_view(text_).substr(begin, ends_[id] - begin);
  }

 private:
  std::string text_;
  std::vector<std::size_t> ends_;
};

void AppendHeader(const Family& family, std::string& out) {
  if (!family.help.empty()) {
    out += "# HELP ";
    out += family.name;
    out += ' ';
    AppendEscaped(family.help, false, out);
    out += '\n';
  }
  out += "# TYPE ";
  out += family.name;
  out += ' ';
  out += TypeName(family.type);
  out += '\n';
}

void AppendSample(const Family& family, std::string_view labels,
                  double value, std::string& out) {
  out += family.name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  AppendValue(value, out);
  out += '\n';
}

// An upper bound, so the text is never copied while it grows; pages that
// stay unwritten cost no memory.
std::size_t MaximumSize(const MetricSet& set, const LabelBlocks& blocks) {
  constexpr std::size_t kMaximumValueAndPunctuation = 32;
  std::size_t size = 0;
  for (const auto& family : set.families()) {
    size += 2 * family.name.size() + 2 * family.help.size() + 32;
    for (const Sample& sample : family.samples) {
      size += family.name.size() + blocks.Of(sample.labels).size() +
              kMaximumValueAndPunctuation;
    }
  }
  return size;
}

}  // namespace

std::string RenderExposition(const MetricSet& set) {
  const LabelBlocks blocks(set);
  std::string out;
  out.reserve(MaximumSize(set, blocks));
  for (const auto& family : set.families()) {
    AppendHeader(family, out);
    for (const Sample& sample : family.samples) {
      AppendSample(family, blocks.Of(sample.labels), sample.value, out);
    }
  }
  return out;
}

std::shared_ptr<const std::string> ExpositionCache::Render(
    const std::shared_ptr<const MetricSet>& set) {
  std::lock_guard<std::mutex> lock(mutex_);
  // A live weak pointer to the same set: same collection, same text.
  if (rendered_from_.lock() == set && text_) return text_;
  // Let go of the old text first (scrapes still sending it hold their own
  // reference): the two never need to be in memory together.
  text_.reset();
  text_ = std::make_shared<const std::string>(RenderExposition(*set));
  rendered_from_ = set;
  return text_;
}

}  // namespace lme
