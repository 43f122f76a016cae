// A one-shot HTTP client over a plain socket: enough for the web tests to see
// status lines, headers and bodies exactly as the server wrote them.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "catch_compat.h"

namespace lme {

// A TCP connection to 127.0.0.1:port; fails the test if it cannot connect.
inline int ConnectLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) ==
          0);
  return fd;
}

// Everything the peer sends until it closes (or a receive timeout set on fd
// ends the wait), appended to `received`.
inline void ReadUntilClosed(int fd, std::string& received) {
  char buffer[4096];
  for (ssize_t n; (n = read(fd, buffer, sizeof buffer)) > 0;) {
    received.append(buffer, static_cast<std::size_t>(n));
  }
}

inline std::string Request(int port, const std::string& method,
                           const std::string& path,
                           const std::string& extra_headers = "",
                           const std::string& version = "HTTP/1.0") {
  const int fd = ConnectLoopback(port);
  const std::string request = method + " " + path + " " + version +
                              "\r\nHost: localhost\r\n" + extra_headers +
                              "\r\n";
  REQUIRE(write(fd, request.data(), request.size()) ==
          static_cast<ssize_t>(request.size()));
  std::string response;
  ReadUntilClosed(fd, response);
  close(fd);
  return response;
}

// The body of a chunked response; fails the test on a malformed one or one
// that lacks the last (empty) chunk.
inline std::string DecodeChunked(const std::string& body) {
  std::string decoded;
  std::size_t at = 0;
  for (;;) {
    const std::size_t line_end = body.find("\r\n", at);
    REQUIRE(line_end != std::string::npos);
    const std::size_t size =
        std::stoul(body.substr(at, line_end - at), nullptr, 16);
    at = line_end + 2;
    REQUIRE(body.size() >= at + size + 2);
    REQUIRE(body.compare(at + size, 2, "\r\n") == 0);
    if (size == 0) {
      REQUIRE(at + 2 == body.size());
      return decoded;
    }
    decoded.append(body, at, size);
    at += size + 2;
  }
}

}  // namespace lme
