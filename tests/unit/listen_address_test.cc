#include "web/listen_address.h"

#include "catch_compat.h"

namespace lme {
namespace {

TEST_CASE("node_exporter-style addresses become CivetWeb ports", "[web]") {
  CHECK(ToCivetListeningPort(":9177") == "9177");
  CHECK(ToCivetListeningPort("0.0.0.0:9177") == "0.0.0.0:9177");
  CHECK(ToCivetListeningPort("127.0.0.1:0") == "127.0.0.1:0");
  CHECK(ToCivetListeningPort("localhost:9177") == "127.0.0.1:9177");
  CHECK(ToCivetListeningPort("[::1]:9177") == "[::1]:9177");
  CHECK(ToCivetListeningPort("[::]:65535") == "[::]:65535");
}

TEST_CASE("malformed addresses are refused", "[web]") {
  for (const char* bad :
       {"", "9177", ":", ":http", ":65536", ":-1", "host.example:9177",
        "1.2.3:9177", "1.2.3.4.5:80", "[::1:9177", "::1:9177", ":123456"}) {
    INFO(bad);
    CHECK_FALSE(ToCivetListeningPort(bad).has_value());
  }
}

}  // namespace
}  // namespace lme
