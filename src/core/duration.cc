#include "core/duration.h"

#include <algorithm>
#include <cctype>

namespace lme {
namespace {

std::optional<double> UnitSeconds(std::string_view unit) {
  if (unit == "ms") return 0.001;
  if (unit == "s") return 1;
  if (unit == "m") return 60;
  if (unit == "h") return 3600;
  return std::nullopt;
}

}  // namespace

std::optional<Seconds> ParseDuration(std::string_view text) {
  double total = 0;
  std::size_t i = 0;
  if (text.empty()) return std::nullopt;
  while (i < text.size()) {
    const std::size_t digits_start = i;
    double number = 0;
    while (i < text.size() &&
           std::isdigit(static_cast<unsigned char>(text[i]))) {
      number = number * 10 + (text[i] - '0');
      ++i;
    }
    if (i == digits_start || number > 1e9) return std::nullopt;
    const std::size_t unit_start = i;
    while (i < text.size() &&
           std::isalpha(static_cast<unsigned char>(text[i]))) {
      ++i;
    }
    const auto unit = UnitSeconds(text.substr(unit_start, i - unit_start));
    if (!unit) return std::nullopt;
    total += number * *unit;
  }
  // Past this a deadline computed from it would overflow the clock.
  constexpr double kLongest = 24 * 3600;
  if (total <= 0 || total > kLongest) return std::nullopt;
  return Seconds(total);
}

Seconds CollectionBudget(std::optional<double> scrape_timeout_header,
                         Seconds configured, Seconds offset) {
  if (!scrape_timeout_header || !(*scrape_timeout_header > 0) ||
      *scrape_timeout_header > 1e6) {
    return configured;
  }
  const Seconds header(*scrape_timeout_header);
  // A tiny scrape timeout still gets half of itself rather than nothing.
  return std::max(header - offset, header / 2);
}

}  // namespace lme
