// Text from outside that reaches a format with its own syntax or a number
// the exporter computes with: the listen address (a flag) becomes the address
// the server binds; any string logged (domain names, libvirt error
// messages) becomes a logfmt value; the --collector.timeout flag and the
// scraper's X-Prometheus-Scrape-Timeout-Seconds header become the scrape's
// deadline; the telemetry path is shown on the landing page.
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/duration.h"
#include "fuzz_common.h"
#include "util/logger.h"
#include "web/http_text.h"
#include "web/listen_address.h"

namespace {

// An independent reader of LogfmtValue's quoting: it must give back the input
// exactly, so no two values log the same and nothing is lost.
std::string UnquoteLogfmt(const std::string& value) {
  if (value.empty() || value.front() != '"') return value;
  FUZZ_CHECK(value.size() >= 2 && value.back() == '"', "unterminated quote");
  std::string out;
  for (std::size_t i = 1; i + 1 < value.size(); ++i) {
    const char c = value[i];
    FUZZ_CHECK(c != '"', "unescaped quote inside a quoted value");
    if (c != '\\') {
      out += c;
      continue;
    }
    FUZZ_CHECK(i + 2 < value.size(), "dangling backslash");
    const char e = value[++i];
    switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'x': {
        FUZZ_CHECK(
            i + 3 < value.size() &&
                std::isxdigit(static_cast<unsigned char>(value[i + 1])) &&
                std::isxdigit(static_cast<unsigned char>(value[i + 2])),
            "\\x without two hex digits");
        out += static_cast<char>(
            std::strtol(value.substr(i + 1, 2).c_str(), nullptr, 16));
        i += 2;
        break;
      }
      default: FUZZ_CHECK(false, "unknown escape");
    }
  }
  return out;
}

// key=value pairs separated by single spaces; a quoted value ends at the
// first quote not escaped by a backslash.
std::vector<std::pair<std::string, std::string>> SplitLogfmt(
    const std::string& line) {
  std::vector<std::pair<std::string, std::string>> fields;
  std::size_t i = 0;
  while (i < line.size()) {
    const std::size_t eq = line.find('=', i);
    FUZZ_CHECK(eq != std::string::npos, "logfmt key without '='");
    std::string key = line.substr(i, eq - i);
    FUZZ_CHECK(key.find(' ') == std::string::npos &&
                   key.find('"') == std::string::npos,
               "logfmt key with a space or quote");
    std::size_t end = eq + 1;
    if (end < line.size() && line[end] == '"') {
      ++end;
      while (true) {
        FUZZ_CHECK(end < line.size(), "unterminated quoted value");
        if (line[end] == '\\') {
          end += 2;
          continue;
        }
        if (line[end++] == '"') break;
      }
    } else {
      end = line.find(' ', end);
      if (end == std::string::npos) end = line.size();
    }
    fields.emplace_back(std::move(key), line.substr(eq + 1, end - eq - 1));
    FUZZ_CHECK(end == line.size() || line[end] == ' ',
               "no space between fields");
    i = end + 1;
  }
  return fields;
}

void CheckLogfmt(std::string_view input) {
  const std::string value = lme::LogfmtValue(input);
  for (unsigned char c : value) {
    FUZZ_CHECK(c >= ' ' && c != 0x7f, "raw control character in a log value");
  }
  if (value.empty() || value.front() != '"') {
    // Unquoted: a single logfmt token.
    FUZZ_CHECK(value == input, "unquoted value differs from the input");
    for (char c : value) {
      FUZZ_CHECK(c != ' ' && c != '=' && c != '"',
                 "unquoted value needs quotes");
    }
  }
  FUZZ_CHECK(UnquoteLogfmt(value) == input, "logfmt quoting is not reversible");

  const std::string line =
      lme::FormatLogLine("2026-01-01T00:00:00.000Z", lme::LogLevel::kWarn,
                         input, {{"domain", std::string(input)}, {"err", "x"}});
  FUZZ_CHECK(line.find('\n') == std::string::npos &&
                 line.find('\r') == std::string::npos,
             "a log line contains a line break");
  // Read back as logfmt: exactly the fields written, values intact, so a
  // hostile value can neither add a field nor swallow the next one.
  const auto fields = SplitLogfmt(line);
  FUZZ_CHECK(fields.size() == 5, "a hostile value changed the field count");
  const char* const keys[] = {"ts", "level", "msg", "domain", "err"};
  for (std::size_t i = 0; i < fields.size(); ++i) {
    FUZZ_CHECK(fields[i].first == keys[i], "a hostile value forged a key");
  }
  FUZZ_CHECK(UnquoteLogfmt(fields[2].second) == input, "msg changed");
  FUZZ_CHECK(UnquoteLogfmt(fields[3].second) == input, "domain changed");
  FUZZ_CHECK(fields[4].second == "x", "the next field was swallowed");
}

bool IsPort(std::string_view text) {
  if (text.empty() || text.size() > 5) return false;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return std::atoi(std::string(text).c_str()) <= 65535;
}

void CheckListenAddress(std::string_view input) {
  const auto endpoint = lme::ParseListenAddress(input);
  if (!endpoint) return;
  // Only a numeric address (or none) and the port the input ends in: nothing
  // a resolver would look up, nothing outside the address's own characters.
  for (char c : endpoint->host) {
    FUZZ_CHECK(
        std::isxdigit(static_cast<unsigned char>(c)) || c == '.' || c == ':',
        "listen host has a character outside an address");
  }
  const std::string_view port = input.substr(input.rfind(':') + 1);
  FUZZ_CHECK(IsPort(port), "listen address does not end in a port");
  FUZZ_CHECK(std::to_string(endpoint->port) ==
                 std::to_string(std::atoi(std::string(port).c_str())),
             "listen port differs from the input's");
  const std::string shown = lme::FormatEndpoint(endpoint->host, endpoint->port);
  FUZZ_CHECK(
      lme::ParseListenAddress(shown).has_value() || endpoint->host.empty(),
      "a logged endpoint does not read back");
}

// Request paths and encodings come from any client.
void CheckRequestText(std::string_view input) {
  const auto path = lme::DecodedPath(input);
  if (path) {
    FUZZ_CHECK(path->size() <= input.size(), "decoding made the path longer");
  }
  const bool gzip = lme::AcceptsGzip(input);
  FUZZ_CHECK(gzip == lme::AcceptsGzip(input), "AcceptsGzip is not stable");
}

// main.cc computes the deadline as steady_clock::now() +
// duration_cast<nanoseconds>(budget): the budget must be positive and the sum
// must fit in the clock's signed 64-bit nanoseconds, or the conversion and
// the addition are undefined (in practice the deadline lands in the past).
void CheckBudget(lme::Seconds budget, const char* what) {
  const double seconds = budget.count();
  FUZZ_CHECK(seconds > 0, what);
  const double now_ns = static_cast<double>(
      std::chrono::steady_clock::now().time_since_epoch().count());
  FUZZ_CHECK(now_ns + seconds * 1e9 <
                 static_cast<double>(std::numeric_limits<std::int64_t>::max()),
             what);
}

void CheckDeadlines(std::string_view input) {
  const std::string text(input);
  const auto header = lme::ParseScrapeTimeoutHeader(text.c_str());
  if (header) {
    FUZZ_CHECK(*header > 0, "a scrape timeout header <= 0 was accepted");
  }
  const lme::Seconds configured(9.5);
  const lme::Seconds offset(0.5);
  CheckBudget(lme::CollectionBudget(header, configured, offset),
              "a scrape timeout header gives an unusable deadline");

  const auto flag = lme::ParseDuration(input);
  if (!flag) return;
  CheckBudget(*flag,
              "--collector.timeout accepts a duration main.cc cannot "
              "turn into a deadline");
  CheckBudget(lme::CollectionBudget(std::nullopt, *flag, offset),
              "budget from --collector.timeout");
}

std::size_t Count(const std::string& text, char c) {
  std::size_t n = 0;
  for (char x : text) n += x == c ? 1 : 0;
  return n;
}

void CheckLandingPage(std::string_view input) {
  const std::string page =
      lme::LandingPage(std::string(input), std::string(input));
  const std::string plain = lme::LandingPage("/metrics", "1");
  for (char c : {'<', '>', '"', '\''}) {
    FUZZ_CHECK(Count(page, c) == Count(plain, c),
               "the landing page shows an unescaped markup character");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckListenAddress(input);
  CheckLogfmt(input);
  CheckDeadlines(input);
  CheckLandingPage(input);
  CheckRequestText(input);
  return 0;
}
