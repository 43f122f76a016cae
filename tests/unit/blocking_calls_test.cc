#include "util/blocking_calls.h"

#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <vector>

#include "catch_compat.h"

namespace lme {
namespace {

using std::chrono::milliseconds;

Deadline In(milliseconds wait) {
  return std::chrono::steady_clock::now() + wait;
}
Deadline Far() { return In(std::chrono::minutes(1)); }

// A call that blocks until released: what a stuck QEMU monitor does to a
// libvirt call.
struct Blocker {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::function<int()> Call(int value) {
    return [f = released, value] {
      f.wait();
      return value;
    };
  }
};

TEST_CASE("a call that answers gives its result", "[calls]") {
  BlockingCalls calls(2);
  CHECK(calls.Run<int>([] { return 7; }, Far()) == 7);
}

TEST_CASE("a call's exception reaches the caller", "[calls]") {
  BlockingCalls calls(2);
  CHECK_THROWS_AS(
      calls.Run<int>([]() -> int { throw std::runtime_error("x"); }, Far()),
      std::runtime_error);
}

TEST_CASE("a blocked call is given up at the deadline", "[calls]") {
  BlockingCalls calls(2);
  Blocker blocker;
  CHECK_FALSE(
      calls.Run<int>(blocker.Call(1), In(milliseconds(20))).has_value());
  // Still in libvirt, but no longer running for anyone.
  CHECK(calls.InFlight() == 1);
  CHECK(calls.Running() == 0);
  CHECK(calls.LeftBehind() == 1);
  blocker.release.set_value();
  while (calls.InFlight() > 0) std::this_thread::yield();
  CHECK(calls.LeftBehind() == 0);
}

TEST_CASE("running calls are bounded by the concurrency", "[calls]") {
  BlockingCalls calls(2);
  Blocker blocker;
  auto race = std::make_shared<Race<int>>();
  const auto first = calls.Launch<int>(race, blocker.Call(1));
  REQUIRE(first);
  REQUIRE(calls.Launch<int>(race, blocker.Call(2)));
  CHECK(calls.Running() == 2);
  // A third waits for neither: it is refused at once.
  CHECK_FALSE(calls.Launch<int>(race, [] { return 3; }));
  // Given up, the first leaves its place to another call.
  calls.GiveUp(first);
  CHECK(calls.Running() == 1);
  CHECK(calls.Launch<int>(race, blocker.Call(3)));
  CHECK(calls.Running() == 2);
  CHECK(calls.InFlight() == 3);
  blocker.release.set_value();
  while (calls.InFlight() > 0) std::this_thread::yield();
}

TEST_CASE("threads in libvirt are bounded, left behind or not", "[calls]") {
  // 1 running + 1 more left behind: 2 threads at most.
  BlockingCalls calls(1, 1);
  Blocker blocker;
  calls.Run<int>(blocker.Call(1), In(milliseconds(1)));
  calls.Run<int>(blocker.Call(2), In(milliseconds(1)));
  CHECK(calls.LeftBehind() == 2);
  // A third thread would pass the bound: refused rather than added.
  auto race = std::make_shared<Race<int>>();
  CHECK_FALSE(calls.Launch<int>(race, [] { return 3; }));
  CHECK_FALSE(calls.Run<int>([] { return 3; }, Far()).has_value());
  blocker.release.set_value();
  while (calls.InFlight() > 0) std::this_thread::yield();
  CHECK(calls.Run<int>([] { return 4; }, Far()) == 4);
}

TEST_CASE("a call's place is free once its answer is seen", "[calls]") {
  // With one call at a time, the next call starts right after an answer:
  // the worker leaves the count before the caller can see the answer (the
  // quick suite once failed a scrape here, refused as "too many blocked").
  BlockingCalls calls(1);
  for (int i = 0; i < 2000; ++i) {
    REQUIRE(calls.Run<int>([i] { return i; }, Far()) == i);
    REQUIRE(calls.Running() == 0);
  }
}

TEST_CASE("giving up a call that returned changes nothing", "[calls]") {
  BlockingCalls calls(2);
  auto race = std::make_shared<Race<int>>();
  const auto ticket = calls.Launch<int>(race, [] { return 1; });
  REQUIRE(race->WaitUntil(Far()));
  while (calls.InFlight() > 0) std::this_thread::yield();
  calls.GiveUp(ticket);
  CHECK(calls.LeftBehind() == 0);
  CHECK(calls.Running() == 0);
}

TEST_CASE("the first of two racing calls wins", "[calls]") {
  BlockingCalls calls(4);
  Blocker stuck;
  auto race = std::make_shared<Race<int>>();
  REQUIRE(calls.Launch<int>(race, stuck.Call(1)));
  CHECK_FALSE(race->WaitUntil(In(milliseconds(10))));
  REQUIRE(calls.Launch<int>(race, [] { return 2; }));
  REQUIRE(race->WaitUntil(Far()));
  CHECK(race->Take() == 2);
  stuck.release.set_value();  // the loser's answer is dropped
  while (calls.InFlight() > 0) std::this_thread::yield();
}

// Counted under the same lock as the worker going idle, so once nothing is
// in flight the worker is waiting for the next call.
// No call in libvirt, and every worker left idle or ended (a worker leaves
// the count of calls before it goes idle).
void WaitUntilIdle(const BlockingCalls& calls) {
  while (calls.InFlight() > 0 || calls.IdleWorkers() != calls.Workers()) {
    std::this_thread::yield();
  }
}

TEST_CASE("the next call runs on the worker the last one used", "[calls]") {
  BlockingCalls calls(4);
  const auto first = calls.Run<std::thread::id>(
      [] { return std::this_thread::get_id(); }, Far());
  WaitUntilIdle(calls);
  CHECK(calls.IdleWorkers() == 1);
  const auto second = calls.Run<std::thread::id>(
      [] { return std::this_thread::get_id(); }, Far());
  REQUIRE(first.has_value());
  CHECK(first == second);
}

TEST_CASE("a call does not wait behind a blocked worker", "[calls]") {
  BlockingCalls calls(4);
  Blocker stuck;
  auto race = std::make_shared<Race<int>>();
  REQUIRE(calls.Launch<int>(race, stuck.Call(1)));
  CHECK(calls.Run<int>([] { return 2; }, Far()) == 2);
  stuck.release.set_value();
  WaitUntilIdle(calls);
}

TEST_CASE("as many workers stay idle as calls may run at once", "[calls]") {
  BlockingCalls calls(3);
  Blocker blocker;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(calls.Launch<int>(std::make_shared<Race<int>>(), blocker.Call(i)));
  }
  CHECK(calls.IdleWorkers() == 0);
  blocker.release.set_value();
  WaitUntilIdle(calls);
  CHECK(calls.IdleWorkers() == 3);
  // The next calls at once run on them, one each: no new thread per scrape.
  std::set<std::thread::id> threads;
  std::mutex mutex;
  std::condition_variable arrived;
  Blocker second;
  std::vector<std::shared_ptr<Race<int>>> races;
  for (int i = 0; i < 3; ++i) {
    races.push_back(std::make_shared<Race<int>>());
    REQUIRE(calls.Launch<int>(races.back(), [&, f = second.released] {
      {
        std::lock_guard<std::mutex> lock(mutex);
        threads.insert(std::this_thread::get_id());
        arrived.notify_all();
      }
      f.wait();
      return 0;
    }));
  }
  {
    std::unique_lock<std::mutex> lock(mutex);
    arrived.wait(lock, [&] { return threads.size() == 3; });
  }
  second.release.set_value();
  for (auto& race : races) REQUIRE(race->WaitUntil(Far()));
  WaitUntilIdle(calls);
  CHECK(threads.size() == 3);
  CHECK(calls.IdleWorkers() == 3);
}

TEST_CASE("workers beyond the concurrency end when their call returns",
          "[calls]") {
  BlockingCalls calls(1);
  Blocker blocker;
  calls.Run<int>(blocker.Call(1), In(milliseconds(1)));  // left behind
  CHECK(calls.Run<int>([] { return 2; }, Far()) == 2);
  blocker.release.set_value();
  WaitUntilIdle(calls);
  CHECK(calls.IdleWorkers() == 1);
}

TEST_CASE("workers outlive the calls object", "[calls]") {
  Blocker blocker;
  auto race = std::make_shared<Race<int>>();
  {
    BlockingCalls calls(2);
    REQUIRE(calls.Launch<int>(race, blocker.Call(5)));
    calls.Run<int>([] { return 1; }, Far());  // leaves an idle worker too
  }
  blocker.release.set_value();
  REQUIRE(race->WaitUntil(Far()));
  CHECK(race->Take() == 5);
}

}  // namespace
}  // namespace lme
