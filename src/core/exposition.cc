#include "core/exposition.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string_view>

namespace lme {
namespace {

// HELP text escapes backslash and newline.
void AppendEscaped(std::string_view text, std::string& out) {
  for (char c : text) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
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

void AppendHeader(const Family& family, std::string& out) {
  if (!family.help.empty()) {
    out += "# HELP ";
    out += family.name;
    out += ' ';
    AppendEscaped(family.help, out);
    out += '\n';
  }
  out += "# TYPE ";
  out += family.name;
  out += ' ';
  out += TypeName(family.type);
  out += '\n';
}

void AppendSample(const Family& family, std::string_view labels, double value,
                  std::string& out) {
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

}  // namespace

bool ExpositionWriter::Next(std::string& out) {
  constexpr std::size_t kPieceSize = 64 * 1024;
  const std::size_t start = out.size();
  const auto& families = set_.families();
  while (family_ < families.size() && out.size() - start < kPieceSize) {
    const Family& family = families[family_];
    if (!header_written_) {
      AppendHeader(family, out);
      header_written_ = true;
    }
    // Bounded per call, so a piece stays near kPieceSize.
    while (sample_ < family.samples.size() && out.size() - start < kPieceSize) {
      const Sample& sample = family.samples[sample_++];
      AppendSample(family, set_.LabelText(sample.labels), sample.value, out);
    }
    if (sample_ == family.samples.size()) {
      ++family_;
      sample_ = 0;
      header_written_ = false;
    }
  }
  return out.size() > start;
}

std::function<bool(std::string& out)> ExpositionPieces(
    std::vector<std::shared_ptr<const MetricSet>> sets) {
  struct State {
    std::vector<std::shared_ptr<const MetricSet>> sets;
    std::size_t at = 0;
    std::unique_ptr<ExpositionWriter> writer;
  };
  auto state = std::make_shared<State>();
  state->sets = std::move(sets);
  return [state](std::string& out) {
    while (state->at < state->sets.size()) {
      if (!state->writer) {
        state->writer =
            std::make_unique<ExpositionWriter>(*state->sets[state->at]);
      }
      if (state->writer->Next(out)) return true;
      state->writer.reset();
      ++state->at;
    }
    return false;
  };
}

void WriteExposition(const MetricSet& set, const TextSink& sink) {
  ExpositionWriter writer(set);
  std::string piece;
  piece.reserve(64 * 1024 + 4096);
  while (writer.Next(piece)) {
    sink(piece);
    piece.clear();
  }
}

std::string RenderExposition(const MetricSet& set) {
  std::string text;
  WriteExposition(set, [&](std::string_view piece) { text += piece; });
  return text;
}

}  // namespace lme
