// Several libvirt calls for the parts of one fetch (the domains split into
// batches), started at once and each hedged on its own: a part whose call has
// not answered by the plan's hedge time is asked again by a second call
// (which the caller puts on a new connection), while the parts that answered
// keep their answers. So a guest that does not answer costs its own part,
// not the fetch.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/fetch_plan.h"
#include "util/blocking_calls.h"

namespace lme {

template <typename T>
struct HedgedOutcome {
  // One per part; empty for a part with no answer by the deadline.
  std::vector<std::optional<T>> answers;
  // The parts that were asked a second time.
  std::vector<std::size_t> hedged;
  // True when the calls could not even start: too many are left behind.
  bool refused = false;
};

// `make(part, hedge)` returns the call for `part`: the first one, or with
// `hedge` the second one. Every call counts against calls.MaxConcurrent(),
// hedges included: a part's first call is given up (left behind) when its
// hedge starts, and the hedge takes its place. The first answer of a part,
// from either call, is the part's. A call's exception is rethrown here once
// every part has ended or been given up.
template <typename T>
HedgedOutcome<T> RunHedged(
    BlockingCalls& calls, FetchPlan& plan, std::size_t parts,
    const std::function<std::function<T()>(std::size_t part, bool hedge)>&
        make) {
  struct Part {
    std::shared_ptr<Race<T>> race = std::make_shared<Race<T>>();
    std::vector<BlockingCalls::Ticket> tickets;
  };
  std::vector<Part> running(parts);
  // Whatever happens here (an exception included), no call this function
  // started keeps counting as running once it returns.
  struct GiveUpAll {
    BlockingCalls& calls;
    std::vector<Part>& parts;
    ~GiveUpAll() {
      for (auto& part : parts) {
        for (auto& ticket : part.tickets) calls.GiveUp(ticket);
      }
    }
  } give_up_all{calls, running};

  HedgedOutcome<T> outcome;
  outcome.answers.resize(parts);
  auto start = [&](std::size_t part, bool hedge) {
    auto ticket = calls.Launch(running[part].race, make(part, hedge));
    if (ticket) running[part].tickets.push_back(ticket);
    return ticket != nullptr;
  };
  for (std::size_t part = 0; part < parts; ++part) {
    if (!start(part, false)) {
      outcome.refused = true;
      return outcome;
    }
  }
  auto unanswered = [&](Deadline until) {
    std::vector<std::size_t> waiting;
    for (std::size_t part = 0; part < parts; ++part) {
      if (!running[part].race->WaitUntil(until)) waiting.push_back(part);
    }
    return waiting;
  };
  std::vector<std::size_t> waiting = unanswered(plan.WaitUntil());
  if (!waiting.empty() && plan.Hedge()) {
    for (std::size_t part : waiting) {
      calls.GiveUp(running[part].tickets.front());
      start(part, true);
      outcome.hedged.push_back(part);
    }
    waiting = unanswered(plan.WaitUntil());
  }
  for (std::size_t part = 0; part < parts; ++part) {
    if (running[part].race->Done()) {
      outcome.answers[part] = running[part].race->Take();
    }
  }
  return outcome;
}

}  // namespace lme
