// Shared by the fuzz targets: a fatal check that libFuzzer reports as a
// crash, a decoder for the escaped text fields of the targets' input formats,
// and an independent reader of the text exposition that holds the exporter's
// writer to the format Prometheus parses and to prometheus-cpp's output.
#pragma once

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/exposition.h"
#include "test_support.h"

// abort() rather than assert(): the checks must hold in release builds too,
// and libFuzzer saves the input on SIGABRT.
#define FUZZ_CHECK(condition, message)                                         \
  do {                                                                         \
    if (!(condition)) {                                                        \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s) at %s:%d\n", (message), \
                   #condition, __FILE__, __LINE__);                            \
      std::abort();                                                            \
    }                                                                          \
  } while (0)

namespace lme_fuzz {

// Fields in the line formats cannot hold a raw tab or newline, yet hostile
// names need them: \n \r \t \\ \0 and \xHH are decoded. Anything else passes
// through, so mutated bytes still reach the code under test.
inline std::string Unescape(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    const char next = text[++i];
    switch (next) {
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case '0': out += '\0'; break;
      case '\\': out += '\\'; break;
      case 'x':
        if (i + 2 < text.size() &&
            std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
          out += static_cast<char>(
              std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
          i += 2;
          break;
        }
        out += "\\x";
        break;
      default: out += '\\'; out += next;
    }
  }
  return out;
}

inline std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(sep, start);
    parts.push_back(text.substr(start, end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

using LabelSet = std::vector<std::pair<std::string, std::string>>;

struct Sample {
  std::string name;
  LabelSet labels;
  double value = 0;
};

inline bool IsNameStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}
inline bool IsNameChar(char c) {
  return IsNameStart(c) || std::isdigit(static_cast<unsigned char>(c));
}

// Reads one sample line the way Prometheus' text parser does; aborts on
// anything it would reject.
inline Sample ParseSampleLine(std::string_view line) {
  Sample sample;
  std::size_t i = 0;
  while (i < line.size() && IsNameChar(line[i])) ++i;
  sample.name = std::string(line.substr(0, i));
  FUZZ_CHECK(!sample.name.empty(), "sample line without a metric name");
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      const std::size_t name_start = i;
      while (i < line.size() && IsNameChar(line[i])) ++i;
      std::string label(line.substr(name_start, i - name_start));
      FUZZ_CHECK(!label.empty(), "empty label name");
      FUZZ_CHECK(i + 1 < line.size() && line[i] == '=' && line[i + 1] == '"',
                 "label name not followed by =\"");
      i += 2;
      std::string value;
      while (true) {
        FUZZ_CHECK(i < line.size(), "unterminated label value");
        const char c = line[i++];
        if (c == '"') break;
        if (c == '\\') {
          FUZZ_CHECK(i < line.size(), "dangling backslash in label value");
          const char e = line[i++];
          FUZZ_CHECK(e == '\\' || e == '"' || e == 'n',
                     "invalid escape in label value");
          value += e == 'n' ? '\n' : e;
        } else {
          value += c;
        }
      }
      sample.labels.emplace_back(std::move(label), std::move(value));
      if (i < line.size() && line[i] == ',') ++i;
    }
    FUZZ_CHECK(i < line.size() && line[i] == '}', "unterminated label set");
    ++i;
  }
  FUZZ_CHECK(i < line.size() && line[i] == ' ', "no space before the value");
  const std::string value_text(line.substr(i + 1));
  char* end = nullptr;
  sample.value = std::strtod(value_text.c_str(), &end);
  FUZZ_CHECK(!value_text.empty() && end != nullptr && *end == '\0',
             "value is not a number");
  return sample;
}

inline double SampleValue(const prometheus::MetricFamily& family,
                          const prometheus::ClientMetric& metric) {
  switch (family.type) {
    case prometheus::MetricType::Counter: return metric.counter.value;
    case prometheus::MetricType::Gauge: return metric.gauge.value;
    default: return metric.untyped.value;
  }
}

struct ParsedExposition {
  std::vector<std::string> comments;
  std::vector<Sample> samples;
};

// Every line is a comment or a sample line Prometheus would accept.
inline ParsedExposition ParseExposition(const std::string& text) {
  FUZZ_CHECK(text.empty() || text.back() == '\n',
             "exposition does not end with a newline");
  ParsedExposition parsed;
  for (std::string_view line : Split(text, '\n')) {
    if (line.empty()) continue;
    if (line.front() == '#') {
      parsed.comments.emplace_back(line);
      continue;
    }
    FUZZ_CHECK(IsNameStart(line.front()),
               "line starts with neither '#' nor a metric name");
    parsed.samples.push_back(ParseSampleLine(line));
  }
  return parsed;
}

// Serializes the families with the exporter's own writer (RenderExposition,
// what /metrics sends) and checks the text against them: the sample lines
// read back to exactly the samples built, label values and values included
// (so a raw newline or quote in a domain name cannot forge a series). Then
// the same families through prometheus-cpp's TextSerializer, which the
// writer claims to match: same comment lines, same samples.
inline std::vector<Sample> SerializeAndCheck(const lme::MetricSet& set) {
  const std::vector<prometheus::MetricFamily> families =
      lme::ToMetricFamilies(set);
  std::vector<Sample> expected;
  for (const auto& family : families) {
    for (const auto& metric : family.metric) {
      Sample sample{family.name, {}, SampleValue(family, metric)};
      for (const auto& label : metric.label) {
        sample.labels.emplace_back(label.name, label.value);
      }
      expected.push_back(std::move(sample));
    }
  }

  const ParsedExposition ours = ParseExposition(lme::RenderExposition(set));
  FUZZ_CHECK(ours.comments.size() == 2 * families.size(),
             "not one HELP and one TYPE line per family");
  FUZZ_CHECK(ours.samples.size() == expected.size(),
             "sample lines do not match the samples built");
  for (std::size_t k = 0; k < expected.size(); ++k) {
    FUZZ_CHECK(ours.samples[k].name == expected[k].name, "sample name changed");
    FUZZ_CHECK(ours.samples[k].labels == expected[k].labels,
               "label set changed in serialization");
    // Shortest round-trip formatting: the value reads back exactly.
    FUZZ_CHECK(ours.samples[k].value == expected[k].value,
               "sample value changed in serialization");
  }

  std::ostringstream reference_text;
  prometheus::TextSerializer().Serialize(reference_text, families);
  const ParsedExposition reference = ParseExposition(reference_text.str());
  FUZZ_CHECK(reference.comments == ours.comments,
             "HELP/TYPE lines differ from prometheus-cpp's");
  FUZZ_CHECK(reference.samples.size() == ours.samples.size(),
             "sample count differs from prometheus-cpp's");
  for (std::size_t k = 0; k < ours.samples.size(); ++k) {
    FUZZ_CHECK(reference.samples[k].name == ours.samples[k].name &&
                   reference.samples[k].labels == ours.samples[k].labels,
               "a sample differs from prometheus-cpp's");
    // prometheus-cpp prints 16 significant digits: equal within 1e-15.
    const double want = ours.samples[k].value;
    const double got = reference.samples[k].value;
    const double tolerance = (want < 0 ? -want : want) * 1e-15;
    FUZZ_CHECK(got - want <= tolerance && want - got <= tolerance,
               "a value differs from prometheus-cpp's");
  }
  return ours.samples;
}

}  // namespace lme_fuzz
