// Pausing libvirt's event loop: holds nest, the loop comes back after the
// last one, and nothing leaves it parked for good. No assertion on timing:
// the order of events is forced through callbacks on the loop thread.
#include "libvirt/event_loop.h"

#include <libvirt/libvirt.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "catch_compat.h"
#include "libvirt/connection.h"
#include "libvirt/error.h"

namespace lme {
namespace {

using libvirt::EventLoop;

// Runs `work` once on the loop thread, at the loop's next iteration.
class OnLoop {
 public:
  explicit OnLoop(std::function<void()> work)
      : state_(std::make_shared<State>()) {
    state_->work = std::move(work);
    // libvirt frees the copy once the timer is gone, even if that is after
    // this object (a failed test): the callback never sees freed memory.
    auto* copy = new std::shared_ptr<State>(state_);
    std::lock_guard<std::mutex> lock(Handoff());
    REQUIRE(virEventAddTimeout(0, &Fire, copy, &Free) >= 0);
  }

  // False when it has not run within a minute: a loop parked for good fails
  // the test instead of hanging it.
  bool Ran() {
    std::unique_lock<std::mutex> lock(state_->mutex);
    return state_->done.wait_for(lock, std::chrono::minutes(1),
                                 [this] { return state_->ran; });
  }

 private:
  struct State {
    std::mutex mutex;
    std::condition_variable done;
    std::function<void()> work;
    bool ran = false;
  };

  // The timer reaches the loop thread through GLib, whose locks
  // ThreadSanitizer cannot see: this one shows it what was handed over.
  static std::mutex& Handoff() {
    static std::mutex handoff;
    return handoff;
  }

  static void Fire(int timer, void* opaque) {
    virEventRemoveTimeout(timer);
    std::shared_ptr<State> owner;
    {
      std::lock_guard<std::mutex> lock(Handoff());
      owner = *static_cast<std::shared_ptr<State>*>(opaque);
    }
    State& state = *owner;
    state.work();
    std::lock_guard<std::mutex> lock(state.mutex);
    state.ran = true;
    state.done.notify_all();
  }

  static void Free(void* opaque) {
    delete static_cast<std::shared_ptr<State>*>(opaque);
  }

  std::shared_ptr<State> state_;
};

TEST_CASE("the loop runs again only after the last of nested pauses",
          "[event_loop]") {
  EventLoop loop;
  REQUIRE(loop.running());
  std::optional<EventLoop::Pause> outer;
  std::optional<EventLoop::Pause> inner;
  std::atomic<int> released{0};
  int released_when_run = -1;
  std::unique_ptr<OnLoop> next;
  // Taken on the loop thread, the pauses park it before its next iteration,
  // which is the first one that can run `next`.
  OnLoop pause([&] {
    outer.emplace(loop);
    inner.emplace(loop);
    next = std::make_unique<OnLoop>([&] { released_when_run = released; });
  });
  REQUIRE(pause.Ran());
  released = 1;
  inner.reset();
  // Not needed when all is well: gives a loop that wrongly resumed after the
  // inner pause the time to run `next` and be caught.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  released = 2;
  outer.reset();
  REQUIRE(next->Ran());
  CHECK(released_when_run == 2);
}

TEST_CASE("pauses taken and released off the loop thread leave it running",
          "[event_loop]") {
  EventLoop loop;
  { EventLoop::Pause pause(loop); }
  { EventLoop::Pause pause(loop); }
  OnLoop after([] {});
  CHECK(after.Ran());
}

TEST_CASE("the loop stops while paused, and the pause may outlive it",
          "[event_loop]") {
  std::optional<EventLoop> loop(std::in_place);
  std::optional<EventLoop::Pause> pause;
  OnLoop take([&] { pause.emplace(*loop); });
  REQUIRE(take.Ran());
  loop.reset();  // joins the parked thread
  pause.reset();
}

TEST_CASE("the loop runs again after Connection::Use returns or throws",
          "[event_loop]") {
  libvirt::SilenceDefaultErrorPrinting();
  EventLoop loop;
  std::ostringstream log;
  Logger logger(LogLevel::kDebug, log);
  libvirt::Connection connection(std::string("test://") + LME_FIXTURE_NODE,
                                 logger, &loop);
  const int domains =
      connection.Use([](virConnectPtr c) { return virConnectNumOfDomains(c); });
  CHECK(domains == 9);
  // Lost twice: the kept connection, then the reopened one.
  const auto lost = [](virConnectPtr) -> int {
    throw libvirt::ConnectionLost("gone");
  };
  CHECK_THROWS_AS(connection.Use(lost), libvirt::ConnectionLost);
  const auto other = [](virConnectPtr) -> int {
    throw std::runtime_error("not libvirt's");
  };
  CHECK_THROWS_AS(connection.Use(other), std::runtime_error);
  OnLoop after([] {});
  CHECK(after.Ran());
}

}  // namespace
}  // namespace lme
