#pragma once

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "collector/sources.h"
#include "libvirt/connection.h"
#include "libvirt/error.h"
#include "util/blocking_calls.h"
#include "util/logger.h"

namespace lme::libvirt {

struct DomainReaderTiming {
  // When the bulk call has not answered by then, a second one is started:
  // with NOWAIT it skips the guest whose job the first one holds.
  Seconds hedge_after{1.0};
  // A QEMU monitor busy with one command for longer is reported timed out.
  std::chrono::milliseconds monitor_stuck_after{1000};
};

// A per-domain failure, logged by the scrape thread.
struct DomainError {
  std::string name;
  std::string uuid;
  std::string call;
  Error error;
};

struct DomainFetch {
  std::vector<DomainMemory> domains;
  std::vector<DomainError> errors;
};

// Reads every domain's state and vCPUs and the active domains' balloon
// stats: one bulk call per scrape where the driver supports it, on threads
// of its own so a stuck guest cannot hold the scrape past its deadline.
class DomainMemoryReader : public DomainMemorySource {
 public:
  DomainMemoryReader(Connection& connection, BlockingCalls& calls,
                     Logger& logger, DomainReaderTiming timing = {});

  std::vector<DomainMemory> FetchDomainMemory(Deadline deadline) override;

 private:
  DomainFetch FetchRacing(virConnectPtr connection, Deadline deadline);
  void MarkStuckDomains(virConnectPtr connection, Deadline deadline,
                        std::vector<DomainMemory>& domains);
  void LogErrors(const std::vector<DomainError>& errors);

  Connection& connection_;
  BlockingCalls& calls_;
  Logger& logger_;
  DomainReaderTiming timing_;
  LogOnce domain_errors_;
};

}  // namespace lme::libvirt
