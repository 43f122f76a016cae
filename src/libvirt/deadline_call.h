// How a reader calls libvirt under the scrape's deadline: on a worker thread
// (libvirt's calls have no timeout, and a guest whose QEMU does not answer
// would hold the scrape), with a reference of its own to the connection (the
// call may outlive the scrape and a reconnect).
#pragma once

#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "collector/sources.h"
#include "libvirt/connection.h"
#include "util/blocking_calls.h"

namespace lme::libvirt {

template <typename Call>
using CallResult = std::invoke_result_t<Call&, virConnectPtr>;

// Runs `call(virConnectPtr)` on a worker of `calls`; empty when the deadline
// passed first or too many calls are blocked already. `call` is copied to
// the worker and must own what it uses.
template <typename Call>
std::optional<CallResult<Call>> TryCallBefore(Deadline deadline,
                                              BlockingCalls& calls,
                                              virConnectPtr connection,
                                              Call call) {
  return calls.Run<CallResult<Call>>(
      [shared = ShareConnection(connection), call = std::move(call)]() mutable {
        return call(shared.get());
      },
      deadline);
}

// The same on the reader's live connection (reconnecting as Connection::Use
// does). Throws CollectionTimedOut("<what> did not arrive in time") when no
// answer came in time; what `call` throws propagates.
template <typename Call>
CallResult<Call> CallBefore(Deadline deadline, Connection& connection,
                            BlockingCalls& calls, const std::string& what,
                            Call call) {
  return connection.Use([&](virConnectPtr handle) {
    auto result = TryCallBefore(deadline, calls, handle, call);
    if (!result) throw CollectionTimedOut(what + " did not arrive in time");
    return std::move(*result);
  });
}

}  // namespace lme::libvirt
