#pragma once

#include <atomic>
#include <thread>

namespace lme::libvirt {

// libvirt's default event loop on a thread of its own. Keepalive and the
// close callback need it: without a running loop libvirt notices a dead or
// hung daemon only when the next call fails, which can take a TCP timeout.
// Create it before the first connection is opened; at most one per process.
class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  bool running() const { return running_; }

 private:
  void Run();

  std::atomic<bool> stop_{false};
  bool running_ = false;
  std::thread thread_;
};

}  // namespace lme::libvirt
