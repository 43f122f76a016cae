// libvirt's calls have no timeout: a guest whose QEMU monitor does not answer
// blocks the caller until QEMU wakes up. These helpers run such calls on
// threads of their own, so a scrape can stop waiting at its deadline and
// answer with what it has, while the number of threads left blocked stays
// bounded.
#pragma once

#include <condition_variable>
#include <deque>
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

  bool Done() {
    std::lock_guard<std::mutex> lock(mutex_);
    return done_;
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

// Runs calls on worker threads. At most `max_concurrent` of them count as
// running for the caller at a time; a call the caller gives up on (it waits
// for a guest that does not answer) stops counting and is left behind,
// blocked in libvirt until the guest answers. Calls left behind keep their
// threads, so no call starts that would put more than max_concurrent +
// max_left_behind threads into libvirt: a few stuck guests leave room for
// the others, a host full of wedged guests cannot pile up threads. Up to
// `max_concurrent` idle workers are kept for the next calls:
// through a daemon, a fresh thread for every scrape made libvirt's calls
// about a quarter slower after an idle period (bench: 1000 test-driver
// domains, 196 vs 160 ms), while a kept one costs nothing.
class BlockingCalls {
 public:
  // Room for calls left behind on top of the running ones: a few guests
  // stuck at once do not stop the exporter.
  static constexpr int kLeftBehindLimit = 4;

  // A started call, for GiveUp.
  struct CallState {
    bool given_up = false;
    bool finished = false;
  };
  using Ticket = std::shared_ptr<CallState>;

  explicit BlockingCalls(int max_concurrent,
                         int max_left_behind = kLeftBehindLimit)
      : state_(std::make_shared<State>()),
        max_concurrent_(max_concurrent < 1 ? 1 : max_concurrent),
        max_left_behind_(max_left_behind) {}

  // Idle workers end; busy ones end when their call returns.
  ~BlockingCalls() {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stopping = true;
    state_->work_queued.notify_all();
  }
  BlockingCalls(const BlockingCalls&) = delete;
  BlockingCalls& operator=(const BlockingCalls&) = delete;

  int MaxConcurrent() const { return max_concurrent_; }

  // Calls that count as running for the caller: never above MaxConcurrent.
  int Running() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->running;
  }

  // Calls given up on that have not returned yet.
  int LeftBehind() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->left_behind;
  }

  // Every call still in libvirt: running and left behind.
  int InFlight() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->running + state_->left_behind;
  }

  // Worker threads alive: busy, idle, or on their way to either.
  int Workers() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->workers;
  }

  int IdleWorkers() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->idle;
  }

  // Starts `call` on a worker, racing in `race`. Empty (and nothing
  // started) when MaxConcurrent calls are running, or when so many are left
  // behind that another thread would pass the bound. `call` must own
  // everything it uses: it may outlive its caller.
  template <typename T>
  Ticket Launch(const std::shared_ptr<Race<T>>& race, std::function<T()> call) {
    const Ticket ticket = std::make_shared<CallState>();
    // The worker running the job keeps the state alive: a plain pointer, so
    // that a queued job does not keep its own state.
    Job job{[race, call = std::move(call), state = state_.get(), ticket] {
              std::optional<T> value;
              std::exception_ptr error;
              try {
                value.emplace(call());
              } catch (...) {
                error = std::current_exception();
              }
              // Out of the count before the answer can be seen: a caller
              // that got it may start its next call at once.
              Release(*state, *ticket);
              race->Finish(std::move(value), error);
            },
            ticket};
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (state_->running >= max_concurrent_ ||
        state_->running + state_->left_behind >=
            max_concurrent_ + max_left_behind_) {
      return nullptr;
    }
    ++state_->running;
    if (state_->idle > 0) {
      // Claimed here, so the next call cannot count on the same worker.
      --state_->idle;
      state_->queued.push_back(std::move(job));
      // All: notify_one calls made before the first woken worker took its
      // job may wake that same worker, leaving the other jobs queued.
      state_->work_queued.notify_all();
    } else {
      ++state_->workers;
      std::thread(&BlockingCalls::Work, state_, max_concurrent_, std::move(job))
          .detach();
    }
    return ticket;
  }

  // The caller no longer waits for this call: it stops counting as running
  // and counts as left behind until it returns. No-op once it returned.
  void GiveUp(const Ticket& ticket) {
    if (!ticket) return;
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (ticket->finished || ticket->given_up) return;
    ticket->given_up = true;
    --state_->running;
    ++state_->left_behind;
  }

  // Runs one call, waiting at most until the deadline, then giving it up.
  // Empty when the deadline passed or the call could not start.
  template <typename T>
  std::optional<T> Run(std::function<T()> call, Deadline deadline) {
    auto race = std::make_shared<Race<T>>();
    const Ticket ticket = Launch(race, std::move(call));
    if (!ticket) return std::nullopt;
    if (!race->WaitUntil(deadline)) {
      GiveUp(ticket);
      return std::nullopt;
    }
    return race->Take();
  }

 private:
  struct Job {
    std::function<void()> run;
    Ticket ticket;
  };

  // Shared with the workers, which may outlive this object.
  struct State {
    std::mutex mutex;
    std::condition_variable work_queued;
    std::deque<Job> queued;  // one for each idle worker claimed
    int running = 0;
    int left_behind = 0;
    int idle = 0;
    int workers = 0;
    bool stopping = false;
  };

  // A call returned from libvirt: it no longer counts, whoever waits for it.
  static void Release(State& state, CallState& call) {
    std::lock_guard<std::mutex> lock(state.mutex);
    call.finished = true;
    --(call.given_up ? state.left_behind : state.running);
  }

  static void Work(std::shared_ptr<State> state, int max_idle, Job job) {
    for (;;) {
      job.run();
      job.run = nullptr;  // what the call captured goes with it
      std::unique_lock<std::mutex> lock(state->mutex);
      if (state->stopping || state->idle >= max_idle) {
        --state->workers;
        return;
      }
      ++state->idle;
      state->work_queued.wait(
          lock, [&] { return !state->queued.empty() || state->stopping; });
      if (state->queued.empty()) {  // stopping
        --state->workers;
        return;
      }
      job = std::move(state->queued.front());
      state->queued.pop_front();
    }
  }

  std::shared_ptr<State> state_;
  int max_concurrent_;
  int max_left_behind_;
};

}  // namespace lme
