#include "core/exposition.h"

#include <charconv>
#include <cmath>
#include <cstdint>

namespace lme {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

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

double SampleValue(MetricType type, const ClientMetric& metric) {
  switch (type) {
    case MetricType::Counter: return metric.counter.value;
    case MetricType::Gauge: return metric.gauge.value;
    default: return metric.untyped.value;
  }
}

void AppendSample(const MetricFamily& family, const ClientMetric& metric,
                  std::string& out) {
  out += family.name;
  if (!metric.label.empty()) {
    out += '{';
    for (std::size_t i = 0; i < metric.label.size(); ++i) {
      if (i > 0) out += ',';
      out += metric.label[i].name;
      out += "=\"";
      AppendEscaped(metric.label[i].value, true, out);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  AppendValue(SampleValue(family.type, metric), out);
  out += '\n';
}

}  // namespace

void AppendExposition(const std::vector<MetricFamily>& families,
                      std::string& out) {
  for (const auto& family : families) {
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
    for (const auto& metric : family.metric) AppendSample(family, metric, out);
  }
}

std::string RenderExposition(const std::vector<MetricFamily>& families) {
  std::size_t samples = 0;
  for (const auto& family : families) samples += family.metric.size();
  std::string out;
  // About 110 bytes a sample with the domain and UUID labels.
  out.reserve(samples * 128 + families.size() * 160);
  AppendExposition(families, out);
  return out;
}

std::shared_ptr<const std::string> ExpositionCache::Render(
    const std::shared_ptr<const Families>& families) {
  std::lock_guard<std::mutex> lock(mutex_);
  // A live weak pointer to the same families: same collection, same text.
  if (rendered_from_.lock() == families && text_) return text_;
  text_ = std::make_shared<const std::string>(RenderExposition(*families));
  rendered_from_ = families;
  return text_;
}

}  // namespace lme
