// The exporter's HTTP endpoint: the metrics path and a landing page at "/";
// every other path answers 404.
//
// Boost.Beast on Boost.Asio, so that a connection costs a thread only while
// its scrape collects: accepting, reading requests, TLS handshakes and
// writing answers are asynchronous on a few I/O threads, and idle, trickling
// or slowly reading clients hold a small buffer each, never a thread
// (docs/hardening.md has the bounds and the figures).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/logger.h"
#include "web/http_text.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace lme {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// What --web.config.file asks of every connection and request
// (web/web_security.h). Called from the server's threads: thread-safe, and
// nothing may throw.
class RequestGuard {
 public:
  enum class Verdict { kAllow, kDeny, kNeedsBcrypt };

  virtual ~RequestGuard() = default;
  // Whether the listeners speak TLS; fixed for the server's life.
  virtual bool Tls() const = 0;
  // The context for a new TLS connection: the current certificates.
  virtual std::shared_ptr<boost::asio::ssl::context> TlsContext() = 0;
  // From the request's Authorization header (null when absent). Without
  // `may_bcrypt` it answers only what it can tell cheaply; the server then
  // asks again, with it, on its one password-checking thread.
  virtual Verdict Authorize(const char* authorization, bool may_bcrypt) = 0;
  // Added to every answer (http_server_config.headers).
  virtual HeaderList ExtraHeaders() = 0;
};

// client_golang's promhttp_metric_handler_* figures, for the scrape that
// asks: requests of the metrics path being served (this one included) and
// those answered so far by HTTP status.
struct HandlerStats {
  int in_flight = 0;
  std::vector<std::pair<int, std::uint64_t>> requests_by_code;
};

struct ScrapeRequest {
  // When the request was read: a scrape that waited for a free scrape
  // thread counts its deadline from here, not from when it started.
  std::chrono::steady_clock::time_point received;
  // X-Prometheus-Scrape-Timeout-Seconds, when sent and valid.
  std::optional<double> timeout_seconds;
  std::string query;  // the URL's query string, without '?'
  HandlerStats handler;
};

// A body produced piece by piece: each call appends the next piece to `out`
// and returns false once there is no more. Called on an I/O thread between
// writes, only once the client took the previous piece: it must be quick
// and never block. If it throws, the body ends unfinished (no last chunk).
using BodySource = std::function<bool(std::string& out)>;

// Collects the metrics for one scrape and returns what writes their
// exposition. Runs on one of the server's scrape threads and may block until
// the scrape's deadline. Throws BadRequest to refuse the request (answered
// 400 with its message, e.g. an unknown collector in collect[]); if it throws
// anything else or returns an empty source, the scrape answers 500 (the
// error is logged).
using RenderMetrics = std::function<BodySource(const ScrapeRequest&)>;

// Optional, tried on the I/O thread before a scrape thread is taken: when a
// collection that this scrape may share is already running, attach to it
// and return true; `done` is then called once with the body (from whatever
// thread ends that collection). False: the scrape goes to a scrape thread
// and RenderMetrics. Must not block or throw. Without it, scrapes that arrive
// together share a collection only as far as there are scrape threads.
using BodyReady = std::function<void(BodySource body)>;
using JoinMetrics = std::function<bool(const ScrapeRequest&, BodyReady done)>;

class BadRequest : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct HttpServerOptions {
  // Each "[IP]:PORT" (web/listen_address.h); ignored when listen_fds is set.
  std::vector<std::string> listen_addresses = {":9177"};
  // Sockets already listening, handed over by systemd (--web.systemd-socket).
  std::vector<int> listen_fds = {};
  std::string telemetry_path = "/metrics";
  std::string version = "";  // shown on the landing page
  // Metrics requests served at once; beyond, 503 at once. 0: no limit.
  int max_requests = 40;
  // Threads that accept, read, handshake and write for every connection.
  int io_threads = 2;
  // Threads that run RenderMetrics. Scrapes that arrive together share one
  // collection (collector/exporter_collectable.h), so a few are enough.
  int scrape_threads = 4;
  // A connection must complete a request within this long of connecting (or
  // of its previous answer, when kept alive), TLS handshake included.
  std::chrono::milliseconds request_timeout{10000};
  // A client must take each piece of an answer (64 KiB) within this long.
  std::chrono::milliseconds write_timeout{30000};
  // Open connections at most; at the limit, the connection that has waited
  // longest for its request is closed to make room. 0: from the process's
  // file-descriptor limit.
  std::size_t max_connections = 0;
  // See JoinMetrics; unset: every scrape takes a scrape thread.
  JoinMetrics join_metrics = nullptr;
  // gzip level for clients that accept it (1-9; 0: never compress).
  int gzip_level = 1;
  // TLS and basic auth; null: plain HTTP, every request served.
  std::shared_ptr<RequestGuard> guard = nullptr;
};

struct ListeningSocket {
  std::string address;  // as logged: "127.0.0.1:9177", "[::]:9177"
  int port = 0;
};

struct HttpServerImpl;

class HttpServer {
 public:
  // Listens at once; throws std::runtime_error with the reason when it
  // cannot ("cannot listen on ADDRESS: ...").
  HttpServer(const HttpServerOptions& options, RenderMetrics render,
             Logger& logger);
  // Stops accepting, closes every connection and waits for running scrapes.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::vector<ListeningSocket> Listening() const;
  // The ports actually bound (useful with port 0).
  std::vector<int> ListeningPorts() const;

 private:
  std::unique_ptr<HttpServerImpl> impl_;
};

}  // namespace lme
