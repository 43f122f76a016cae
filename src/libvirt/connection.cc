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

// A read-only connection with keepalive where the driver has it. Throws
// LibvirtUnavailable. `through_daemon` (see Connection::ThroughDaemon): only
// libvirt's RPC client implements keepalive, so every other driver refuses it
// as unsupported.
ConnectHandle OpenReadOnly(const std::string& uri, const KeepAlive& keepalive,
                           Logger& logger, bool& through_daemon) {
  ConnectHandle handle(virConnectOpenReadOnly(uri.c_str()));
  if (!handle) {
    throw LibvirtUnavailable("cannot open libvirt URI " + uri + ": " +
                             LastError().message);
  }
  // Not every driver keeps connections alive (the test driver does not);
  // they are then only checked when a call fails.
  through_daemon = true;
  if (virConnectSetKeepAlive(handle.get(), keepalive.interval_seconds,
                             keepalive.count) < 0) {
    const Error error = LastError();
    through_daemon = error.Kind() != LibvirtErrorKind::kUnsupported;
    logger.Debug("no keepalive on this connection",
                 {{"uri", uri}, {"err", error.message}});
  }
  return handle;
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
  handle_ = OpenReadOnly(uri_, keepalive_, logger_, through_daemon_);
  // The watch outlives every registration: Close() unregisters before the
  // handle goes, and drivers without close events never call back (nor
  // would they call a free function, hence none).
  close_watch_->closed = false;
  virConnectRegisterCloseCallback(handle_.get(), &OnClose, close_watch_.get(),
                                  nullptr);
  logger_.Debug("connected to libvirt", {{"uri", uri_}});
}

std::shared_ptr<virConnect> Connection::OpenAnother() const {
  bool through_daemon = false;
  ConnectHandle handle =
      OpenReadOnly(uri_, keepalive_, logger_, through_daemon);
  return std::shared_ptr<virConnect>(handle.release(), virConnectClose);
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
