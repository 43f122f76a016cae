#include "core/batches.h"

#include <algorithm>

namespace lme {

bool SplitFetch(int max_concurrent_calls, bool through_daemon) {
  return max_concurrent_calls > 1 && through_daemon;
}

std::vector<BatchRange> SplitIntoBatches(std::size_t items, int max_batches) {
  const std::size_t count =
      std::min(items, static_cast<std::size_t>(std::max(max_batches, 1)));
  std::vector<BatchRange> batches;
  batches.reserve(count);
  std::size_t begin = 0;
  for (std::size_t i = 0; i < count; ++i) {
    // The first `items % count` batches take one more.
    const std::size_t size = items / count + (i < items % count ? 1 : 0);
    batches.push_back({begin, begin + size});
    begin += size;
  }
  return batches;
}

}  // namespace lme
