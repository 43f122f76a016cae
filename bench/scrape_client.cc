// The benchmark's HTTP client: one scrape of an exporter, timed inside this
// process as lme-raw-fetch times its libvirt calls, so that the HTTP subjects
// are not billed for a slow client (Python's http.client added about 1 ms at
// 1000 domains, 2.5 ms at 5000). Like Prometheus's Go client it reads into a
// buffer reused across scrapes. Links nothing but the C++ library.
//
//   lme-scrape
//
// Serves the benchmark driver on stdin/stdout, one line in, one line out:
//   scrape PORT PATH [gzip]
//                     GET http://127.0.0.1:PORT/metrics on a new connection,
//                     with "Accept-Encoding: gzip" when asked (Prometheus
//                     always asks); answers "ok ns=N status=S bytes=B" (ns
//                     from connecting to the last body byte, B body bytes
//                     after the chunked framing is removed: the compressed
//                     size for gzip) or "error MESSAGE"; then, untimed,
//                     writes that body to PATH unless PATH is "-"
//   quit              (or EOF) ends it
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

constexpr std::string_view kRequest =
    "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
constexpr std::string_view kGzipRequest =
    "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    "Accept-Encoding: gzip\r\n\r\n";
// Long enough for any exporter's scrape of 5000 domains through a daemon.
constexpr int kReceiveTimeoutSeconds = 600;
// Status, header, chunk-size and trailer lines; none is near this long.
constexpr std::size_t kMaxLineLength = 64 * 1024;
// One recv's worth. Decoding copies the body out of it into the body string;
// receiving straight into the body instead measured the same (10 MB in about
// 3.5 ms either way): the copy is of bytes still in the cache.
constexpr std::size_t kReadBufferSize = 256 * 1024;
// Enough for 5000 domains (10 MB): no reallocation even on the first scrape.
constexpr std::size_t kInitialBodyCapacity = 16 * 1024 * 1024;

bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)); }
bool IsHexDigit(char c) { return std::isxdigit(static_cast<unsigned char>(c)); }

std::string Lower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return lower;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// Decodes one HTTP/1.x response as its bytes arrive: status line, headers,
// then a body framed by Content-Length, by chunks or by the connection's end.
class ResponseDecoder {
 public:
  // Appends the decoded body to `body`.
  explicit ResponseDecoder(std::string& body) : body_(body) {}

  // Consumes all of `data`; false on a malformed response (see error()).
  bool Feed(const char* data, std::size_t size) {
    while (size > 0) {
      std::size_t used = 0;
      if (const std::size_t wanted = DataWanted(); wanted > 0) {
        used = std::min(size, wanted);
        body_.append(data, used);
        if (state_ != State::kUntilClose && (remaining_ -= used) == 0) {
          state_ =
              state_ == State::kLengthData ? State::kDone : State::kChunkEnd;
        }
      } else if (state_ == State::kDone) {
        return Fail("bytes after the end of the response");
      } else {
        const void* newline = std::memchr(data, '\n', size);
        used = newline != nullptr ? static_cast<const char*>(newline) - data + 1
                                  : size;
        line_.append(data, used);
        if (newline != nullptr) {
          if (!OnLine()) return false;
          line_.clear();
        } else if (line_.size() > kMaxLineLength) {
          return Fail("line longer than 64 KiB");
        }
      }
      data += used;
      size -= used;
    }
    return true;
  }

  // The server closed the connection.
  bool Finish() {
    switch (state_) {
      case State::kDone: return true;
      case State::kUntilClose: state_ = State::kDone; return true;
      case State::kStatusLine:
      case State::kHeaders:
        return Fail("connection closed before the end of the headers");
      case State::kLengthData:
        return Fail("connection closed " + std::to_string(remaining_) +
                    " bytes before the end of the Content-Length body");
      default: return Fail("connection closed before the last chunk");
    }
  }

  bool done() const { return state_ == State::kDone; }
  int status() const { return status_; }
  const std::string& error() const { return error_; }

 private:
  enum class State {
    kStatusLine,
    kHeaders,
    kLengthData,  // Content-Length body
    kUntilClose,  // body up to the connection's end
    kChunkSize,
    kChunkData,
    kChunkEnd,  // the CRLF after a chunk's data
    kTrailers,
    kDone,
  };

  bool Fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  // How many of the next bytes are body data.
  std::size_t DataWanted() const {
    switch (state_) {
      case State::kLengthData:
      case State::kChunkData: return remaining_;
      case State::kUntilClose: return std::numeric_limits<std::size_t>::max();
      default: return 0;
    }
  }

  // line_ holds one whole line, its LF included.
  bool OnLine() {
    if (line_.size() < 2 || line_[line_.size() - 2] != '\r') {
      return Fail("line not ended by CRLF");
    }
    const std::string_view line(line_.data(), line_.size() - 2);
    switch (state_) {
      case State::kStatusLine: return OnStatusLine(line);
      case State::kHeaders: return line.empty() ? StartBody() : OnHeader(line);
      case State::kChunkSize: return OnChunkSize(line);
      case State::kChunkEnd:
        if (!line.empty()) return Fail("chunk data longer than its size");
        state_ = State::kChunkSize;
        return true;
      case State::kTrailers:
        if (line.empty()) state_ = State::kDone;
        return true;
      default: return Fail("internal error: a line in the body's data");
    }
  }

  // "HTTP/1.1 200 OK"
  bool OnStatusLine(std::string_view line) {
    const bool valid =
        line.size() >= 12 && line.substr(0, 7) == "HTTP/1." &&
        IsDigit(line[7]) && line[8] == ' ' &&
        std::all_of(line.begin() + 9, line.begin() + 12, IsDigit) &&
        (line.size() == 12 || line[12] == ' ');
    if (!valid) return Fail("malformed status line: " + std::string(line));
    status_ = std::stoi(std::string(line.substr(9, 3)));
    state_ = State::kHeaders;
    return true;
  }

  bool OnHeader(std::string_view line) {
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Fail("malformed header: " + std::string(line));
    }
    const std::string name = Lower(line.substr(0, colon));
    const std::string_view value = Trim(line.substr(colon + 1));
    if (name == "transfer-encoding") {
      // The exporters send no other coding; anything else is not decoded.
      if (Lower(value) != "chunked") {
        return Fail("unsupported Transfer-Encoding: " + std::string(value));
      }
      chunked_ = true;
    } else if (name == "content-length") {
      std::size_t length = 0;
      if (value.empty() || value.size() > 15 ||
          !std::all_of(value.begin(), value.end(), IsDigit)) {
        return Fail("malformed Content-Length: " + std::string(value));
      }
      for (char c : value) length = length * 10 + (c - '0');
      if (has_length_ && length != remaining_) {
        return Fail("conflicting Content-Length headers");
      }
      has_length_ = true;
      remaining_ = length;
      body_.reserve(length);  // a no-op once warm
    }
    return true;
  }

  bool StartBody() {
    // Transfer-Encoding wins over Content-Length (RFC 9112, 6.3).
    if (chunked_) {
      state_ = State::kChunkSize;
    } else if (has_length_) {
      state_ = remaining_ > 0 ? State::kLengthData : State::kDone;
    } else {
      state_ = State::kUntilClose;
    }
    return true;
  }

  // "10000" or "10000;extension": hexadecimal size; 0 is the last chunk.
  bool OnChunkSize(std::string_view line) {
    const std::string_view digits = line.substr(0, line.find(';'));
    if (digits.empty() || digits.size() > 15 ||
        !std::all_of(digits.begin(), digits.end(), IsHexDigit)) {
      return Fail("malformed chunk size: " + std::string(line));
    }
    remaining_ = std::stoull(std::string(digits), nullptr, 16);
    state_ = remaining_ > 0 ? State::kChunkData : State::kTrailers;
    return true;
  }

  std::string& body_;
  State state_ = State::kStatusLine;
  std::string line_;
  std::size_t remaining_ = 0;  // Content-Length or chunk bytes still to come
  bool has_length_ = false;
  bool chunked_ = false;
  int status_ = 0;
  std::string error_;
};

class Socket {
 public:
  Socket() : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

std::string SystemError(const char* what) {
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    return std::string(what) + ": timed out after " +
           std::to_string(kReceiveTimeoutSeconds) + " s";
  }
  return std::string(what) + ": " + std::strerror(errno);
}

struct Scrape {
  long long ns = 0;
  int status = 0;
  std::string error;
};

// One GET /metrics on a new connection, the decoded body into `body`.
Scrape ScrapeOnce(int port, bool gzip, std::string& body,
                  std::vector<char>& buffer) {
  const std::string_view request = gzip ? kGzipRequest : kRequest;
  body.clear();  // keeps the capacity
  Socket socket;
  if (socket.fd() < 0) return {0, 0, SystemError("socket")};
  const int one = 1;
  const timeval timeout{kReceiveTimeoutSeconds, 0};
  setsockopt(socket.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(socket.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(socket.fd(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  const auto start = std::chrono::steady_clock::now();
  if (connect(socket.fd(), reinterpret_cast<const sockaddr*>(&address),
              sizeof address) != 0) {
    return {0, 0, SystemError("connect")};
  }
  for (std::size_t sent = 0; sent < request.size();) {
    const ssize_t n = send(socket.fd(), request.data() + sent,
                           request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return {0, 0, SystemError("send")};
    sent += static_cast<std::size_t>(n);
  }
  ResponseDecoder decoder(body);
  while (!decoder.done()) {
    const ssize_t n = recv(socket.fd(), buffer.data(), buffer.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return {0, 0, SystemError("recv")};
    const bool decoded =
        n == 0 ? decoder.Finish()
               : decoder.Feed(buffer.data(), static_cast<std::size_t>(n));
    if (!decoded) return {0, 0, decoder.error()};
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  return {std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count(),
          decoder.status(), ""};
}

bool WriteFile(const std::string& path, std::string_view data) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return false;
  const bool written =
      std::fwrite(data.data(), 1, data.size(), file) == data.size();
  return std::fclose(file) == 0 && written;
}

}  // namespace

int main() {
  std::string body;
  body.reserve(kInitialBodyCapacity);
  std::vector<char> buffer(kReadBufferSize);
  std::string line;
  while (std::getline(std::cin, line) && line != "quit") {
    std::istringstream words(line);
    std::string command, path, encoding;
    int port = 0;
    if (!(words >> command >> port >> path) || command != "scrape" ||
        port <= 0 || port > 65535 ||
        (words >> encoding && encoding != "gzip")) {
      std::printf(
          "error expected \"scrape PORT PATH [gzip]\" or \"quit\", not %s\n",
          line.c_str());
    } else if (const Scrape scrape =
                   ScrapeOnce(port, encoding == "gzip", body, buffer);
               !scrape.error.empty()) {
      std::printf("error %s\n", scrape.error.c_str());
    } else {
      if (path != "-" && !WriteFile(path, body)) {
        std::printf("error cannot write %s: %s\n", path.c_str(),
                    std::strerror(errno));
      } else {
        std::printf("ok ns=%lld status=%d bytes=%zu\n", scrape.ns,
                    scrape.status, body.size());
      }
    }
    std::fflush(stdout);
  }
  return 0;
}
