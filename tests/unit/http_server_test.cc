#include "web/http_server.h"

#include <sstream>
#include <stdexcept>

#include "catch_compat.h"
#include "raw_http.h"

namespace lme {
namespace {

// Writes `text` in pieces of at most 64 KiB and one empty piece, as the
// exposition writer may.
BodyWriter FixedBody(std::string text) {
  return [text](const std::function<void(std::string_view)>& write) {
    std::string_view rest(text);
    write("");
    while (!rest.empty()) {
      write(rest.substr(0, 65536));
      rest.remove_prefix(std::min<std::size_t>(rest.size(), 65536));
    }
  };
}

std::string StatusLine(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

std::string Body(const std::string& response) {
  const auto end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

struct Server {
  std::ostringstream log;
  Logger logger{LogLevel::kDebug, log};
  std::function<std::string()> render = [] { return std::string("up 1\n"); };
  std::optional<double> seen_timeout;
  std::string seen_query;
  HttpServer server{
      {"127.0.0.1:0", "/metrics", 2, "1.2.3"},
      [this](std::optional<double> timeout, std::string_view query) {
        seen_timeout = timeout;
        seen_query = query;
        return FixedBody(render());
      },
      logger};
  int Port() const { return server.ListeningPorts().at(0); }
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
  s.render = [] { return std::string(200000, 'x') + "\nup 1\n"; };
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
        {"127.0.0.1:0", "/metrics", 2, "v"},
        [](std::optional<double>, std::string_view) -> BodyWriter {
          return [](const auto& write) {
            write("up 1\n");
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
  CHECK_FALSE(s.seen_timeout.has_value());
  Request(s.Port(), "GET", "/metrics",
          "X-Prometheus-Scrape-Timeout-Seconds: 2.5\r\n");
  CHECK(s.seen_timeout == 2.5);
}

TEST_CASE("the query string reaches the renderer; BadRequest answers 400",
          "[web]") {
  Server s;
  Request(s.Port(), "GET", "/metrics");
  CHECK(s.seen_query.empty());
  Request(s.Port(), "GET", "/metrics?collect%5B%5D=node_memory&x=1");
  CHECK(s.seen_query == "collect%5B%5D=node_memory&x=1");
  s.render = []() -> std::string { throw BadRequest("unknown collector 'x'"); };
  const std::string response = Request(s.Port(), "GET", "/metrics?x");
  CHECK(StatusLine(response).find(" 400 ") != std::string::npos);
  CHECK(Body(response) == "unknown collector 'x'\n");
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
  Server s;
  s.render = []() -> std::string { throw std::runtime_error("boom"); };
  CHECK(StatusLine(Request(s.Port(), "GET", "/metrics")).find("500") !=
        std::string::npos);
  CHECK(s.log.str().find("err=boom") != std::string::npos);
  s.render = [] { return std::string("ok 1\n"); };
  CHECK(Body(Request(s.Port(), "GET", "/metrics")) == "ok 1\n");
}

TEST_CASE("a port in use is a clear error", "[web]") {
  Server first;
  const std::string busy = "127.0.0.1:" + std::to_string(first.Port());
  std::ostringstream log;
  Logger logger(LogLevel::kInfo, log);
  try {
    HttpServer second(
        {busy, "/metrics", 2, "v"},
        [](std::optional<double>, std::string_view) { return FixedBody(""); },
        logger);
    FAIL("a second server bound the same port");
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    CHECK(what.find("cannot listen on " + busy) != std::string::npos);
  }
}

}  // namespace
}  // namespace lme
