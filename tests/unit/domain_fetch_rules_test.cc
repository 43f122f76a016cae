// The reader's decisions that only real QEMU guests exercise otherwise: when
// a vCPU count is read again, when a slow bulk call is hedged, and how the
// domains are split into batches. Times are
// made up: a fake clock is a TimePoint the test moves.
#include <algorithm>

#include "catch_compat.h"
#include "core/batches.h"
#include "core/fetch_plan.h"
#include "core/vcpu_cache.h"

namespace lme {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kStart = TimePoint() + std::chrono::hours(1);
const Seconds kRefresh{300};

TEST_CASE("a vCPU count is read once per domain start", "[vcpus]") {
  const VcpuCache cache{{"uuid#7", {4, kStart}}};
  CHECK(KnownVcpus(cache, "uuid#7", kStart + seconds(10), kRefresh) == 4u);
  // Restarted: the domain ID, and so the key, changed.
  CHECK_FALSE(KnownVcpus(cache, "uuid#8", kStart + seconds(10), kRefresh));
  CHECK_FALSE(KnownVcpus(cache, "other#1", kStart, kRefresh));
}

TEST_CASE("a vCPU count is read again after the interval", "[vcpus]") {
  const VcpuCache cache{{"uuid#7", {4, kStart}}};
  CHECK(KnownVcpus(cache, "uuid#7", kStart + seconds(300), kRefresh) == 4u);
  CHECK_FALSE(KnownVcpus(cache, "uuid#7",
                         kStart + seconds(300) + milliseconds(1), kRefresh));
}

TEST_CASE("a remembered count keeps its age while it agrees", "[vcpus]") {
  const VcpuCache cache{{"uuid#7", {4, kStart}}};
  const TimePoint later = kStart + seconds(100);
  // Unchanged and fresh: the old entry, so the refresh still comes at 300 s.
  CHECK(RememberVcpus(cache, "uuid#7", 4, later, kRefresh).read_at == kStart);
  // A new count (read after the interval, or hotplugged) starts a new age.
  const CachedVcpus changed =
      RememberVcpus(cache, "uuid#7", 6, later, kRefresh);
  CHECK(changed.vcpus == 6);
  CHECK(changed.read_at == later);
  const TimePoint stale = kStart + seconds(301);
  CHECK(RememberVcpus(cache, "uuid#7", 4, stale, kRefresh).read_at == stale);
  CHECK(RememberVcpus(cache, "uuid#8", 4, later, kRefresh).read_at == later);
}

TEST_CASE("a fetch is hedged after hedge_after on a quick host", "[hedge]") {
  FetchPlan plan(kStart, kStart + seconds(9), Seconds(1), Seconds(0.02));
  CHECK(plan.WaitUntil() == kStart + seconds(1));
}

TEST_CASE("a slow host is hedged after three of its usual fetches", "[hedge]") {
  FetchPlan plan(kStart, kStart + seconds(9), Seconds(1), Seconds(2));
  CHECK(plan.WaitUntil() == kStart + seconds(6));
}

TEST_CASE("the hedge never waits past the deadline", "[hedge]") {
  FetchPlan plan(kStart, kStart + seconds(4), Seconds(1), Seconds(2));
  CHECK(plan.WaitUntil() == kStart + seconds(4));
}

TEST_CASE("a fetch is hedged at most once, then waits for the deadline",
          "[hedge]") {
  const Deadline deadline = kStart + seconds(9);
  FetchPlan plan(kStart, deadline, Seconds(1), Seconds(0));
  CHECK(plan.Hedge());
  CHECK(plan.WaitUntil() == deadline);
  CHECK_FALSE(plan.Hedge());
  CHECK_FALSE(plan.Hedge());
  CHECK(plan.WaitUntil() == deadline);
}

TEST_CASE("a fetch is split only through a daemon, and only above 1",
          "[batches]") {
  CHECK(SplitFetch(4, true));
  CHECK(SplitFetch(2, true));
  CHECK_FALSE(SplitFetch(1, true));   // today's one bulk call
  CHECK_FALSE(SplitFetch(4, false));  // in-process: one call at a time anyway
}

TEST_CASE("domains are split into balanced runs, at most one per call",
          "[batches]") {
  using R = std::vector<BatchRange>;
  CHECK(SplitIntoBatches(0, 4).empty());
  CHECK(SplitIntoBatches(1, 4) == R{{0, 1}});
  CHECK(SplitIntoBatches(3, 4) == R{{0, 1}, {1, 2}, {2, 3}});
  CHECK(SplitIntoBatches(8, 4) == R{{0, 2}, {2, 4}, {4, 6}, {6, 8}});
  CHECK(SplitIntoBatches(10, 4) == R{{0, 3}, {3, 6}, {6, 8}, {8, 10}});
  CHECK(SplitIntoBatches(10, 1) == R{{0, 10}});
  CHECK(SplitIntoBatches(5, 0) == R{{0, 5}});  // never fewer than one
  for (std::size_t items : {1u, 7u, 999u, 1000u, 5001u}) {
    for (int most : {1, 2, 3, 4, 8, 64}) {
      const R batches = SplitIntoBatches(items, most);
      INFO(items << " items, at most " << most);
      CHECK(batches.size() == std::min(items, static_cast<std::size_t>(most)));
      std::size_t next = 0;
      std::size_t smallest = items;
      std::size_t largest = 0;
      for (const BatchRange& batch : batches) {
        CHECK(batch.begin == next);
        next = batch.end;
        smallest = std::min(smallest, batch.size());
        largest = std::max(largest, batch.size());
      }
      CHECK(next == items);
      CHECK(largest - smallest <= 1);
    }
  }
}

}  // namespace
}  // namespace lme
