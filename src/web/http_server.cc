#include "web/http_server.h"

#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <list>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "util/exception_text.h"
#include "web/gzip.h"
#include "web/http_text.h"
#include "web/listen_address.h"

namespace lme {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

constexpr const char* kExpositionContentType =
    "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kTextContentType = "text/plain; charset=utf-8";
// A scrape request is a request line and a few headers; 16 KiB leaves room
// for a thousand short ones. Bodies are read and ignored.
constexpr std::size_t kHeaderLimit = 16 * 1024;
constexpr std::size_t kBodyLimit = 64 * 1024;
// Password checks waiting for the one bcrypt thread; beyond, 503 at once.
constexpr int kMaxPendingPasswordChecks = 16;
// Go's answer to plain HTTP on a TLS port.
constexpr std::string_view kHttpToHttps =
    "HTTP/1.0 400 Bad Request\r\n\r\n"
    "Client sent an HTTP request to an HTTPS server.\n";

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string HttpDate() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[40];
  const std::size_t n =
      std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &utc);
  return std::string(text, n);
}

std::string QueryOf(std::string_view target) {
  const auto question = target.find('?');
  return question == std::string_view::npos
             ? ""
             : std::string(target.substr(question + 1));
}

std::string ChunkFrame(std::string_view data) {
  char size_line[24];
  const int length =
      std::snprintf(size_line, sizeof size_line, "%zx\r\n", data.size());
  std::string frame(size_line, static_cast<std::size_t>(length));
  frame += data;
  frame += "\r\n";
  return frame;
}

std::size_t DefaultMaxConnections() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 ||
      limit.rlim_cur == RLIM_INFINITY) {
    return 16384;
  }
  // Room for libvirt's sockets, the log and the listeners.
  const std::size_t files = static_cast<std::size_t>(limit.rlim_cur);
  return std::clamp<std::size_t>(files > 128 ? files - 128 : 16, 16, 16384);
}

}  // namespace

// ---------------------------------------------------------------------------
// Connections waiting for a request, oldest first, so that the oldest can be
// closed when the server is at its connection limit.

class Waiter {
 public:
  virtual ~Waiter() = default;
  // Closes the connection; called from any thread.
  virtual void Evict() = 0;
};

class WaitingList {
  struct Waiting {
    std::weak_ptr<Waiter> waiter;
    bool evicted = false;
  };

 public:
  using Entry = std::list<Waiting>::iterator;

  Entry Add(std::weak_ptr<Waiter> waiter) {
    std::lock_guard<std::mutex> lock(mutex_);
    return waiters_.insert(waiters_.end(), Waiting{std::move(waiter), false});
  }
  // Only the owner removes its entry, so that its iterator stays valid.
  void Remove(Entry entry) {
    std::lock_guard<std::mutex> lock(mutex_);
    waiters_.erase(entry);
  }
  // True when one was told to close.
  bool EvictOldest() {
    std::shared_ptr<Waiter> oldest;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto& waiting : waiters_) {
        if (waiting.evicted) continue;
        oldest = waiting.waiter.lock();
        if (oldest) {
          waiting.evicted = true;
          break;
        }
      }
    }
    if (!oldest) return false;
    oldest->Evict();
    return true;
  }

 private:
  std::mutex mutex_;
  std::list<Waiting> waiters_;
};

struct HttpServerImpl {
  HttpServerImpl(const HttpServerOptions& server_options,
                 RenderMetrics render_metrics, Logger& server_logger)
      : options(server_options),
        render(std::move(render_metrics)),
        logger(server_logger),
        landing_page(LandingPage(options.telemetry_path, options.version)),
        max_connections(options.max_connections > 0 ? options.max_connections
                                                    : DefaultMaxConnections()),
        io(std::make_unique<net::io_context>(options.io_threads)),
        scrape_pool(std::make_unique<net::thread_pool>(
            static_cast<std::size_t>(std::max(1, options.scrape_threads)))),
        password_pool(std::make_unique<net::thread_pool>(1)) {
    for (int code : {200, 500, 503}) requests_by_code[code] = 0;
  }

  void Listen();
  void ListenOn(const std::string& address);
  void Adopt(int fd);
  void Accept(tcp::acceptor& acceptor);
  void OnAccept(tcp::acceptor& acceptor, error_code error, tcp::socket socket);
  void Start(tcp::socket socket);
  void Stop();

  // promhttp's bookkeeping of metrics requests.
  bool EnterMetricsRequest();
  void LeaveMetricsRequest(int status);
  HandlerStats Stats();

  const HttpServerOptions options;
  const RenderMetrics render;
  Logger& logger;
  const std::string landing_page;
  const std::size_t max_connections;

  std::atomic<std::size_t> open_connections{0};
  std::atomic<int> pending_password_checks{0};
  WaitingList waiting;

  std::mutex stats_mutex;
  int in_flight = 0;                              // guarded by stats_mutex
  std::map<int, std::uint64_t> requests_by_code;  // guarded by stats_mutex

  std::unique_ptr<net::io_context> io;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<ListeningSocket> listening;
  std::vector<std::thread> io_threads;
  std::unique_ptr<net::thread_pool> scrape_pool;
  std::unique_ptr<net::thread_pool> password_pool;
  std::unique_ptr<net::steady_timer> accept_retry;
};

bool HttpServerImpl::EnterMetricsRequest() {
  std::lock_guard<std::mutex> lock(stats_mutex);
  if (options.max_requests > 0 && in_flight >= options.max_requests) {
    ++requests_by_code[503];
    return false;
  }
  ++in_flight;
  return true;
}

void HttpServerImpl::LeaveMetricsRequest(int status) {
  std::lock_guard<std::mutex> lock(stats_mutex);
  --in_flight;
  ++requests_by_code[status];
}

HandlerStats HttpServerImpl::Stats() {
  std::lock_guard<std::mutex> lock(stats_mutex);
  HandlerStats stats;
  stats.in_flight = in_flight;
  stats.requests_by_code.assign(requests_by_code.begin(),
                                requests_by_code.end());
  return stats;
}

namespace {

// One slot of the connection limit, held by whatever owns the connection.
class ConnectionSlot {
 public:
  explicit ConnectionSlot(std::atomic<std::size_t>& open) : open_(open) {}
  ~ConnectionSlot() { --open_; }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;

 private:
  std::atomic<std::size_t>& open_;
};

// What a request asks, kept past the parser.
struct RequestInfo {
  http::verb method = http::verb::unknown;
  unsigned version = 11;
  bool keep_alive = false;
  std::string target;
  std::string authorization;
  bool has_authorization = false;
  std::string scrape_timeout;
  bool has_scrape_timeout = false;
  bool gzip = false;
};

// The HTTP conversation on one connection, plain or TLS (Derived provides
// stream(), Shutdown() and shared_from_this()).
template <class Derived>
class Session : public Waiter {
 public:
  Session(HttpServerImpl& server, std::unique_ptr<ConnectionSlot> slot,
          beast::flat_buffer buffer)
      : server_(server), slot_(std::move(slot)), buffer_(std::move(buffer)) {}

  ~Session() override { StopWaiting(); }

  void Evict() override {
    net::post(Executor(),
              [self = Self().shared_from_this()] { self->CloseNow(); });
  }

 protected:
  Derived& Self() { return static_cast<Derived&>(*this); }
  auto Executor() {
    return beast::get_lowest_layer(Self().stream()).get_executor();
  }
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(Self().stream()); }

  void StartWaiting() {
    if (!waiting_) {
      entry_ = server_.waiting.Add(Self().shared_from_this());
      waiting_ = true;
    }
  }
  void StopWaiting() {
    if (waiting_) {
      server_.waiting.Remove(entry_);
      waiting_ = false;
    }
  }

  void CloseNow() {
    StopWaiting();
    error_code ignored;
    Tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Tcp().close();
  }

 public:
  void ReadRequest() {
    StartWaiting();
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    Tcp().expires_after(server_.options.request_timeout);
    http::async_read(
        Self().stream(), buffer_, *parser_,
        [self = Self().shared_from_this()](error_code error, std::size_t) {
          self->OnRead(error);
        });
  }

 private:
  void OnRead(error_code error) {
    StopWaiting();
    const bool malformed =
        error &&
        error.category() ==
            make_error_code(http::error::bad_target).category() &&
        error != http::error::end_of_stream &&
        error != http::error::partial_message;
    if (error && !malformed) return CloseNow();  // gone, timed out, closed
    if (malformed) {
      // Malformed: say so and close, as Go's server does.
      request_ = RequestInfo{};
      request_.version = 11;
      const int status = error == http::error::header_limit  ? 431
                         : error == http::error::body_limit  ? 413
                         : error == http::error::bad_version ? 505
                                                             : 400;
      return Answer(status, kTextContentType,
                    std::string(Reason(status)) + "\n", {}, false);
    }
    const auto& message = parser_->get();
    request_ = RequestInfo{};
    request_.method = message.method();
    request_.version = message.version();
    request_.keep_alive = message.keep_alive();
    request_.target = std::string(message.target());
    if (auto it = message.find(http::field::authorization);
        it != message.end()) {
      request_.authorization = std::string(it->value());
      request_.has_authorization = true;
    }
    if (auto it = message.find("X-Prometheus-Scrape-Timeout-Seconds");
        it != message.end()) {
      request_.scrape_timeout = std::string(it->value());
      request_.has_scrape_timeout = true;
    }
    if (auto it = message.find(http::field::accept_encoding);
        it != message.end()) {
      const auto value = it->value();
      request_.gzip = AcceptsGzip(std::string_view(value.data(), value.size()));
    }
    parser_.reset();
    if (request_.version != 10 && request_.version != 11) {
      return Answer(505, kTextContentType, "HTTP Version Not Supported\n", {},
                    false);
    }
    if (server_.options.guard)
      extra_headers_ = server_.options.guard->ExtraHeaders();
    Authorize();
  }

  const char* AuthorizationHeader() const {
    return request_.has_authorization ? request_.authorization.c_str()
                                      : nullptr;
  }

  // Ahead of routing, so that unknown paths answer 401 as well and do not
  // tell which paths exist.
  void Authorize() {
    if (!server_.options.guard) return Route();
    const auto verdict =
        server_.options.guard->Authorize(AuthorizationHeader(), false);
    if (verdict != RequestGuard::Verdict::kNeedsBcrypt) {
      return OnAuthorized(verdict == RequestGuard::Verdict::kAllow);
    }
    // bcrypt costs tens of milliseconds: on its own thread, one at a time,
    // and only so many waiting, so that guessing passwords costs at most one
    // core and never delays the I/O threads.
    if (++server_.pending_password_checks > kMaxPendingPasswordChecks) {
      --server_.pending_password_checks;
      return Answer(503, kTextContentType,
                    "Too many password checks at once, try again later.\n", {},
                    request_.keep_alive);
    }
    net::post(*server_.password_pool, [self = Self().shared_from_this()] {
      const auto start = std::chrono::steady_clock::now();
      const bool allowed = self->server_.options.guard->Authorize(
                               self->AuthorizationHeader(), true) ==
                           RequestGuard::Verdict::kAllow;
      // Resting a quarter of the check's time caps bcrypt at 0.8 of a core,
      // so that with the I/O threads' share a flood stays under one core.
      std::this_thread::sleep_for((std::chrono::steady_clock::now() - start) /
                                  4);
      --self->server_.pending_password_checks;
      net::post(self->Executor(),
                [self, allowed] { self->OnAuthorized(allowed); });
    });
  }

  void OnAuthorized(bool allowed) {
    if (allowed) return Route();
    Answer(401, kTextContentType, "Unauthorized\n",
           {{"WWW-Authenticate",
             "Basic realm=\"libvirt-memory-exporter\", charset=\"UTF-8\""}},
           request_.keep_alive);
  }

  bool IsGetOrHead() const {
    return request_.method == http::verb::get ||
           request_.method == http::verb::head;
  }

  void Route() {
    const auto path = DecodedPath(request_.target);
    if (!path) return Answer(400, kTextContentType, "Bad Request\n", {}, false);
    const bool metrics = *path == server_.options.telemetry_path;
    const bool landing = !metrics && *path == "/";
    if (!metrics && !landing) {
      return Answer(404, kTextContentType, "Not Found\n", {},
                    request_.keep_alive);
    }
    if (!IsGetOrHead()) {
      return Answer(405, kTextContentType, "Method Not Allowed\n",
                    {{"Allow", "GET, HEAD"}}, request_.keep_alive);
    }
    if (landing) {
      return Answer(200, "text/html; charset=utf-8", server_.landing_page, {},
                    request_.keep_alive);
    }
    ServeMetrics();
  }

  void ServeMetrics() {
    if (!server_.EnterMetricsRequest()) {
      return Answer(503, kTextContentType,
                    "Limit of concurrent requests reached (" +
                        std::to_string(server_.options.max_requests) +
                        "), try again later.\n",
                    {}, request_.keep_alive);
    }
    in_metrics_request_ = true;
    metrics_status_ = 0;
    bytes_written_ = 0;
    ScrapeRequest scrape;
    scrape.received = std::chrono::steady_clock::now();
    scrape.timeout_seconds = ParseScrapeTimeoutHeader(
        request_.has_scrape_timeout ? request_.scrape_timeout.c_str()
                                    : nullptr);
    scrape.query = QueryOf(request_.target);
    scrape.handler = server_.Stats();
    gzip_ = request_.gzip && server_.options.gzip_level > 0;
    // HTTP/1.0 answers are built whole, which is no work for an I/O thread.
    if (request_.version == 11 && TryJoin(scrape)) return;
    net::post(*server_.scrape_pool,
              [self = Self().shared_from_this(), scrape = std::move(scrape)] {
                self->Collect(scrape);
              });
  }

  // Shares the collection in flight without holding a scrape thread.
  bool TryJoin(const ScrapeRequest& scrape) {
    if (!server_.options.join_metrics) return false;
    auto done = [self = Self().shared_from_this()](BodySource body) {
      net::post(self->Executor(), [self, body = std::move(body)]() mutable {
        self->OnCollected(std::move(body), std::nullopt);
      });
    };
    try {
      return server_.options.join_metrics(scrape, std::move(done));
    } catch (...) {
      return false;
    }
  }

  // On a scrape thread.
  void Collect(const ScrapeRequest& scrape) {
    BodySource body;
    try {
      body = server_.render(scrape);
    } catch (const BadRequest& refused) {
      net::post(Executor(), [self = Self().shared_from_this(),
                             reason = std::string(refused.what())] {
        self->OnRefused(reason);
      });
      return;
    } catch (...) {
      server_.logger.Error("rendering metrics failed",
                           {{"err", CurrentExceptionText()}});
      body = nullptr;
    }
    std::optional<std::string> whole;
    // HTTP/1.0 has no chunked encoding: its clients get the whole body at
    // once, so nothing is sent before it is complete.
    if (body && request_.version == 10) whole = WholeBody(body);
    net::post(Executor(),
              [self = Self().shared_from_this(), body = std::move(body),
               whole = std::move(whole)]() mutable {
                self->OnCollected(std::move(body), std::move(whole));
              });
  }

  std::optional<std::string> WholeBody(const BodySource& body) {
    try {
      std::string text;
      while (body(text)) {
      }
      if (gzip_) return Gzip(text, server_.options.gzip_level);
      return text;
    } catch (...) {
      server_.logger.Error("writing metrics failed",
                           {{"err", CurrentExceptionText()}});
      return std::nullopt;
    }
  }

  HeaderList MetricsHeaders() const {
    HeaderList headers;
    if (gzip_) headers.emplace_back("Content-Encoding", "gzip");
    return headers;
  }

  void OnRefused(const std::string& reason) {
    metrics_status_ = 400;
    Answer(400, kTextContentType, reason + "\n", {}, request_.keep_alive);
  }

  void OnCollected(BodySource body, std::optional<std::string> whole) {
    if (!body || (request_.version == 10 && !whole)) {
      metrics_status_ = 500;
      return Answer(500, kTextContentType, "Internal Server Error\n", {},
                    false);
    }
    metrics_status_ = 200;
    if (whole) {
      return Answer(200, kExpositionContentType, std::move(*whole),
                    MetricsHeaders(), false);
    }
    body_ = std::move(body);
    HeaderList headers = MetricsHeaders();
    headers.emplace_back("Transfer-Encoding", "chunked");
    std::string head = Head(200, kExpositionContentType, headers, std::nullopt,
                            request_.keep_alive);
    if (request_.method == http::verb::head) {
      body_ = nullptr;
      return Write(std::move(head), request_.keep_alive);
    }
    if (gzip_) {
      try {
        gzip_stream_ = std::make_unique<GzipStream>(server_.options.gzip_level);
      } catch (...) {
        return Answer(500, kTextContentType, "Internal Server Error\n", {},
                      false);
      }
    }
    pending_ = std::move(head);
    WriteNextPiece();
  }

  // The next chunk of the body after what is in pending_; one write each.
  void WriteNextPiece() {
    bool more = true;
    try {
      while (more && pending_.size() < 16 * 1024) {
        piece_.clear();
        more = body_(piece_);
        if (gzip_stream_) {
          compressed_.clear();
          gzip_stream_->Compress(piece_, !more, compressed_);
          if (!compressed_.empty()) pending_ += ChunkFrame(compressed_);
        } else if (!piece_.empty()) {
          pending_ += ChunkFrame(piece_);
        }
      }
    } catch (...) {
      // Too late for a 500 once the status line is out: the client sees a
      // body that ends without its last chunk.
      server_.logger.Error("writing metrics failed",
                           {{"err", CurrentExceptionText()}});
      body_ = nullptr;
      if (pending_.empty()) return CloseAfterMetrics();
      return WriteRaw(std::move(pending_),
                      [](Derived& self) { self.CloseAfterMetrics(); });
    }
    if (!more) {
      body_ = nullptr;
      gzip_stream_.reset();
      pending_ += "0\r\n\r\n";
      return Write(std::move(pending_), request_.keep_alive);
    }
    WriteRaw(std::move(pending_), [](Derived& self) { self.WriteNextPiece(); });
    pending_.clear();
  }

 public:
  void CloseAfterMetrics() {
    FinishMetricsRequest();
    Self().Shutdown();
  }

 private:
  void FinishMetricsRequest() {
    if (!in_metrics_request_) return;
    in_metrics_request_ = false;
    server_.LeaveMetricsRequest(metrics_status_);
    if (server_.logger.Enabled(LogLevel::kDebug)) {
      server_.logger.Debug("answered a scrape",
                           {{"status", std::to_string(metrics_status_)},
                            {"encoding", gzip_ ? "gzip" : "identity"},
                            {"bytes", std::to_string(bytes_written_)}});
    }
  }

  std::string Head(int status, const char* content_type,
                   const HeaderList& headers, std::optional<std::size_t> length,
                   bool keep_alive) const {
    std::string head = request_.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    head += std::to_string(status);
    head += ' ';
    head += Reason(status);
    head += "\r\nContent-Type: ";
    head += content_type;
    head += "\r\nDate: " + HttpDate() + "\r\n";
    for (const auto& [name, value] : extra_headers_) {
      head += name + ": " + value + "\r\n";
    }
    for (const auto& [name, value] : headers) {
      head += name + ": " + value + "\r\n";
    }
    if (length) head += "Content-Length: " + std::to_string(*length) + "\r\n";
    if (!keep_alive) {
      head += "Connection: close\r\n";
    } else if (request_.version == 10) {
      head += "Connection: keep-alive\r\n";
    }
    head += "\r\n";
    return head;
  }

  void Answer(int status, const char* content_type, std::string body,
              const HeaderList& headers, bool keep_alive) {
    // A request with a body this server does not read ends the connection:
    // what follows it cannot be told from the next request.
    std::string message =
        Head(status, content_type, headers, body.size(), keep_alive);
    if (request_.method != http::verb::head) message += body;
    if (in_metrics_request_ && metrics_status_ == 0) metrics_status_ = status;
    Write(std::move(message), keep_alive);
  }

  // Writes `data`, then reads the next request or closes.
  void Write(std::string data, bool keep_alive) {
    WriteRaw(std::move(data), [keep_alive](Derived& self) {
      self.FinishMetricsRequest();
      if (keep_alive) {
        self.ReadRequest();
      } else {
        self.Shutdown();
      }
    });
  }

  template <class Next>
  void WriteRaw(std::string data, Next next) {
    writing_ = std::move(data);
    Tcp().expires_after(server_.options.write_timeout);
    net::async_write(Self().stream(), net::buffer(writing_),
                     [self = Self().shared_from_this(), next](
                         error_code error, std::size_t written) {
                       self->bytes_written_ += written;
                       self->writing_.clear();
                       if (error) {
                         self->FinishMetricsRequest();
                         return self->CloseNow();
                       }
                       next(*self);
                     });
  }

 protected:
  HttpServerImpl& server_;
  std::unique_ptr<ConnectionSlot> slot_;
  beast::flat_buffer buffer_;

 private:
  std::optional<http::request_parser<http::string_body>> parser_;
  RequestInfo request_;
  HeaderList extra_headers_;
  bool waiting_ = false;
  WaitingList::Entry entry_;
  bool in_metrics_request_ = false;
  int metrics_status_ = 0;
  std::size_t bytes_written_ = 0;  // of the metrics answer, headers included
  bool gzip_ = false;
  BodySource body_;
  std::unique_ptr<GzipStream> gzip_stream_;
  std::string piece_, compressed_, pending_, writing_;

  friend Derived;
};

class PlainSession : public Session<PlainSession>,
                     public std::enable_shared_from_this<PlainSession> {
 public:
  PlainSession(HttpServerImpl& server, std::unique_ptr<ConnectionSlot> slot,
               tcp::socket socket)
      : Session(server, std::move(slot), beast::flat_buffer()),
        stream_(std::move(socket)) {}

  beast::tcp_stream& stream() { return stream_; }
  void Run() { ReadRequest(); }
  void Shutdown() { CloseNow(); }
  using std::enable_shared_from_this<PlainSession>::shared_from_this;

 private:
  beast::tcp_stream stream_;
};

class TlsSession : public Session<TlsSession>,
                   public std::enable_shared_from_this<TlsSession> {
 public:
  TlsSession(HttpServerImpl& server, std::unique_ptr<ConnectionSlot> slot,
             beast::tcp_stream stream, std::shared_ptr<ssl::context> context,
             beast::flat_buffer buffer)
      : Session(server, std::move(slot), std::move(buffer)),
        context_(std::move(context)),
        stream_(std::move(stream), *context_) {}

  ssl::stream<beast::tcp_stream>& stream() { return stream_; }
  using std::enable_shared_from_this<TlsSession>::shared_from_this;

  void Run() {
    StartWaiting();
    Tcp().expires_after(server_.options.request_timeout);
    stream_.async_handshake(
        ssl::stream_base::server, buffer_.data(),
        [self = shared_from_this()](error_code error, std::size_t used) {
          if (error) return self->CloseNow();
          self->buffer_.consume(used);
          self->ReadRequest();
        });
  }

  void Shutdown() {
    Tcp().expires_after(std::chrono::seconds(2));
    stream_.async_shutdown(
        [self = shared_from_this()](error_code) { self->CloseNow(); });
  }

 private:
  std::shared_ptr<ssl::context> context_;  // outlives stream_
  ssl::stream<beast::tcp_stream> stream_;
};

// A TLS port's first bytes tell a TLS client from a plain HTTP one.
class TlsDetector : public Waiter,
                    public std::enable_shared_from_this<TlsDetector> {
 public:
  TlsDetector(HttpServerImpl& server, std::unique_ptr<ConnectionSlot> slot,
              tcp::socket socket)
      : server_(server), slot_(std::move(slot)), stream_(std::move(socket)) {}
  ~TlsDetector() override { StopWaiting(); }

  void Run() {
    entry_ = server_.waiting.Add(shared_from_this());
    waiting_ = true;
    stream_.expires_after(server_.options.request_timeout);
    beast::async_detect_ssl(
        stream_, buffer_,
        [self = shared_from_this()](error_code error, bool tls) {
          self->OnDetected(error, tls);
        });
  }

  void Evict() override {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      self->StopWaiting();
      self->stream_.close();
    });
  }

 private:
  void StopWaiting() {
    if (waiting_) {
      server_.waiting.Remove(entry_);
      waiting_ = false;
    }
  }

  void OnDetected(error_code error, bool tls) {
    StopWaiting();
    if (error) return stream_.close();
    if (!tls) {
      stream_.expires_after(std::chrono::seconds(5));
      net::async_write(stream_,
                       net::buffer(kHttpToHttps.data(), kHttpToHttps.size()),
                       [self = shared_from_this()](error_code, std::size_t) {
                         error_code ignored;
                         self->stream_.socket().shutdown(
                             tcp::socket::shutdown_both, ignored);
                         self->stream_.close();
                       });
      return;
    }
    auto context = server_.options.guard->TlsContext();
    std::make_shared<TlsSession>(server_, std::move(slot_), std::move(stream_),
                                 std::move(context), std::move(buffer_))
        ->Run();
  }

  HttpServerImpl& server_;
  std::unique_ptr<ConnectionSlot> slot_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  bool waiting_ = false;
  WaitingList::Entry entry_;
};

}  // namespace

void HttpServerImpl::Start(tcp::socket socket) {
  if (++open_connections > max_connections && !waiting.EvictOldest()) {
    // Every connection is busy being answered: this one has to go.
    --open_connections;
    return;
  }
  auto slot = std::make_unique<ConnectionSlot>(open_connections);
  error_code ignored;
  // Headers and body go out in separate writes; Nagle would hold the second.
  socket.set_option(tcp::no_delay(true), ignored);
  if (options.guard && options.guard->Tls()) {
    std::make_shared<TlsDetector>(*this, std::move(slot), std::move(socket))
        ->Run();
  } else {
    std::make_shared<PlainSession>(*this, std::move(slot), std::move(socket))
        ->Run();
  }
}

void HttpServerImpl::Accept(tcp::acceptor& acceptor) {
  acceptor.async_accept(
      net::make_strand(*io),
      [this, &acceptor](error_code error, tcp::socket socket) {
        OnAccept(acceptor, error, std::move(socket));
      });
}

void HttpServerImpl::OnAccept(tcp::acceptor& acceptor, error_code error,
                              tcp::socket socket) {
  if (error == net::error::operation_aborted || !acceptor.is_open()) return;
  if (!error) {
    Start(std::move(socket));
    return Accept(acceptor);
  }
  // Out of file descriptors, say: try again shortly rather than spin.
  logger.Debug("accepting a connection failed", {{"err", error.message()}});
  auto timer = std::make_shared<net::steady_timer>(
      acceptor.get_executor(), std::chrono::milliseconds(100));
  timer->async_wait([this, &acceptor, timer](error_code) { Accept(acceptor); });
}

void HttpServerImpl::ListenOn(const std::string& address) {
  const auto endpoint = ParseListenAddress(address);
  if (!endpoint) throw std::runtime_error("invalid listen address " + address);
  auto acceptor = std::make_unique<tcp::acceptor>(net::make_strand(*io));
  error_code error;
  const auto open_and_bind = [&](const tcp::endpoint& where, bool dual_stack) {
    error = {};
    acceptor->open(where.protocol(), error);
    if (!error && dual_stack) {
      acceptor->set_option(net::ip::v6_only(false), error);
    }
    if (!error) acceptor->set_option(tcp::acceptor::reuse_address(true), error);
    if (!error) acceptor->bind(where, error);
    if (!error)
      acceptor->listen(net::socket_base::max_listen_connections, error);
    if (error && acceptor->is_open()) {
      error_code ignored;
      acceptor->close(ignored);
    }
  };
  if (endpoint->host.empty()) {
    // Every interface: one IPv6 socket that takes IPv4 too, as Go listens;
    // IPv4 alone where the host has no IPv6.
    open_and_bind(tcp::endpoint(tcp::v6(), endpoint->port), true);
    if (error) open_and_bind(tcp::endpoint(tcp::v4(), endpoint->port), false);
  } else {
    error_code parse_error;
    const auto ip = net::ip::make_address(endpoint->host, parse_error);
    if (parse_error)
      throw std::runtime_error("invalid listen address " + address);
    open_and_bind(tcp::endpoint(ip, endpoint->port), false);
  }
  if (error) {
    throw std::runtime_error("cannot listen on " + address + ": " +
                             error.message());
  }
  const auto bound = acceptor->local_endpoint();
  listening.push_back(
      {FormatEndpoint(endpoint->host, bound.port()), bound.port()});
  acceptors.push_back(std::move(acceptor));
}

void HttpServerImpl::Adopt(int fd) {
  int type = 0;
  int listening_flag = 0;
  socklen_t size = sizeof type;
  sockaddr_storage address{};
  socklen_t address_size = sizeof address;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) != 0 ||
      type != SOCK_STREAM ||
      getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening_flag, &size) != 0 ||
      listening_flag == 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &address_size) !=
          0 ||
      (address.ss_family != AF_INET && address.ss_family != AF_INET6)) {
    throw std::runtime_error("file descriptor " + std::to_string(fd) +
                             " from systemd is not a listening TCP socket");
  }
  auto acceptor = std::make_unique<tcp::acceptor>(net::make_strand(*io));
  acceptor->assign(address.ss_family == AF_INET ? tcp::v4() : tcp::v6(), fd);
  const auto bound = acceptor->local_endpoint();
  std::string host = bound.address().to_string();
  listening.push_back({FormatEndpoint(host, bound.port()), bound.port()});
  acceptors.push_back(std::move(acceptor));
}

void HttpServerImpl::Listen() {
  if (!options.listen_fds.empty()) {
    for (int fd : options.listen_fds) Adopt(fd);
  } else {
    for (const auto& address : options.listen_addresses) ListenOn(address);
  }
  for (auto& acceptor : acceptors) Accept(*acceptor);
  for (int i = 0; i < std::max(1, options.io_threads); ++i) {
    io_threads.emplace_back([this] { io->run(); });
  }
}

void HttpServerImpl::Stop() {
  for (auto& acceptor : acceptors) {
    net::dispatch(acceptor->get_executor(), [&acceptor] {
      error_code ignored;
      acceptor->close(ignored);
    });
  }
  io->stop();
  for (auto& thread : io_threads) thread.join();
  io_threads.clear();
  // Scrapes not started yet are dropped; running ones end by their deadline.
  scrape_pool->stop();
  scrape_pool->join();
  password_pool->stop();
  password_pool->join();
  acceptors.clear();
  // Destroys the connections still open, while the rest of *this lives.
  io.reset();
}

HttpServer::HttpServer(const HttpServerOptions& options, RenderMetrics render,
                       Logger& logger)
    : impl_(std::make_unique<HttpServerImpl>(options, std::move(render),
                                             logger)) {
  try {
    impl_->Listen();
  } catch (...) {
    impl_->Stop();
    throw;
  }
}

HttpServer::~HttpServer() { impl_->Stop(); }

std::vector<ListeningSocket> HttpServer::Listening() const {
  return impl_->listening;
}

std::vector<int> HttpServer::ListeningPorts() const {
  std::vector<int> ports;
  for (const auto& socket : impl_->listening) ports.push_back(socket.port);
  return ports;
}

}  // namespace lme
