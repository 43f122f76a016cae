#include "core/fetch_plan.h"

#include <algorithm>

namespace lme {

FetchPlan::FetchPlan(TimePoint started, Deadline deadline, Seconds hedge_after,
                     Seconds usual_fetch)
    : deadline_(deadline),
      hedge_at_(std::min(
          deadline, started + std::chrono::duration_cast<TimePoint::duration>(
                                  std::max(hedge_after, usual_fetch * 3)))) {}

bool FetchPlan::Hedge() {
  if (hedged_) return false;
  hedged_ = true;
  return true;
}

}  // namespace lme
