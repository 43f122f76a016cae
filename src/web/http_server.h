// The exporter's HTTP endpoint on CivetWeb: the metrics path and a landing
// page at "/"; every other path answers 404.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/logger.h"

struct mg_context;

namespace lme {

struct HttpServerOptions {
  std::string listen_address = ":9177";
  std::string telemetry_path = "/metrics";
  // Each open connection holds a worker; idle ones cost little, and fewer
  // let a handful of slow clients starve the scrapers.
  int threads = 128;
  std::string version;  // shown on the landing page
  // Decides from a request's Authorization header (null when absent) whether
  // it is served or answered 401; unset: every request is served. Must not
  // throw. See web/web_security.h.
  std::function<bool(const char* authorization)> authorize = nullptr;
  // CivetWeb settings that make the listener serve TLS (web/tls_listener.h);
  // empty: plain HTTP.
  std::vector<std::pair<std::string, std::string>> tls_settings = {};
};

// Writes a response body piece by piece through `write`.
using BodyWriter =
    std::function<void(const std::function<void(std::string_view)>& write)>;

// Collects the metrics for one scrape, given the scraper's timeout (the
// X-Prometheus-Scrape-Timeout-Seconds header) when it sent one and the
// request's query string (without '?'; collect[] and exclude[]), and returns
// what writes their exposition. The body goes out in pieces as it is
// written (chunked), so no scrape holds the whole text. Throws BadRequest to
// refuse the request (answered 400 with its message); anything else it
// throws is answered 500 rather than ending the process.
using RenderMetrics = std::function<BodyWriter(
    std::optional<double> scrape_timeout_seconds, std::string_view query)>;

class BadRequest : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The header's value in seconds; empty when absent or not a number.
std::optional<double> ParseScrapeTimeoutHeader(const char* value);

class HttpServer {
 public:
  // Throws std::runtime_error with the reason when it cannot listen.
  HttpServer(const HttpServerOptions& options, RenderMetrics render,
             Logger& logger);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The ports actually bound (useful with port 0).
  std::vector<int> ListeningPorts() const;

 private:
  struct Handlers;
  std::unique_ptr<Handlers> handlers_;
  mg_context* context_ = nullptr;
};

// The HTML of the landing page; the path is escaped.
std::string LandingPage(const std::string& telemetry_path,
                        const std::string& version);

}  // namespace lme
