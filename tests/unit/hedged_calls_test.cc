// Batches fetched at once and hedged one by one, against a gated fake source:
// each call waits at its gate (a guest whose QEMU does not answer is a gate
// that stays shut) and records how many calls ran at once. libvirt cannot
// stop a guest on demand; the real-guest lane does it with SIGSTOP
// (tests/system, check 6).
#include "util/hedged_calls.h"

#include <algorithm>
#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>

#include "catch_compat.h"

namespace lme {
namespace {

using std::chrono::milliseconds;

TimePoint Now() { return std::chrono::steady_clock::now(); }

// A plan that hedges after `hedge` and gives up after `deadline`.
FetchPlan Plan(milliseconds hedge, milliseconds deadline) {
  return FetchPlan(Now(), Now() + deadline, Seconds(hedge), Seconds(0));
}

class GatedSource {
 public:
  explicit GatedSource(BlockingCalls& calls) : calls_(calls) {}

  ~GatedSource() { OpenAll(); }

  // The call (part, hedge) waits until Open(part, hedge); others answer at
  // once.
  void Shut(std::size_t part, bool hedge) {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->shut[{part, hedge}] = false;
  }

  void OpenAll() {
    std::lock_guard<std::mutex> lock(state_->mutex);
    for (auto& gate : state_->shut) gate.second = true;
    state_->opened.notify_all();
  }

  // Answers part * 10 + (1 for a hedge).
  std::function<std::function<int()>(std::size_t, bool)> Maker() {
    return [this](std::size_t part, bool hedge) {
      return std::function<int()>([state = state_, &calls = calls_, part,
                                   hedge] {
        std::unique_lock<std::mutex> lock(state->mutex);
        state->asked[part] += 1;
        state->executing += 1;
        state->most_executing =
            std::max(state->most_executing, state->executing);
        state->most_running = std::max(state->most_running, calls.Running());
        state->opened.wait(lock, [&] {
          const auto gate = state->shut.find({part, hedge});
          return gate == state->shut.end() || gate->second;
        });
        state->executing -= 1;
        return static_cast<int>(part * 10 + (hedge ? 1 : 0));
      });
    };
  }

  int Asked(std::size_t part) {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->asked[part];
  }
  int MostRunning() {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->most_running;
  }
  int MostExecuting() {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->most_executing;
  }

 private:
  // Shared with calls left behind, which may outlive the test's frame.
  struct State {
    std::mutex mutex;
    std::condition_variable opened;
    std::map<std::pair<std::size_t, bool>, bool> shut;  // true: opened
    std::map<std::size_t, int> asked;
    int executing = 0;
    int most_executing = 0;
    int most_running = 0;
  };
  BlockingCalls& calls_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

void WaitUntilNothingInFlight(const BlockingCalls& calls) {
  while (calls.InFlight() > 0) std::this_thread::yield();
}

TEST_CASE("every batch answers once when none is slow", "[batches]") {
  BlockingCalls calls(4);
  GatedSource source(calls);
  FetchPlan plan = Plan(milliseconds(1000), milliseconds(5000));
  const auto outcome = RunHedged<int>(calls, plan, 4, source.Maker());
  REQUIRE(outcome.answers.size() == 4);
  for (std::size_t part = 0; part < 4; ++part) {
    CHECK(outcome.answers[part] == static_cast<int>(part * 10));
    CHECK(source.Asked(part) == 1);
  }
  CHECK(outcome.hedged.empty());
  CHECK(source.MostRunning() <= 4);
}

TEST_CASE("a batch that does not answer costs only itself", "[batches]") {
  BlockingCalls calls(4);
  GatedSource source(calls);
  source.Shut(2, false);  // its guest stopped
  // Long enough for the others to answer first on a busy machine.
  FetchPlan plan = Plan(milliseconds(300), milliseconds(5000));
  const auto outcome = RunHedged<int>(calls, plan, 4, source.Maker());
  CHECK(outcome.hedged == std::vector<std::size_t>{2});
  CHECK(outcome.answers[2] == 21);  // the hedge's answer
  for (std::size_t part : {0, 1, 3}) {
    CHECK(outcome.answers[part] == static_cast<int>(part * 10));
    CHECK(source.Asked(part) == 1);  // not asked again
  }
  CHECK(source.Asked(2) == 2);
  // The stuck call is left behind, outside the running calls (the hedge's
  // worker may still be on its way out).
  CHECK(calls.Running() == 0);
  while (calls.InFlight() > 1) std::this_thread::yield();
  CHECK(calls.LeftBehind() == 1);
  source.OpenAll();
  WaitUntilNothingInFlight(calls);
}

TEST_CASE("hedges count against the concurrency bound", "[batches]") {
  for (int concurrency : {1, 2, 4}) {
    INFO("concurrency " << concurrency);
    BlockingCalls calls(concurrency);
    GatedSource source(calls);
    // Every batch is stuck at first: every one is hedged.
    for (int part = 0; part < concurrency; ++part) source.Shut(part, false);
    FetchPlan plan = Plan(milliseconds(20), milliseconds(5000));
    const auto outcome = RunHedged<int>(
        calls, plan, static_cast<std::size_t>(concurrency), source.Maker());
    CHECK(outcome.hedged.size() == static_cast<std::size_t>(concurrency));
    for (int part = 0; part < concurrency; ++part) {
      CHECK(outcome.answers[part] == part * 10 + 1);
    }
    // Seen by every call as it started, hedges included.
    CHECK(source.MostRunning() <= concurrency);
    // In libvirt: the stuck first calls as well, within the threads' bound.
    CHECK(source.MostExecuting() > concurrency);
    CHECK(source.MostExecuting() <=
          concurrency + BlockingCalls::kLeftBehindLimit);
    source.OpenAll();
    WaitUntilNothingInFlight(calls);
  }
}

TEST_CASE("a batch whose hedge is stuck too has no answer; the others do",
          "[batches]") {
  BlockingCalls calls(3);
  GatedSource source(calls);
  source.Shut(1, false);
  source.Shut(1, true);  // a second stopped guest in the same batch
  FetchPlan plan = Plan(milliseconds(300), milliseconds(600));
  const auto outcome = RunHedged<int>(calls, plan, 3, source.Maker());
  CHECK_FALSE(outcome.answers[1].has_value());
  CHECK(outcome.answers[0] == 0);
  CHECK(outcome.answers[2] == 20);
  // Both of its calls are left behind when the fetch returns.
  CHECK(calls.Running() == 0);
  while (calls.InFlight() > 2) std::this_thread::yield();
  CHECK(calls.LeftBehind() == 2);
  source.OpenAll();
  WaitUntilNothingInFlight(calls);
}

TEST_CASE("no batch starts while too many calls are left behind", "[batches]") {
  BlockingCalls calls(2, 0);
  GatedSource source(calls);
  source.Shut(0, false);
  source.Shut(0, true);
  FetchPlan first = Plan(milliseconds(10), milliseconds(50));
  RunHedged<int>(calls, first, 1, source.Maker());
  REQUIRE(calls.LeftBehind() == 2);
  FetchPlan next = Plan(milliseconds(10), milliseconds(50));
  CHECK(RunHedged<int>(calls, next, 2, source.Maker()).refused);
  CHECK(calls.Running() == 0);
  source.OpenAll();
  WaitUntilNothingInFlight(calls);
}

TEST_CASE("a batch's error reaches the caller; nothing keeps running",
          "[batches]") {
  BlockingCalls calls(3);
  GatedSource source(calls);
  source.Shut(2, false);
  source.Shut(2, true);
  FetchPlan plan = Plan(milliseconds(10), milliseconds(100));
  auto make = [&](std::size_t part, bool hedge) {
    if (part == 1) {
      return std::function<int()>(
          []() -> int { throw std::runtime_error("connection lost"); });
    }
    return source.Maker()(part, hedge);
  };
  CHECK_THROWS_AS(RunHedged<int>(calls, plan, 3, make), std::runtime_error);
  CHECK(calls.Running() == 0);
  source.OpenAll();
  WaitUntilNothingInFlight(calls);
}

}  // namespace
}  // namespace lme
