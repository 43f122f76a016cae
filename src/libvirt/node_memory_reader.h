#pragma once

#include "collector/sources.h"
#include "libvirt/connection.h"

namespace lme::libvirt {

// The host's memory: virNodeGetInfo for the total, virNodeGetMemoryStats for
// free, buffers and cached where the driver supports it.
class NodeMemoryReader : public NodeMemorySource {
 public:
  explicit NodeMemoryReader(Connection& connection);
  NodeMemory FetchNodeMemory() override;

 private:
  Connection& connection_;
};

}  // namespace lme::libvirt
