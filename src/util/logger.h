// Logging to stderr in the formats of the Go exporters operators know:
// logfmt (the default) or one JSON object a line (--log.format json).
#pragma once

#include <iosfwd>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lme {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

std::optional<LogLevel> ParseLogLevel(std::string_view text);
std::string_view LogLevelName(LogLevel level);

enum class LogFormat { kLogfmt, kJson };

std::optional<LogFormat> ParseLogFormat(std::string_view text);

using LogFields = std::vector<std::pair<std::string, std::string>>;

// Quotes a logfmt value when it needs it, escaping quotes, backslashes and
// control characters so that hostile domain names cannot forge log lines.
std::string LogfmtValue(std::string_view value);

// A JSON string literal, quotes included. Bytes that are not valid UTF-8
// become U+FFFD, so a hostile domain name cannot make the line unparsable.
std::string JsonString(std::string_view value);

// One line, without the newline: the same keys in both formats (ts, level,
// msg, then the fields in order).
std::string FormatLogLine(std::string_view timestamp, LogLevel level,
                          std::string_view message, const LogFields& fields,
                          LogFormat format = LogFormat::kLogfmt);

class Logger {
 public:
  Logger(LogLevel level, std::ostream& out,
         LogFormat format = LogFormat::kLogfmt);

  bool Enabled(LogLevel level) const { return level >= level_; }
  void Log(LogLevel level, std::string_view message,
           const LogFields& fields = {});
  void Debug(std::string_view m, const LogFields& f = {}) {
    Log(LogLevel::kDebug, m, f);
  }
  void Info(std::string_view m, const LogFields& f = {}) {
    Log(LogLevel::kInfo, m, f);
  }
  void Warn(std::string_view m, const LogFields& f = {}) {
    Log(LogLevel::kWarn, m, f);
  }
  void Error(std::string_view m, const LogFields& f = {}) {
    Log(LogLevel::kError, m, f);
  }

 private:
  LogLevel level_;
  LogFormat format_;
  std::ostream& out_;
  std::mutex mutex_;
};

// Logs a condition that persists across scrapes (a broken guest scraped
// every 15 s) when it starts, not on every scrape. Report is given every
// condition present now: it logs those that were not present last time and
// forgets those that are gone, in one step, so a condition that ends and
// comes back is logged again.
class LogOnce {
 public:
  // Calls `log(item)` for each item of `present` whose `key_of(item)` (a
  // string) was not present in the last report.
  template <typename Items, typename KeyOf, typename Log>
  void Report(const Items& present, KeyOf key_of, Log log) {
    std::set<std::string> now;
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& item : present) {
      std::string key = key_of(item);
      const bool seen = last_.count(key) > 0;
      if (now.insert(std::move(key)).second && !seen) log(item);
    }
    last_ = std::move(now);
  }

 private:
  std::mutex mutex_;
  std::set<std::string> last_;
};

}  // namespace lme
