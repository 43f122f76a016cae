#include "web/listen_address.h"

#include "catch_compat.h"

namespace lme {
namespace {

TEST_CASE("node_exporter-style addresses", "[web]") {
  CHECK(ParseListenAddress(":9177") == ListenEndpoint{"", 9177});
  CHECK(ParseListenAddress("0.0.0.0:9177") == ListenEndpoint{"0.0.0.0", 9177});
  CHECK(ParseListenAddress("127.0.0.1:0") == ListenEndpoint{"127.0.0.1", 0});
  CHECK(ParseListenAddress("localhost:9177") ==
        ListenEndpoint{"127.0.0.1", 9177});
  CHECK(ParseListenAddress("[::1]:9177") == ListenEndpoint{"::1", 9177});
  CHECK(ParseListenAddress("[::]:65535") == ListenEndpoint{"::", 65535});
  CHECK(ParseListenAddress("[fe80::1]:80") == ListenEndpoint{"fe80::1", 80});
}

TEST_CASE("malformed addresses are refused", "[web]") {
  for (const char* bad :
       {"", "9177", ":", ":http", ":65536", ":-1", "host.example:9177",
        "1.2.3:9177", "1.2.3.4.5:80", "[::1:9177", "::1:9177", ":123456",
        "[]:80", "[::g]:80", "[1.2.3.4]:80"}) {
    INFO(bad);
    CHECK_FALSE(ParseListenAddress(bad).has_value());
  }
  // Found by fuzz_text: a NUL ended the address for inet_pton.
  CHECK_FALSE(
      ParseListenAddress(std::string_view("[::\0\0\0\n1]:0", 12)).has_value());
}

TEST_CASE("endpoints as the log shows them", "[web]") {
  CHECK(FormatEndpoint("127.0.0.1", 9177) == "127.0.0.1:9177");
  CHECK(FormatEndpoint("::1", 9177) == "[::1]:9177");
  CHECK(FormatEndpoint("", 9177) == "[::]:9177");
}

}  // namespace
}  // namespace lme
