#include "util/logger.h"

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <ostream>

namespace lme {
namespace {

constexpr std::array<std::string_view, 4> kLevelNames = {"debug", "info",
                                                         "warn", "error"};
constexpr std::array<std::string_view, 2> kFormatNames = {"logfmt", "json"};

bool NeedsQuoting(std::string_view value) {
  if (value.empty()) return true;
  for (unsigned char c : value) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) {
      return true;
    }
  }
  return false;
}

// 0 when `text` does not start with a well-formed UTF-8 sequence (overlong
// forms, surrogates and code points above U+10FFFF are not well formed).
std::size_t Utf8SequenceLength(std::string_view text) {
  const auto byte = [&](std::size_t i) {
    return static_cast<unsigned char>(text[i]);
  };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xbf;  // range of the second byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (text.size() < length || byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  }
  return length;
}

void AppendJsonAscii(unsigned char c, std::string& out) {
  switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    default:
      if (c < ' ' || c == 0x7f) {
        char escaped[8];
        std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
        out += escaped;
      } else {
        out += static_cast<char>(c);
      }
  }
}

std::string FormatJsonLine(std::string_view timestamp, LogLevel level,
                           std::string_view message, const LogFields& fields) {
  std::string line = "{\"ts\":" + JsonString(timestamp) +
                     ",\"level\":" + JsonString(LogLevelName(level)) +
                     ",\"msg\":" + JsonString(message);
  for (const auto& [key, value] : fields) {
    line += ',';
    line += JsonString(key);
    line += ':';
    line += JsonString(value);
  }
  line += '}';
  return line;
}

std::string NowRfc3339() {
  using std::chrono::system_clock;
  const auto now = system_clock::now();
  const std::time_t seconds = system_clock::to_time_t(now);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                          now.time_since_epoch())
                          .count() %
                      1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                utc.tm_min, utc.tm_sec, static_cast<int>(millis));
  return buffer;
}

}  // namespace

std::optional<LogLevel> ParseLogLevel(std::string_view text) {
  for (std::size_t i = 0; i < kLevelNames.size(); ++i) {
    if (kLevelNames[i] == text) return static_cast<LogLevel>(i);
  }
  return std::nullopt;
}

std::string_view LogLevelName(LogLevel level) {
  return kLevelNames[static_cast<std::size_t>(level)];
}

std::optional<LogFormat> ParseLogFormat(std::string_view text) {
  for (std::size_t i = 0; i < kFormatNames.size(); ++i) {
    if (kFormatNames[i] == text) return static_cast<LogFormat>(i);
  }
  return std::nullopt;
}

std::string LogfmtValue(std::string_view value) {
  if (!NeedsQuoting(value)) return std::string(value);
  std::string quoted = "\"";
  for (unsigned char c : value) {
    switch (c) {
      case '"': quoted += "\\\""; break;
      case '\\': quoted += "\\\\"; break;
      case '\n': quoted += "\\n"; break;
      case '\r': quoted += "\\r"; break;
      case '\t': quoted += "\\t"; break;
      default:
        if (c < ' ' || c == 0x7f) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
          quoted += escaped;
        } else {
          quoted += static_cast<char>(c);
        }
    }
  }
  quoted += '"';
  return quoted;
}

std::string JsonString(std::string_view value) {
  std::string quoted = "\"";
  std::size_t i = 0;
  while (i < value.size()) {
    const std::size_t length = Utf8SequenceLength(value.substr(i));
    if (length == 0) {
      quoted += "\xef\xbf\xbd";  // U+FFFD REPLACEMENT CHARACTER
      ++i;
      continue;
    }
    if (length == 1) {
      AppendJsonAscii(static_cast<unsigned char>(value[i]), quoted);
    } else {
      quoted.append(value.substr(i, length));
    }
    i += length;
  }
  quoted += '"';
  return quoted;
}

std::string FormatLogLine(std::string_view timestamp, LogLevel level,
                          std::string_view message, const LogFields& fields,
                          LogFormat format) {
  if (format == LogFormat::kJson) {
    return FormatJsonLine(timestamp, level, message, fields);
  }
  std::string line = "ts=" + std::string(timestamp) +
                     " level=" + std::string(LogLevelName(level)) +
                     " msg=" + LogfmtValue(message);
  for (const auto& [key, value] : fields) {
    line += ' ';
    line += key;
    line += '=';
    line += LogfmtValue(value);
  }
  return line;
}

Logger::Logger(LogLevel level, std::ostream& out, LogFormat format)
    : level_(level), format_(format), out_(out) {}

void Logger::Log(LogLevel level, std::string_view message,
                 const LogFields& fields) {
  if (!Enabled(level)) return;
  const std::string line =
      FormatLogLine(NowRfc3339(), level, message, fields, format_);
  std::lock_guard<std::mutex> lock(mutex_);
  out_ << line << '\n' << std::flush;
}

}  // namespace lme
