#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace lme::libvirt {

// libvirt's default event loop on a thread of its own. Keepalive and the
// close callback need it: without a running loop libvirt notices a dead or
// hung daemon only when the next call fails, which can take a TCP timeout.
// Create it before the first connection is opened; at most one per process.
class EventLoop {
  struct Parking;

 public:
  // While one exists (they nest), the loop thread parks between iterations,
  // off libvirt's event context. Around every RPC libvirt's client disables
  // and re-enables the socket's watch, and each change wakes a loop thread
  // sitting in poll: about 45 µs per call through a daemon. Parked, the
  // calls do their own I/O (as in a client without a loop), answer the
  // daemon's keepalive pings and notice a dead daemon themselves; only an
  // idle connection needs the loop. So hold one around a burst of calls,
  // never while idle. Safe to outlive the loop.
  class Pause {
   public:
    explicit Pause(EventLoop& loop);
    ~Pause();
    Pause(const Pause&) = delete;
    Pause& operator=(const Pause&) = delete;

   private:
    std::shared_ptr<Parking> parking_;
  };

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  bool running() const { return running_; }

 private:
  // Shared with the pauses, which may outlive the loop.
  struct Parking {
    std::mutex mutex;
    std::condition_variable resume;
    int holds = 0;
    bool stop = false;
  };

  void Run();

  std::shared_ptr<Parking> parking_ = std::make_shared<Parking>();
  bool running_ = false;
  std::thread thread_;
};

}  // namespace lme::libvirt
