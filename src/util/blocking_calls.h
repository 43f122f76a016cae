// libvirt's calls have no timeout: a guest whose QEMU monitor does not answer
// blocks the caller until QEMU wakes up. These helpers run such calls on
// threads of their own, so a scrape can stop waiting at its deadline and
// answer with what it has, while the number of threads left blocked stays
// bounded.
#pragma once

#include <atomic>
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

class BlockingCalls {
 public:
  explicit BlockingCalls(int max_in_flight)
      : in_flight_(std::make_shared<std::atomic<int>>(0)),
        max_in_flight_(max_in_flight) {}

  // Calls still running, including those nobody waits for any more.
  int InFlight() const { return in_flight_->load(); }

  // Starts `call` on its own thread, racing in `race`. False (and nothing
  // started) when max_in_flight calls are running already. `call` must own
  // everything it uses: it may outlive its caller.
  template <typename T>
  bool Launch(const std::shared_ptr<Race<T>>& race, std::function<T()> call) {
    if (in_flight_->fetch_add(1) >= max_in_flight_) {
      in_flight_->fetch_sub(1);
      return false;
    }
    std::thread([race, call = std::move(call), counter = in_flight_] {
      try {
        race->Finish(call(), nullptr);
      } catch (...) {
        race->Finish(std::nullopt, std::current_exception());
      }
      counter->fetch_sub(1);
    }).detach();
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
  std::shared_ptr<std::atomic<int>> in_flight_;
  int max_in_flight_;
};

}  // namespace lme
