#include "web/http_server.h"

#include <civetweb.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <stdexcept>

#include "web/listen_address.h"

namespace lme {
namespace {

constexpr const char* kExpositionContentType =
    "text/plain; version=0.0.4; charset=utf-8";

std::string HtmlEscape(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    switch (c) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '>': escaped += "&gt;"; break;
      case '"': escaped += "&quot;"; break;
      case '\'': escaped += "&#39;"; break;
      default: escaped += c;
    }
  }
  return escaped;
}

bool IsGetOrHead(const mg_request_info* request) {
  return std::strcmp(request->request_method, "GET") == 0 ||
         std::strcmp(request->request_method, "HEAD") == 0;
}

int Send(mg_connection* connection, int status, const char* content_type,
         const std::string& body) {
  const mg_request_info* request = mg_get_request_info(connection);
  mg_response_header_start(connection, status);
  mg_response_header_add(connection, "Content-Type", content_type, -1);
  if (status == 405)
    mg_response_header_add(connection, "Allow", "GET, HEAD", -1);
  if (status == 401) {
    mg_response_header_add(connection, "WWW-Authenticate",
                           "Basic realm=\"libvirt-memory-exporter\", "
                           "charset=\"UTF-8\"",
                           -1);
  }
  mg_response_header_add(connection, "Content-Length",
                         std::to_string(body.size()).c_str(), -1);
  mg_response_header_send(connection);
  if (std::strcmp(request->request_method, "HEAD") != 0) {
    mg_write(connection, body.data(), body.size());
  }
  return status;
}

// The client went away while its body was being written.
struct ClientGone {};

void WriteOrThrow(mg_connection* connection, std::string_view data) {
  if (mg_write(connection, data.data(), data.size()) !=
      static_cast<int>(data.size())) {
    throw ClientGone{};
  }
}

std::string ExceptionMessage(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

int InternalServerError(mg_connection* connection) {
  return Send(connection, 500, "text/plain; charset=utf-8",
              "Internal Server Error\n");
}

// HTTP/1.0 has no chunked encoding: its clients get the whole body at once.
bool AcceptsChunks(mg_connection* connection) {
  return std::strcmp(mg_get_request_info(connection)->http_version, "1.1") == 0;
}

// HTTP/1.1 chunked encoding, one write per piece. Throws what `write_body`
// throws, after the status line is out.
int SendChunked(mg_connection* connection, const char* content_type,
                const BodyWriter& write_body) {
  mg_response_header_start(connection, 200);
  mg_response_header_add(connection, "Content-Type", content_type, -1);
  mg_response_header_add(connection, "Transfer-Encoding", "chunked", -1);
  mg_response_header_send(connection);
  const mg_request_info* request = mg_get_request_info(connection);
  if (std::strcmp(request->request_method, "HEAD") == 0) return 200;
  std::string frame;
  try {
    write_body([&](std::string_view piece) {
      if (piece.empty()) return;  // an empty chunk would end the body
      char size_line[24];
      const int length =
          std::snprintf(size_line, sizeof size_line, "%zx\r\n", piece.size());
      frame.assign(size_line, static_cast<std::size_t>(length));
      frame += piece;
      frame += "\r\n";
      WriteOrThrow(connection, frame);
    });
    WriteOrThrow(connection, "0\r\n\r\n");
  } catch (const ClientGone&) {
  }
  return 200;
}

int MethodNotAllowed(mg_connection* connection) {
  return Send(connection, 405, "text/plain; charset=utf-8",
              "Method Not Allowed\n");
}

// An 's' after the port makes CivetWeb speak TLS on it.
// CivetWeb gives every connection a worker thread for as long as it stays
// open, so slow or idle clients can starve scrapers (tests/hostile): many
// cheap threads, a short request timeout and no keep-alive (Prometheus
// scrapes far apart) bound how long one client holds a worker.
std::vector<std::string> ServerSettings(const HttpServerOptions& options,
                                        const std::string& port) {
  std::vector<std::string> settings = {
      "listening_ports", port + (options.tls_settings.empty() ? "" : "s"),
      "num_threads", std::to_string(options.threads), "request_timeout_ms",
      "5000", "enable_keep_alive", "no",
      // Headers and body go out in two writes; Nagle would hold the second.
      "tcp_nodelay", "1"};
  for (const auto& [name, value] : options.tls_settings) {
    settings.push_back(name);
    settings.push_back(value);
  }
  return settings;
}

}  // namespace

struct HttpServer::Handlers {
  RenderMetrics render;
  std::string landing_page;
  Logger& logger;
  std::function<bool(const char* authorization)> authorize;

  static int Metrics(mg_connection* connection, void* self) {
    return static_cast<Handlers*>(self)->ServeMetrics(connection);
  }
  static int Landing(mg_connection* connection, void* self) {
    return static_cast<Handlers*>(self)->ServeLanding(connection);
  }
  static int LogMessage(const mg_connection* connection, const char* message);

  // Ahead of every handler, so that unknown paths answer 401 as well and do
  // not tell which paths exist.
  static int BeginRequest(mg_connection* connection) {
    const auto* self =
        static_cast<Handlers*>(mg_get_user_data(mg_get_context(connection)));
    if (self == nullptr || !self->authorize ||
        self->authorize(mg_get_header(connection, "Authorization"))) {
      return 0;  // CivetWeb goes on to the handlers
    }
    return Send(connection, 401, "text/plain; charset=utf-8", "Unauthorized\n");
  }

  int ServeMetrics(mg_connection* connection) {
    if (!IsGetOrHead(mg_get_request_info(connection))) {
      return MethodNotAllowed(connection);
    }
    BodyWriter body;
    const char* query = mg_get_request_info(connection)->query_string;
    try {
      body = render(ParseScrapeTimeoutHeader(mg_get_header(
                        connection, "X-Prometheus-Scrape-Timeout-Seconds")),
                    query ? query : "");
    } catch (const BadRequest& refused) {
      return Send(connection, 400, "text/plain; charset=utf-8",
                  std::string(refused.what()) + "\n");
    } catch (...) {
      logger.Error("rendering metrics failed",
                   {{"err", ExceptionMessage(std::current_exception())}});
      return InternalServerError(connection);
    }
    if (!body) return InternalServerError(connection);
    if (!AcceptsChunks(connection)) {
      std::string text;
      try {
        body([&](std::string_view piece) { text += piece; });
      } catch (...) {
        logger.Error("writing metrics failed",
                     {{"err", ExceptionMessage(std::current_exception())}});
        return InternalServerError(connection);
      }
      return Send(connection, 200, kExpositionContentType, text);
    }
    try {
      return SendChunked(connection, kExpositionContentType, body);
    } catch (...) {
      // Too late for a 500 once the status line is out: the client sees a
      // body that ends without its last chunk.
      logger.Error("writing metrics failed",
                   {{"err", ExceptionMessage(std::current_exception())}});
      return 500;
    }
  }

  int ServeLanding(mg_connection* connection) {
    if (!IsGetOrHead(mg_get_request_info(connection))) {
      return MethodNotAllowed(connection);
    }
    return Send(connection, 200, "text/html; charset=utf-8", landing_page);
  }
};

int HttpServer::Handlers::LogMessage(const mg_connection* connection,
                                     const char* message) {
  const mg_context* context = mg_get_context(connection);
  auto* self = static_cast<Handlers*>(mg_get_user_data(context));
  if (self != nullptr) self->logger.Debug("http", {{"msg", message}});
  return 1;  // handled: CivetWeb prints nothing itself
}

std::optional<double> ParseScrapeTimeoutHeader(const char* value) {
  if (value == nullptr || *value == '\0') return std::nullopt;
  char* end = nullptr;
  const double seconds = std::strtod(value, &end);
  if (end == value || *end != '\0' || !(seconds > 0)) return std::nullopt;
  return seconds;
}

std::string LandingPage(const std::string& telemetry_path,
                        const std::string& version) {
  const std::string path = HtmlEscape(telemetry_path);
  return "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\">"
         "<title>libvirt memory exporter</title></head>\n<body>\n"
         "<h1>libvirt memory exporter</h1>\n<p>Guest memory from libvirt's "
         "balloon stats, for Prometheus. Version " +
         HtmlEscape(version) + ".</p>\n<ul><li><a href=\"" + path + "\">" +
         path + "</a></li></ul>\n</body>\n</html>\n";
}

HttpServer::HttpServer(const HttpServerOptions& options, RenderMetrics render,
                       Logger& logger) {
  const auto port = ToCivetListeningPort(options.listen_address);
  if (!port) {
    throw std::runtime_error("invalid listen address " +
                             options.listen_address);
  }
  handlers_.reset(new Handlers{
      std::move(render), LandingPage(options.telemetry_path, options.version),
      logger, options.authorize});
  const std::vector<std::string> settings = ServerSettings(options, *port);
  std::vector<const char*> config;
  for (const auto& setting : settings) config.push_back(setting.c_str());
  config.push_back(nullptr);
  mg_callbacks callbacks{};
  callbacks.log_message = &Handlers::LogMessage;
  callbacks.begin_request = &Handlers::BeginRequest;
  mg_init_library(0);
  char error_text[256] = "";
  mg_error_data error{};
  error.text = error_text;
  error.text_buffer_size = sizeof error_text;
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = handlers_.get();
  init.configuration_options = config.data();
  context_ = mg_start2(&init, &error);
  if (context_ == nullptr) {
    mg_exit_library();
    throw std::runtime_error("cannot listen on " + options.listen_address +
                             ": " + error_text);
  }
  mg_set_request_handler(context_, (options.telemetry_path + "$").c_str(),
                         &Handlers::Metrics, handlers_.get());
  if (options.telemetry_path != "/") {
    mg_set_request_handler(context_, "/$", &Handlers::Landing, handlers_.get());
  }
}

HttpServer::~HttpServer() {
  mg_stop(context_);
  mg_exit_library();
}

std::vector<int> HttpServer::ListeningPorts() const {
  mg_server_port ports[8];
  const int count = mg_get_server_ports(context_, 8, ports);
  std::vector<int> result;
  for (int i = 0; i < count; ++i) result.push_back(ports[i].port);
  return result;
}

}  // namespace lme
