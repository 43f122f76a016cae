// When a scrape stops waiting for the bulk domain stats call. libvirt's
// client holds every call on a connection behind one that waits for a stuck
// QEMU monitor; when the first call has not answered by the hedge time, a
// second one on a new connection (NOWAIT skips the guest whose job the first
// holds) usually answers at once. Pure: the caller passes the times.
#pragma once

#include "core/duration.h"
#include "core/vcpu_cache.h"

namespace lme {

class FetchPlan {
 public:
  // `usual_fetch`: how long the last fetch took; a host whose bulk call is
  // slow anyway is not hedged every time: the hedge waits at least three of
  // its usual durations, and at least `hedge_after`.
  FetchPlan(TimePoint started, Deadline deadline, Seconds hedge_after,
            Seconds usual_fetch);

  // Until when to wait for the calls running now: the hedge time (never past
  // the deadline), then, once hedged, the deadline.
  Deadline WaitUntil() const { return hedged_ ? deadline_ : hedge_at_; }

  // After a wait that ended without an answer: true once, to start the
  // second call; false after that (give up: the deadline passed).
  bool Hedge();

 private:
  Deadline deadline_;
  Deadline hedge_at_;
  bool hedged_ = false;
};

}  // namespace lme
