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

// Remembers which conditions were already logged, so that a condition that
// persists across scrapes (a broken guest scraped every 15 s) is logged when
// it starts, not on every scrape.
class LogOnce {
 public:
  // True the first time a key is seen since it was last cleared.
  bool First(const std::string& key);
  // Forgets every key not in `still_present`, so a condition that ends and
  // comes back is logged again.
  void KeepOnly(const std::set<std::string>& still_present);

 private:
  std::mutex mutex_;
  std::set<std::string> seen_;
};

}  // namespace lme
