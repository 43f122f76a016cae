#include "web/http_server.h"

#include <zlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "catch_compat.h"
#include "raw_http.h"
#include "web/gzip.h"

namespace lme {
namespace {

// Gives `text` in pieces of at most 64 KiB, after an empty one (which must
// not end the body early).
BodySource FixedBody(std::string text) {
  auto at = std::make_shared<std::size_t>(0);
  auto first = std::make_shared<bool>(true);
  return [text, at, first](std::string& out) {
    if (*first) {
      *first = false;
      return true;
    }
    if (*at >= text.size()) return false;
    out += text.substr(*at, 65536);
    *at += 65536;
    return true;
  };
}

HttpServerOptions Local(int threads = 2) {
  HttpServerOptions options;
  options.listen_addresses = {"127.0.0.1:0"};
  options.version = "1.2.3";
  options.scrape_threads = threads;
  return options;
}

std::string StatusLine(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

std::string Body(const std::string& response) {
  const auto end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

// The renderer and what it saw are shared with the server's threads: the
// client's socket orders them in fact, but not for ThreadSanitizer.
struct Server {
  std::ostringstream log;  // read it only once the server is gone
  Logger logger{LogLevel::kDebug, log};
  std::mutex mutex;
  std::function<std::string()> render_text = [] {
    return std::string("up 1\n");
  };
  std::optional<double> timeout;
  std::string query;
  HttpServer server{Local(),
                    [this](const ScrapeRequest& request) {
                      std::lock_guard<std::mutex> lock(mutex);
                      timeout = request.timeout_seconds;
                      query = request.query;
                      return FixedBody(render_text());
                    },
                    logger};
  int Port() const { return server.ListeningPorts().at(0); }
  void SetRender(std::function<std::string()> render) {
    std::lock_guard<std::mutex> lock(mutex);
    render_text = std::move(render);
  }
  std::string render() {
    std::lock_guard<std::mutex> lock(mutex);
    return render_text();
  }
  std::optional<double> seen_timeout() {
    std::lock_guard<std::mutex> lock(mutex);
    return timeout;
  }
  std::string seen_query() {
    std::lock_guard<std::mutex> lock(mutex);
    return query;
  }
};

TEST_CASE("the metrics path answers with the exposition", "[web]") {
  Server s;
  const std::string response = Request(s.Port(), "GET", "/metrics");
  CHECK(StatusLine(response).find(" 200 OK") != std::string::npos);
  CHECK(response.find("Content-Type: text/plain; version=0.0.4") !=
        std::string::npos);
  CHECK(Body(response) == "up 1\n");
}

TEST_CASE("HTTP/1.1 scrapes get the body in chunks as it is written", "[web]") {
  Server s;
  // Several pieces, one of them empty (which must not end the body early).
  s.SetRender([] { return std::string(200000, 'x') + "\nup 1\n"; });
  const std::string response =
      Request(s.Port(), "GET", "/metrics", "Connection: close\r\n", "HTTP/1.1");
  CHECK(StatusLine(response).find(" 200 OK") != std::string::npos);
  CHECK(response.find("Transfer-Encoding: chunked") != std::string::npos);
  CHECK(response.find("Content-Length") == std::string::npos);
  CHECK(DecodeChunked(Body(response)) == s.render());

  const std::string head = Request(s.Port(), "HEAD", "/metrics",
                                   "Connection: close\r\n", "HTTP/1.1");
  CHECK(StatusLine(head).find(" 200 OK") != std::string::npos);
  CHECK(Body(head).empty());
}

TEST_CASE("a writer that fails midway leaves the body unfinished", "[web]") {
  std::ostringstream log;
  Logger logger(LogLevel::kInfo, log);
  {
    HttpServer server(
        Local(),
        [](const ScrapeRequest&) -> BodySource {
          auto calls = std::make_shared<int>(0);
          return [calls](std::string& out) {
            if ((*calls)++ == 0) {
              out += "up 1\n";
              return true;
            }
            throw std::runtime_error("out of memory");
          };
        },
        logger);
    const int port = server.ListeningPorts().at(0);
    const std::string response =
        Request(port, "GET", "/metrics", "Connection: close\r\n", "HTTP/1.1");
    // No last chunk: the client can tell the body is incomplete.
    CHECK(Body(response) == "5\r\nup 1\n\r\n");
    CHECK(StatusLine(Request(port, "GET", "/")).find("200") !=
          std::string::npos);
    // Over HTTP/1.0 nothing is sent before the body is complete: a 500.
    CHECK(StatusLine(Request(port, "GET", "/metrics")).find(" 500 ") !=
          std::string::npos);
  }
  // Read once the server's threads are gone: they wrote it.
  CHECK(log.str().find("err=\"out of memory\"") != std::string::npos);
}

TEST_CASE("HTTP/1.0 scrapes get the whole body with its length", "[web]") {
  Server s;
  const std::string response = Request(s.Port(), "GET", "/metrics");
  CHECK(response.find("Content-Length: 5\r\n") != std::string::npos);
  CHECK(Body(response) == "up 1\n");
}

TEST_CASE("the scraper's timeout header reaches the renderer", "[web]") {
  Server s;
  Request(s.Port(), "GET", "/metrics");
  CHECK_FALSE(s.seen_timeout().has_value());
  Request(s.Port(), "GET", "/metrics",
          "X-Prometheus-Scrape-Timeout-Seconds: 2.5\r\n");
  CHECK(s.seen_timeout() == 2.5);
  Request(s.Port(), "GET", "/metrics?collect[]=node_memory");
  CHECK(s.seen_query() == "collect[]=node_memory");
}

TEST_CASE("the query string reaches the renderer; BadRequest answers 400",
          "[web]") {
  Server s;
  Request(s.Port(), "GET", "/metrics");
  CHECK(s.seen_query().empty());
  Request(s.Port(), "GET", "/metrics?collect%5B%5D=node_memory&x=1");
  CHECK(s.seen_query() == "collect%5B%5D=node_memory&x=1");
  s.SetRender(
      []() -> std::string { throw BadRequest("unknown collector 'x'"); });
  const std::string response = Request(s.Port(), "GET", "/metrics?x");
  CHECK(StatusLine(response).find(" 400 ") != std::string::npos);
  CHECK(Body(response) == "unknown collector 'x'\n");
  // The server goes on serving.
  s.SetRender([] { return std::string("up 1\n"); });
  CHECK(Body(Request(s.Port(), "GET", "/metrics")) == "up 1\n");
}

// A scrape that joins a collection in flight is answered from it, from
// whatever thread ends that collection, without a scrape thread of its own;
// one that cannot join goes to RenderMetrics.
TEST_CASE("a joined scrape is answered when its collection ends", "[web]") {
  std::ostringstream log;
  Logger logger{LogLevel::kDebug, log};
  std::atomic<int> rendered{0};
  std::atomic<bool> join{true};
  std::vector<std::thread> collections;
  std::mutex mutex;  // guards collections
  HttpServerOptions options = Local(1);
  options.join_metrics = [&](const ScrapeRequest&, BodyReady done) {
    if (!join) return false;
    std::lock_guard<std::mutex> lock(mutex);
    collections.emplace_back([done = std::move(done)] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      done(FixedBody("joined 1\n"));
    });
    return true;
  };
  {
    HttpServer server(
        options,
        [&](const ScrapeRequest&) {
          ++rendered;
          return FixedBody("rendered 1\n");
        },
        logger);
    const int port = server.ListeningPorts().at(0);
    const auto scrape = [port](const std::string& version) {
      const std::string response =
          Request(port, "GET", "/metrics", "Connection: close\r\n", version);
      return version == "HTTP/1.1" ? DecodeChunked(Body(response))
                                   : Body(response);
    };
    CHECK(scrape("HTTP/1.1") == "joined 1\n");
    CHECK(scrape("HTTP/1.1") == "joined 1\n");
    CHECK(rendered.load() == 0);
    // HTTP/1.0 answers are built whole, on a scrape thread.
    CHECK(scrape("HTTP/1.0") == "rendered 1\n");
    join = false;
    CHECK(scrape("HTTP/1.1") == "rendered 1\n");
    CHECK(rendered.load() == 2);
  }
  for (auto& collection : collections) collection.join();
}

TEST_CASE("timeout header values are checked", "[web]") {
  CHECK(ParseScrapeTimeoutHeader("10") == 10.0);
  CHECK(ParseScrapeTimeoutHeader("0.5") == 0.5);
  for (const char* bad : {"", "abc", "10s", "-1", "0", "nan", "1e"}) {
    INFO(bad);
    CHECK_FALSE(ParseScrapeTimeoutHeader(bad).has_value());
  }
  CHECK_FALSE(ParseScrapeTimeoutHeader(nullptr).has_value());
}

TEST_CASE("HEAD gets headers only", "[web]") {
  Server s;
  const std::string response = Request(s.Port(), "HEAD", "/metrics");
  CHECK(StatusLine(response).find(" 200 OK") != std::string::npos);
  CHECK(Body(response).empty());
}

TEST_CASE("the landing page links the metrics path", "[web]") {
  Server s;
  const std::string response = Request(s.Port(), "GET", "/");
  CHECK(StatusLine(response).find(" 200 OK") != std::string::npos);
  CHECK(Body(response).find("<a href=\"/metrics\">") != std::string::npos);
  CHECK(Body(response).find("1.2.3") != std::string::npos);
}

TEST_CASE("the landing page escapes what it shows", "[web]") {
  const std::string page = LandingPage("/m<script>", "1\"2");
  CHECK(page.find("<script>") == std::string::npos);
  CHECK(page.find("/m&lt;script&gt;") != std::string::npos);
  CHECK(page.find("1&quot;2") != std::string::npos);
}

TEST_CASE("other paths are 404, other methods 405", "[web]") {
  Server s;
  CHECK(StatusLine(Request(s.Port(), "GET", "/nope")).find("404") !=
        std::string::npos);
  CHECK(StatusLine(Request(s.Port(), "GET", "/metrics/extra")).find("404") !=
        std::string::npos);
  const std::string post = Request(s.Port(), "POST", "/metrics");
  CHECK(StatusLine(post).find("405") != std::string::npos);
  CHECK(post.find("Allow: GET, HEAD") != std::string::npos);
}

TEST_CASE("a throwing renderer answers 500 and the server lives on", "[web]") {
  std::ostringstream log;
  Logger logger(LogLevel::kInfo, log);
  {
    std::atomic<bool> fail{true};
    HttpServer server(
        Local(),
        [&fail](const ScrapeRequest&) {
          if (fail) throw std::runtime_error("boom");
          return FixedBody("ok 1\n");
        },
        logger);
    const int port = server.ListeningPorts().at(0);
    CHECK(StatusLine(Request(port, "GET", "/metrics")).find("500") !=
          std::string::npos);
    fail = false;
    CHECK(Body(Request(port, "GET", "/metrics")) == "ok 1\n");
  }
  // Read once the server's threads are gone: they wrote it.
  CHECK(log.str().find("err=boom") != std::string::npos);
}

TEST_CASE("a port in use is a clear error", "[web]") {
  Server first;
  const std::string busy = "127.0.0.1:" + std::to_string(first.Port());
  std::ostringstream log;
  Logger logger(LogLevel::kInfo, log);
  try {
    HttpServerOptions options = Local();
    options.listen_addresses = {busy};
    HttpServer second(
        options, [](const ScrapeRequest&) { return FixedBody(""); }, logger);
    FAIL("a second server bound the same port");
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    CHECK(what.find("cannot listen on " + busy) != std::string::npos);
  }
}

std::string Gunzip(const std::string& data) {
  z_stream zs{};
  REQUIRE(inflateInit2(&zs, 15 + 16) == Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  int result = Z_OK;
  while (result == Z_OK) {
    char buffer[65536];
    zs.next_out = reinterpret_cast<Bytef*>(buffer);
    zs.avail_out = sizeof buffer;
    result = inflate(&zs, Z_NO_FLUSH);
    out.append(buffer, sizeof buffer - zs.avail_out);
  }
  inflateEnd(&zs);
  REQUIRE(result == Z_STREAM_END);
  return out;
}

TEST_CASE("gzip streams decompress to the same text", "[web]") {
  const std::string text(300000, 'a');
  CHECK(Gunzip(Gzip(text, 1)) == text);
  CHECK(Gunzip(Gzip("", 6)).empty());
  GzipStream stream(1);
  std::string compressed;
  for (int i = 0; i < 10; ++i) stream.Compress(text, false, compressed);
  stream.Compress("end\n", true, compressed);
  CHECK(Gunzip(compressed).size() == 10 * text.size() + 4);
}

TEST_CASE("Accept-Encoding values that accept gzip", "[web]") {
  for (const char* yes : {"gzip", "gzip, deflate", "deflate, gzip;q=0.5",
                          " GZIP ", "br, gzip; q=1", "gzip;q=0.001"}) {
    INFO(yes);
    CHECK(AcceptsGzip(yes));
  }
  for (const char* no : {"", "deflate", "identity", "gzip;q=0", "x-gzip2",
                         "gzip;q=0.0", "gzipped"}) {
    INFO(no);
    CHECK_FALSE(AcceptsGzip(no));
  }
}

TEST_CASE("scrapes that accept gzip get it, streamed", "[web]") {
  Server s;
  s.SetRender([] {
    std::string text;
    for (int i = 0; i < 20000; ++i)
      text += "up{i=\"" + std::to_string(i) + "\"} 1\n";
    return text;
  });
  const std::string response =
      Request(s.Port(), "GET", "/metrics",
              "Accept-Encoding: gzip\r\nConnection: close\r\n", "HTTP/1.1");
  CHECK(response.find("Content-Encoding: gzip\r\n") != std::string::npos);
  CHECK(response.find("Transfer-Encoding: chunked") != std::string::npos);
  const std::string compressed = DecodeChunked(Body(response));
  CHECK(compressed.size() < s.render().size() / 4);
  CHECK(Gunzip(compressed) == s.render());
  // HTTP/1.0: the whole compressed body with its length.
  const std::string old =
      Request(s.Port(), "GET", "/metrics", "Accept-Encoding: gzip\r\n");
  CHECK(old.find("Content-Encoding: gzip\r\n") != std::string::npos);
  CHECK(Gunzip(Body(old)) == s.render());
  // Without the header: plain.
  CHECK(Body(Request(s.Port(), "GET", "/metrics")) == s.render());
}

// A renderer that blocks until released, to hold scrapes in flight.
struct Gate {
  std::mutex mutex;
  std::condition_variable changed;
  bool open = false;
  int waiting = 0;
  void Wait() {
    std::unique_lock<std::mutex> lock(mutex);
    ++waiting;
    changed.notify_all();
    changed.wait(lock, [this] { return open; });
  }
  void WaitForWaiters(int count) {
    std::unique_lock<std::mutex> lock(mutex);
    changed.wait_for(lock, std::chrono::seconds(10),
                     [&] { return waiting >= count; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mutex);
    open = true;
    changed.notify_all();
  }
};

TEST_CASE("beyond max_requests scrapes get 503 at once, the landing page not",
          "[web]") {
  std::ostringstream log;
  Logger logger(LogLevel::kInfo, log);
  Gate gate;
  std::mutex stats_mutex;
  HandlerStats last;
  HttpServerOptions options = Local(4);
  options.max_requests = 2;
  HttpServer server(
      options,
      [&](const ScrapeRequest& request) {
        {
          std::lock_guard<std::mutex> lock(stats_mutex);
          last = request.handler;
        }
        gate.Wait();
        return FixedBody("up 1\n");
      },
      logger);
  const int port = server.ListeningPorts().at(0);
  auto first = std::async(std::launch::async,
                          [&] { return Request(port, "GET", "/metrics"); });
  auto second = std::async(std::launch::async,
                           [&] { return Request(port, "GET", "/metrics"); });
  gate.WaitForWaiters(2);
  const auto started = std::chrono::steady_clock::now();
  const std::string third = Request(port, "GET", "/metrics");
  CHECK(StatusLine(third).find(" 503 ") != std::string::npos);
  CHECK(Body(third) ==
        "Limit of concurrent requests reached (2), try again later.\n");
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
  CHECK(StatusLine(Request(port, "GET", "/")).find(" 200 ") !=
        std::string::npos);
  gate.Open();
  CHECK(Body(first.get()) == "up 1\n");
  CHECK(Body(second.get()) == "up 1\n");
  // The next scrape sees the others counted, itself in flight.
  Request(port, "GET", "/metrics");
  std::lock_guard<std::mutex> lock(stats_mutex);
  CHECK(last.in_flight == 1);
  const std::vector<std::pair<int, std::uint64_t>> counts = {
      {200, 2}, {500, 0}, {503, 1}};
  CHECK(last.requests_by_code == counts);
}

// Seconds until the server closes fd (reads return 0), at most `limit`.
double SecondsUntilClosed(int fd, double limit) {
  timeval timeout{static_cast<time_t>(limit), 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  const auto start = std::chrono::steady_clock::now();
  char buffer[256];
  while (read(fd, buffer, sizeof buffer) > 0) {
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

TEST_CASE("a connection that never completes a request is closed in time",
          "[web]") {
  std::ostringstream log;
  Logger logger(LogLevel::kInfo, log);
  HttpServerOptions options = Local();
  options.request_timeout = std::chrono::milliseconds(300);
  HttpServer server(
      options, [](const ScrapeRequest&) { return FixedBody("up 1\n"); },
      logger);
  const int fd = ConnectLoopback(server.ListeningPorts().at(0));
  const std::string partial = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
  REQUIRE(write(fd, partial.data(), partial.size()) ==
          static_cast<ssize_t>(partial.size()));
  CHECK(SecondsUntilClosed(fd, 5) < 3);
  close(fd);
}

TEST_CASE("at the connection limit the longest-waiting one makes room",
          "[web]") {
  std::ostringstream log;
  Logger logger(LogLevel::kInfo, log);
  HttpServerOptions options = Local();
  options.max_connections = 3;
  HttpServer server(
      options, [](const ScrapeRequest&) { return FixedBody("up 1\n"); },
      logger);
  const int port = server.ListeningPorts().at(0);
  std::vector<int> idle;
  for (int i = 0; i < 3; ++i) idle.push_back(ConnectLoopback(port));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(Body(Request(port, "GET", "/metrics")) == "up 1\n");
  CHECK(SecondsUntilClosed(idle.front(), 5) < 3);
  for (int fd : idle) close(fd);
}

TEST_CASE("kept-alive connections answer pipelined requests in order",
          "[web]") {
  Server s;
  const std::string both =
      "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const int fd = ConnectLoopback(s.Port());
  REQUIRE(write(fd, both.data(), both.size()) ==
          static_cast<ssize_t>(both.size()));
  std::string response;
  ReadUntilClosed(fd, response);
  close(fd);
  const auto second = response.find("HTTP/1.1 200 OK");
  CHECK(response.rfind("HTTP/1.1 404 Not Found", 0) == 0);
  CHECK(second != std::string::npos);
}

TEST_CASE("malformed requests get 4xx answers", "[web]") {
  Server s;
  CHECK(StatusLine(Request(s.Port(), "GET", "/metrics",
                           "X-Big: " + std::string(20000, 'a') + "\r\n"))
            .find(" 431 ") != std::string::npos);
  CHECK(StatusLine(Request(s.Port(), "GET", "/metrics", "", "HTTP/9.9"))
            .find(" 505 ") != std::string::npos);
  CHECK(
      StatusLine(Request(s.Port(), "GET", "/metrics", "Content-Length: -1\r\n"))
          .find(" 400 ") != std::string::npos);
  CHECK(StatusLine(Request(s.Port(), "GET", "/met%zzrics")).find(" 400 ") !=
        std::string::npos);
  CHECK(Body(Request(s.Port(), "GET", "/%6detrics")) == "up 1\n");
}

}  // namespace
}  // namespace lme
