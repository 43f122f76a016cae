#include "libvirt/event_loop.h"

#include <libvirt/libvirt.h>

namespace lme::libvirt {
namespace {

void Wake(int /*timer*/, void* /*opaque*/) {}

}  // namespace

EventLoop::EventLoop() {
  if (virEventRegisterDefaultImpl() < 0) return;
  running_ = true;
  thread_ = std::thread([this] { Run(); });
}

EventLoop::~EventLoop() {
  if (!running_) return;
  stop_ = true;
  // A zero timeout fires at once, so the loop wakes up and sees stop_.
  const int timer = virEventAddTimeout(0, Wake, nullptr, nullptr);
  thread_.join();
  if (timer >= 0) virEventRemoveTimeout(timer);
}

void EventLoop::Run() {
  while (!stop_) {
    if (virEventRunDefaultImpl() < 0) break;
  }
}

}  // namespace lme::libvirt
