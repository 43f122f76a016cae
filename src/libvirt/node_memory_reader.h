#pragma once

#include "collector/sources.h"
#include "libvirt/connection.h"
#include "util/blocking_calls.h"

namespace lme::libvirt {

// The host's memory: virNodeGetInfo for the total, virNodeGetMemoryStats for
// free, buffers and cached where the driver supports it.
class NodeMemoryReader : public NodeMemorySource {
 public:
  NodeMemoryReader(Connection& connection, BlockingCalls& calls);
  NodeMemory FetchNodeMemory(Deadline deadline) override;

 private:
  Connection& connection_;
  BlockingCalls& calls_;
};

}  // namespace lme::libvirt
