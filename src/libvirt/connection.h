// The one read-only libvirt connection the readers share: kept across
// scrapes, reopened when it died, retried once within a scrape when it dies
// under a kept connection (a libvirtd restart between two scrapes).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "collector/sources.h"
#include "libvirt/event_loop.h"
#include "libvirt/handles.h"
#include "util/logger.h"

namespace lme::libvirt {

// The connection itself broke (the daemon went away).
class ConnectionLost : public LibvirtUnavailable {
 public:
  using LibvirtUnavailable::LibvirtUnavailable;
};

bool IsAlive(virConnectPtr connection);

// A counted reference for a call that runs on a thread of its own and may
// outlive the scrape (and a reconnect) that started it.
std::shared_ptr<virConnect> ShareConnection(virConnectPtr connection);

// A call that concerns the whole connection failed: throws ConnectionLost
// when the connection died, else LibvirtUnavailable with libvirt's message.
[[noreturn]] void FailConnectionWide(virConnectPtr connection,
                                     const std::string& call);

struct KeepAlive {
  // libvirt pings an idle connection every `interval_seconds` and closes it
  // after `count` pings go unanswered: a hung daemon is noticed within about
  // interval × (count + 1) seconds. Needs a running EventLoop.
  int interval_seconds = 3;
  unsigned int count = 3;
};

class Connection {
 public:
  struct CloseWatch;

  // `event_loop` (may be null) is paused while Use runs.
  Connection(std::string uri, Logger& logger, EventLoop* event_loop = nullptr,
             KeepAlive keepalive = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const std::string& uri() const { return uri_; }

  // True when calls reach the driver through libvirt's RPC client (a daemon
  // on the other end), false for a driver in this process (the test
  // driver). Through a daemon, libvirt 9.0's client can hold a call on a
  // connection behind another call there that waits for a stuck QEMU
  // monitor (docs/system-tests.md, check 6), so calls meant to run at once
  // get connections of their own; in-process, one connection serves them
  // all, and another one would be another copy of the test driver's node.
  // Known once a connection was opened.
  bool ThroughDaemon() const { return through_daemon_; }

  // A new connection to the same URI, opened and kept alive the same way,
  // for a call that runs next to the others (see ThroughDaemon). Throws
  // LibvirtUnavailable.
  std::shared_ptr<virConnect> OpenAnother() const;

  // Drops this connection (calls still running on it keep their own
  // reference) and opens a new one. Throws LibvirtUnavailable.
  virConnectPtr Reopen();

  // Runs `fetch(virConnectPtr)` on a live connection. If it throws
  // ConnectionLost on a connection kept from an earlier scrape, reconnects
  // and runs it once more; otherwise the exception propagates. A scrape's
  // calls are a burst: the event loop is paused meanwhile (see
  // EventLoop::Pause). Calls that outlive `fetch` on worker threads (a hung
  // guest, a hedged fetch) run with the loop awake again.
  template <typename Fetch>
  auto Use(Fetch&& fetch) -> decltype(fetch(virConnectPtr{})) {
    std::optional<EventLoop::Pause> pause;
    if (event_loop_) pause.emplace(*event_loop_);
    for (int attempt = 0;; ++attempt) {
      const bool fresh = EnsureConnected();
      try {
        return fetch(handle_.get());
      } catch (const ConnectionLost& lost) {
        Close();
        if (fresh || attempt > 0) throw;
        LogReconnect(lost.what());
      }
    }
  }

 private:
  // True when it had to open a new connection.
  bool EnsureConnected();
  void Open();
  void Close();
  void LogReconnect(const std::string& reason);

  static void OnClose(virConnectPtr connection, int reason, void* opaque);

  std::string uri_;
  Logger& logger_;
  EventLoop* event_loop_;
  KeepAlive keepalive_;
  ConnectHandle handle_;
  bool through_daemon_ = false;
  // Set from the event loop when libvirt closes the connection under us.
  std::unique_ptr<CloseWatch> close_watch_;
};

}  // namespace lme::libvirt
