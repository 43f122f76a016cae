// Pure parsing of node_exporter-style listen addresses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lme {

struct ListenEndpoint {
  // A numeric IPv4 or IPv6 address (without brackets); empty: every
  // interface, IPv6 and IPv4 alike, as Go's ":9177" does.
  std::string host;
  std::uint16_t port = 0;

  bool operator==(const ListenEndpoint& other) const {
    return host == other.host && port == other.port;
  }
};

// ":9177" (every interface), "127.0.0.1:9177", "[::1]:9177", "[::]:9177",
// and "localhost:9177" (127.0.0.1). Empty when the address is malformed or
// the port is not 0..65535; host names other than localhost are refused, so
// that the exporter never listens somewhere a resolver chose.
std::optional<ListenEndpoint> ParseListenAddress(std::string_view address);

// How a log line shows an endpoint: "127.0.0.1:9177", "[::1]:9177",
// "[::]:9177" for every interface.
std::string FormatEndpoint(const std::string& host, std::uint16_t port);

}  // namespace lme
