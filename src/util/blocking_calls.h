// libvirt's calls have no timeout: a guest whose QEMU monitor does not answer
// blocks the caller until QEMU wakes up. These helpers run such calls on
// threads of their own, so a scrape can stop waiting at its deadline and
// answer with what it has, while the number of threads left blocked stays
// bounded.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "core/duration.h"

namespace lme {

// The answer of whichever of several calls for the same thing finishes
// first, success or exception.
template <typename T>
class Race {
 public:
  // True when a call finished before the deadline.
  bool WaitUntil(Deadline deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    return finished_.wait_until(lock, deadline, [this] { return done_; });
  }

  // The first answer; rethrows the first call's exception. Only after
  // WaitUntil returned true, and only once.
  T Take() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (error_) std::rethrow_exception(error_);
    return std::move(*value_);
  }

  void Finish(std::optional<T> value, std::exception_ptr error) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (done_) return;
    done_ = true;
    value_ = std::move(value);
    error_ = error;
    finished_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable finished_;
  bool done_ = false;
  std::optional<T> value_;
  std::exception_ptr error_;
};

// Runs calls on worker threads, at most `max_in_flight` at a time. One idle
// worker is kept for the next call: through a daemon, a fresh thread for
// every scrape made libvirt's calls about a quarter slower after an idle
// period (bench: 1000 test-driver domains, 196 vs 160 ms), while a kept one
// costs nothing. Workers that finish while one is already idle end.
class BlockingCalls {
 public:
  explicit BlockingCalls(int max_in_flight)
      : state_(std::make_shared<State>()), max_in_flight_(max_in_flight) {}

  // Idle workers end; busy ones end when their call returns.
  ~BlockingCalls() {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stopping = true;
    state_->work_queued.notify_all();
  }
  BlockingCalls(const BlockingCalls&) = delete;
  BlockingCalls& operator=(const BlockingCalls&) = delete;

  // Calls still running, including those nobody waits for any more.
  int InFlight() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->in_flight;
  }

  int IdleWorkers() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->idle;
  }

  // Starts `call` on a worker, racing in `race`. False (and nothing
  // started) when max_in_flight calls are running already. `call` must own
  // everything it uses: it may outlive its caller.
  template <typename T>
  bool Launch(const std::shared_ptr<Race<T>>& race, std::function<T()> call) {
    std::function<void()> task = [race, call = std::move(call)] {
      try {
        race->Finish(call(), nullptr);
      } catch (...) {
        race->Finish(std::nullopt, std::current_exception());
      }
    };
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (state_->in_flight >= max_in_flight_) return false;
    ++state_->in_flight;
    if (state_->idle > 0) {
      // Claimed here, so the next call cannot count on the same worker.
      --state_->idle;
      state_->queued = std::move(task);
      state_->work_queued.notify_one();
    } else {
      std::thread(&BlockingCalls::Work, state_, std::move(task)).detach();
    }
    return true;
  }

  // Runs one call, waiting at most until the deadline. Empty when the
  // deadline passed or too many calls are blocked already.
  template <typename T>
  std::optional<T> Run(std::function<T()> call, Deadline deadline) {
    auto race = std::make_shared<Race<T>>();
    if (!Launch(race, std::move(call)) || !race->WaitUntil(deadline)) {
      return std::nullopt;
    }
    return race->Take();
  }

 private:
  // Shared with the workers, which may outlive this object.
  struct State {
    std::mutex mutex;
    std::condition_variable work_queued;
    std::function<void()> queued;  // for the one idle worker
    int in_flight = 0;
    int idle = 0;
    bool stopping = false;
  };

  static void Work(std::shared_ptr<State> state, std::function<void()> task) {
    for (;;) {
      task();
      task = nullptr;  // what the call captured goes with it
      std::unique_lock<std::mutex> lock(state->mutex);
      --state->in_flight;
      if (state->stopping || state->idle > 0) return;
      ++state->idle;
      state->work_queued.wait(
          lock, [&] { return state->queued != nullptr || state->stopping; });
      if (state->queued == nullptr) return;  // stopping
      task = std::move(state->queued);
      state->queued = nullptr;
    }
  }

  std::shared_ptr<State> state_;
  int max_in_flight_;
};

}  // namespace lme
