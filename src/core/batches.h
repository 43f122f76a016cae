// How a fetch is split into batches that run at once: the domains, in a
// stable order, cut into at most `max_batches` contiguous runs whose sizes
// differ by at most one, so that no batch (and the call that waits for it)
// is longer than it needs to be. Pure.
#pragma once

#include <cstddef>
#include <vector>

namespace lme {

struct BatchRange {
  std::size_t begin = 0;
  std::size_t end = 0;  // one past the last

  std::size_t size() const { return end - begin; }
  friend bool operator==(const BatchRange& a, const BatchRange& b) {
    return a.begin == b.begin && a.end == b.end;
  }
};

// Whether a fetch is split at all. Only through a daemon: libvirtd serves
// a client's calls on several worker threads, while a driver inside the
// exporter's process (the test driver) runs them one at a time under its
// lock, so batches there only add calls (bench: 1000 test-driver domains,
// raw fetch 23 ms serial, 37 ms in 2 or 4 batches).
bool SplitFetch(int max_concurrent_calls, bool through_daemon);

// No batch is empty: fewer items than max_batches give one batch each, no
// items none at all.
std::vector<BatchRange> SplitIntoBatches(std::size_t items, int max_batches);

}  // namespace lme
