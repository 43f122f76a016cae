#include "libvirt/event_loop.h"

#include <libvirt/libvirt.h>

namespace lme::libvirt {
namespace {

// Zero timeouts fire at the loop's next iteration, which is all they are for.
void Wake(int /*timer*/, void* /*opaque*/) {}
void WakeOnce(int timer, void* /*opaque*/) { virEventRemoveTimeout(timer); }

}  // namespace

EventLoop::Pause::Pause(EventLoop& loop) : parking_(loop.parking_) {
  bool first = false;
  {
    std::lock_guard<std::mutex> lock(parking_->mutex);
    first = parking_->holds++ == 0 && !parking_->stop;
  }
  // The loop thread may sit in poll for seconds: get it out now, so that it
  // parks before the calls begin rather than after the first one.
  if (first && loop.running_) virEventAddTimeout(0, WakeOnce, nullptr, nullptr);
}

EventLoop::Pause::~Pause() {
  bool last = false;
  {
    std::lock_guard<std::mutex> lock(parking_->mutex);
    last = --parking_->holds == 0;
  }
  if (last) parking_->resume.notify_all();
}

EventLoop::EventLoop() {
  if (virEventRegisterDefaultImpl() < 0) return;
  running_ = true;
  thread_ = std::thread([this] { Run(); });
}

EventLoop::~EventLoop() {
  if (!running_) return;
  {
    std::lock_guard<std::mutex> lock(parking_->mutex);
    parking_->stop = true;
  }
  // Parked, the thread wakes on the notification; in poll, on the timeout.
  parking_->resume.notify_all();
  const int timer = virEventAddTimeout(0, Wake, nullptr, nullptr);
  thread_.join();
  if (timer >= 0) virEventRemoveTimeout(timer);
}

void EventLoop::Run() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(parking_->mutex);
      parking_->resume.wait(
          lock, [this] { return parking_->holds == 0 || parking_->stop; });
      if (parking_->stop) return;
    }
    if (virEventRunDefaultImpl() < 0) return;
  }
}

}  // namespace lme::libvirt
