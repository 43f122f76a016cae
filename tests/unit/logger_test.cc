#include "util/logger.h"

#include <sstream>

#include "catch_compat.h"

namespace lme {
namespace {

TEST_CASE("log levels parse from their names", "[logger]") {
  CHECK(ParseLogLevel("debug") == LogLevel::kDebug);
  CHECK(ParseLogLevel("info") == LogLevel::kInfo);
  CHECK(ParseLogLevel("warn") == LogLevel::kWarn);
  CHECK(ParseLogLevel("error") == LogLevel::kError);
  CHECK_FALSE(ParseLogLevel("verbose").has_value());
  CHECK_FALSE(ParseLogLevel("").has_value());
}

TEST_CASE("logfmt values are quoted only when needed", "[logger]") {
  CHECK(LogfmtValue("web-01") == "web-01");
  CHECK(LogfmtValue("") == "\"\"");
  CHECK(LogfmtValue("two words") == "\"two words\"");
  CHECK(LogfmtValue("a=b") == "\"a=b\"");
}

TEST_CASE("hostile values cannot forge log lines", "[logger]") {
  CHECK(LogfmtValue("x\nlevel=error msg=forged") ==
        R"("x\nlevel=error msg=forged")");
  CHECK(LogfmtValue("quote\"back\\slash") == R"("quote\"back\\slash")");
  CHECK(LogfmtValue(std::string("nul\0x", 5)) == R"("nul\x00x")");
  CHECK(LogfmtValue("ünïcødé") == "ünïcødé");
}

TEST_CASE("a log line has time, level, message and fields", "[logger]") {
  CHECK(FormatLogLine("2026-01-01T00:00:00.000Z", LogLevel::kWarn,
                      "cannot read domain memory stats",
                      {{"domain", "web 01"}, {"err", "boom"}}) ==
        "ts=2026-01-01T00:00:00.000Z level=warn "
        "msg=\"cannot read domain memory stats\" domain=\"web 01\" err=boom");
}

TEST_CASE("log formats parse from their names", "[logger]") {
  CHECK(ParseLogFormat("logfmt") == LogFormat::kLogfmt);
  CHECK(ParseLogFormat("json") == LogFormat::kJson);
  CHECK_FALSE(ParseLogFormat("JSON").has_value());
}

TEST_CASE("a JSON log line has the logfmt line's keys", "[logger]") {
  CHECK(FormatLogLine("2026-01-01T00:00:00.000Z", LogLevel::kWarn,
                      "cannot read domain memory stats",
                      {{"domain", "web 01"}, {"err", "boom"}},
                      LogFormat::kJson) ==
        R"({"ts":"2026-01-01T00:00:00.000Z","level":"warn",)"
        R"("msg":"cannot read domain memory stats","domain":"web 01",)"
        R"("err":"boom"})");
}

TEST_CASE("hostile values cannot break a JSON line", "[logger]") {
  CHECK(JsonString("x\n\"},\"level\":\"error") ==
        R"("x\n\"},\"level\":\"error")");
  CHECK(JsonString("back\\slash\ttab") == R"("back\\slash\ttab")");
  CHECK(JsonString(std::string("nul\0x\x7f", 6)) == R"("nul\u0000x\u007f")");
  CHECK(JsonString("ünïcødé €𝄞") == "\"ünïcødé €𝄞\"");
  // Not UTF-8: a lone continuation byte, a truncated sequence, an overlong
  // '/', a surrogate. Each bad byte becomes U+FFFD.
  CHECK(JsonString("a\x80"
                   "b") ==
        "\"a\xef\xbf\xbd"
        "b\"");
  CHECK(JsonString("\xe2\x82") == "\"\xef\xbf\xbd\xef\xbf\xbd\"");
  CHECK(JsonString("\xc0\xaf") == "\"\xef\xbf\xbd\xef\xbf\xbd\"");
  CHECK(JsonString("\xed\xa0\x80").find("\xed") == std::string::npos);
}

TEST_CASE("the logger writes the format it was given", "[logger]") {
  std::ostringstream out;
  Logger logger(LogLevel::kInfo, out, LogFormat::kJson);
  logger.Info("shown", {{"k", "v"}});
  const std::string text = out.str();
  CHECK(text.rfind("{\"ts\":\"", 0) == 0);
  CHECK(text.find(R"("level":"info","msg":"shown","k":"v"})"
                  "\n") != std::string::npos);
}

TEST_CASE("the logger drops lines below its level", "[logger]") {
  std::ostringstream out;
  Logger logger(LogLevel::kWarn, out);
  logger.Info("hidden");
  logger.Warn("shown", {{"k", "v"}});
  const std::string text = out.str();
  CHECK(text.find("hidden") == std::string::npos);
  CHECK(text.find("level=warn msg=shown k=v\n") != std::string::npos);
}

// What Report logged for these keys.
std::vector<std::string> Reported(LogOnce& once,
                                  const std::vector<std::string>& present) {
  std::vector<std::string> logged;
  once.Report(
      present, [](const std::string& key) { return key; },
      [&](const std::string& key) { logged.push_back(key); });
  return logged;
}

TEST_CASE("LogOnce logs a condition when it starts and again when it returns",
          "[logger]") {
  using Keys = std::vector<std::string>;
  LogOnce once;
  CHECK(Reported(once, {"a", "b"}) == Keys{"a", "b"});
  CHECK(Reported(once, {"a", "b"}).empty());       // still there: quiet
  CHECK(Reported(once, {"b"}).empty());            // a ended
  CHECK(Reported(once, {"a", "b"}) == Keys{"a"});  // a is back
  CHECK(Reported(once, {}).empty());
  CHECK(Reported(once, {"b", "b"}) == Keys{"b"});  // once per report
}

}  // namespace
}  // namespace lme
