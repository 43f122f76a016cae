// Go-style durations ("500ms", "9s", "1m30s"), as Prometheus and the
// official exporters write them.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace lme {

using Seconds = std::chrono::duration<double>;

// Empty when the text is not a positive duration of ms, s, m and h parts,
// at most 24h.
std::optional<Seconds> ParseDuration(std::string_view text);

// How long a scrape may collect: the scraper's own timeout (the
// X-Prometheus-Scrape-Timeout-Seconds header) less an offset for writing the
// answer, else the configured collector timeout.
Seconds CollectionBudget(std::optional<double> scrape_timeout_header,
                         Seconds configured, Seconds offset);

}  // namespace lme

namespace lme {

// When a scrape must have its answer.
using Deadline = std::chrono::steady_clock::time_point;

}  // namespace lme
