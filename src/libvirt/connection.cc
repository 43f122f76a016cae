#include "libvirt/connection.h"

#include <atomic>

#include "libvirt/error.h"

namespace lme::libvirt {

// What libvirt's close callback, on the event loop thread, reports to.
struct Connection::CloseWatch {
  std::atomic<bool> closed{false};
  std::string uri;
  Logger* logger = nullptr;
};

namespace {

const char* CloseReason(int reason) {
  switch (reason) {
    case VIR_CONNECT_CLOSE_REASON_ERROR: return "error";
    case VIR_CONNECT_CLOSE_REASON_EOF: return "eof";
    case VIR_CONNECT_CLOSE_REASON_KEEPALIVE: return "keepalive";
    case VIR_CONNECT_CLOSE_REASON_CLIENT: return "client";
    default: return "unknown";
  }
}

}  // namespace

// Named so that unregistering can name it.
void Connection::OnClose(virConnectPtr, int reason, void* opaque) {
  auto* watch = static_cast<CloseWatch*>(opaque);
  watch->closed = true;
  watch->logger->Info("libvirt closed the connection",
                      {{"uri", watch->uri}, {"reason", CloseReason(reason)}});
}

bool IsAlive(virConnectPtr connection) {
  return virConnectIsAlive(connection) == 1;
}

std::shared_ptr<virConnect> ShareConnection(virConnectPtr connection) {
  virConnectRef(connection);
  return std::shared_ptr<virConnect>(connection, virConnectClose);
}

void FailConnectionWide(virConnectPtr connection, const std::string& call) {
  const Error error = LastError();
  const std::string what = call + ": " + error.message;
  if (!IsAlive(connection)) throw ConnectionLost(what);
  throw LibvirtUnavailable(what);
}

Connection::Connection(std::string uri, Logger& logger, EventLoop* event_loop,
                       KeepAlive keepalive)
    : uri_(std::move(uri)),
      logger_(logger),
      event_loop_(event_loop),
      keepalive_(keepalive),
      close_watch_(std::make_unique<CloseWatch>()) {
  close_watch_->uri = uri_;
  close_watch_->logger = &logger_;
}

Connection::~Connection() { Close(); }

bool Connection::EnsureConnected() {
  if (handle_ && !close_watch_->closed && IsAlive(handle_.get())) return false;
  Close();
  Open();
  return true;
}

void Connection::Open() {
  handle_.reset(virConnectOpenReadOnly(uri_.c_str()));
  if (!handle_) {
    throw LibvirtUnavailable("cannot open libvirt URI " + uri_ + ": " +
                             LastError().message);
  }
  // Not every driver keeps connections alive (the test driver does not);
  // they are then only checked when a call fails.
  if (virConnectSetKeepAlive(handle_.get(), keepalive_.interval_seconds,
                             keepalive_.count) < 0) {
    logger_.Debug("no keepalive on this connection",
                  {{"uri", uri_}, {"err", LastError().message}});
  }
  // The watch outlives every registration: Close() unregisters before the
  // handle goes, and drivers without close events never call back (nor
  // would they call a free function, hence none).
  close_watch_->closed = false;
  virConnectRegisterCloseCallback(handle_.get(), &OnClose, close_watch_.get(),
                                  nullptr);
  logger_.Debug("connected to libvirt", {{"uri", uri_}});
}

virConnectPtr Connection::Reopen() {
  Close();
  Open();
  return handle_.get();
}

void Connection::Close() {
  if (!handle_) return;
  // Our own close is not news: stop listening first.
  virConnectUnregisterCloseCallback(handle_.get(), &OnClose);
  handle_.reset();
}

void Connection::LogReconnect(const std::string& reason) {
  logger_.Info("libvirt connection lost, reconnecting",
               {{"uri", uri_}, {"err", reason}});
}

}  // namespace lme::libvirt
