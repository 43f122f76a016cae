#include "libvirt/connection.h"

#include "libvirt/error.h"

namespace lme::libvirt {

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

Connection::Connection(std::string uri, Logger& logger)
    : uri_(std::move(uri)), logger_(logger) {}

bool Connection::EnsureConnected() {
  if (handle_ && IsAlive(handle_.get())) return false;
  handle_.reset(virConnectOpenReadOnly(uri_.c_str()));
  if (!handle_) {
    throw LibvirtUnavailable("cannot open libvirt URI " + uri_ + ": " +
                             LastError().message);
  }
  logger_.Debug("connected to libvirt", {{"uri", uri_}});
  return true;
}

void Connection::LogReconnect(const std::string& reason) {
  logger_.Info("libvirt connection lost, reconnecting",
               {{"uri", uri_}, {"err", reason}});
}

}  // namespace lme::libvirt
