// Pure text helpers of the HTTP server: what it reads from requests and the
// landing page it writes. No I/O, so the fuzzers (tests/fuzz) target them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lme {

// The X-Prometheus-Scrape-Timeout-Seconds value in seconds; empty when
// absent (null) or not a positive number.
std::optional<double> ParseScrapeTimeoutHeader(const char* value);

// Whether an Accept-Encoding value accepts gzip (a "gzip" coding without
// q=0), as promhttp decides.
bool AcceptsGzip(std::string_view accept_encoding);

// The path of a request target (before any '?'), percent-decoded as Go's
// net/url does; empty for a malformed escape.
std::optional<std::string> DecodedPath(std::string_view target);

// The HTML of the landing page; the path and version are escaped.
std::string LandingPage(const std::string& telemetry_path,
                        const std::string& version);

}  // namespace lme
