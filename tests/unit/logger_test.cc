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

TEST_CASE("the logger drops lines below its level", "[logger]") {
  std::ostringstream out;
  Logger logger(LogLevel::kWarn, out);
  logger.Info("hidden");
  logger.Warn("shown", {{"k", "v"}});
  const std::string text = out.str();
  CHECK(text.find("hidden") == std::string::npos);
  CHECK(text.find("level=warn msg=shown k=v\n") != std::string::npos);
}

TEST_CASE("LogOnce reports a key once until it is cleared", "[logger]") {
  LogOnce once;
  CHECK(once.First("a"));
  CHECK_FALSE(once.First("a"));
  CHECK(once.First("b"));
  once.KeepOnly({"b"});
  CHECK(once.First("a"));
  CHECK_FALSE(once.First("b"));
}

}  // namespace
}  // namespace lme
