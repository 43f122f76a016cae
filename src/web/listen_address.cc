#include "web/listen_address.h"

#include <arpa/inet.h>

#include <cctype>

namespace lme {
namespace {

bool IsPort(std::string_view text) {
  if (text.empty() || text.size() > 5) return false;
  unsigned value = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value <= 65535;
}

bool IsIpv4(std::string_view host) {
  int dots = 0;
  std::size_t digits = 0;
  for (char c : host) {
    if (c == '.') {
      if (digits == 0) return false;
      ++dots;
      digits = 0;
    } else if (std::isdigit(static_cast<unsigned char>(c)) && digits < 3) {
      ++digits;
    } else {
      return false;
    }
  }
  return dots == 3 && digits > 0;
}

// The C library's parser decides, so that only what can be bound passes;
// it reads a C string, so anything but address characters (a NUL would end
// the string early) is refused first.
bool IsIpv6(const std::string& host) {
  for (char c : host) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') {
      return false;
    }
  }
  in6_addr address{};
  return inet_pton(AF_INET6, host.c_str(), &address) == 1;
}

}  // namespace

std::optional<ListenEndpoint> ParseListenAddress(std::string_view address) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view host = address.substr(0, colon);
  const std::string_view port = address.substr(colon + 1);
  if (!IsPort(port)) return std::nullopt;
  ListenEndpoint endpoint;
  endpoint.port = static_cast<std::uint16_t>(std::stoul(std::string(port)));
  if (host.empty()) return endpoint;
  if (host == "localhost") {
    endpoint.host = "127.0.0.1";
  } else if (IsIpv4(host)) {
    endpoint.host = std::string(host);
  } else if (host.size() > 2 && host.front() == '[' && host.back() == ']' &&
             IsIpv6(std::string(host.substr(1, host.size() - 2)))) {
    endpoint.host = std::string(host.substr(1, host.size() - 2));
  } else {
    return std::nullopt;
  }
  return endpoint;
}

std::string FormatEndpoint(const std::string& host, std::uint16_t port) {
  const std::string shown = host.empty() ? "::" : host;
  const bool v6 = shown.find(':') != std::string::npos;
  return (v6 ? "[" + shown + "]" : shown) + ":" + std::to_string(port);
}

}  // namespace lme
