#include "util/blocking_calls.h"

#include <future>
#include <stdexcept>

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

TEST_CASE("a blocked call is abandoned at the deadline", "[calls]") {
  BlockingCalls calls(2);
  Blocker blocker;
  CHECK_FALSE(
      calls.Run<int>(blocker.Call(1), In(milliseconds(20))).has_value());
  CHECK(calls.InFlight() == 1);
  blocker.release.set_value();
  while (calls.InFlight() > 0) std::this_thread::yield();
}

TEST_CASE("blocked calls are bounded", "[calls]") {
  BlockingCalls calls(2);
  Blocker blocker;
  calls.Run<int>(blocker.Call(1), In(milliseconds(1)));
  calls.Run<int>(blocker.Call(2), In(milliseconds(1)));
  CHECK(calls.InFlight() == 2);
  // A third is refused at once rather than adding a thread.
  auto race = std::make_shared<Race<int>>();
  CHECK_FALSE(calls.Launch<int>(race, [] { return 3; }));
  CHECK_FALSE(calls.Run<int>([] { return 3; }, Far()).has_value());
  blocker.release.set_value();
  while (calls.InFlight() > 0) std::this_thread::yield();
  CHECK(calls.Run<int>([] { return 4; }, Far()) == 4);
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
void WaitUntilIdle(const BlockingCalls& calls) {
  while (calls.InFlight() > 0) std::this_thread::yield();
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

TEST_CASE("at most one worker stays idle", "[calls]") {
  BlockingCalls calls(4);
  Blocker blocker;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(calls.Launch<int>(std::make_shared<Race<int>>(), blocker.Call(i)));
  }
  CHECK(calls.IdleWorkers() == 0);
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
