#include "libvirt/node_memory_reader.h"

#include <cstring>
#include <vector>

#include "libvirt/deadline_call.h"
#include "libvirt/error.h"

namespace lme::libvirt {
namespace {

// After a failed call: false when the driver does not support it (the
// fields stay empty), otherwise throws as for any host-wide failure.
bool UnsupportedOrThrow(virConnectPtr connection, const std::string& call) {
  if (LastError().Kind() == LibvirtErrorKind::kUnsupported) return false;
  FailConnectionWide(connection, call);
}

void ReadMemoryStats(virConnectPtr connection, NodeMemory& node) {
  constexpr int kAllCells = VIR_NODE_MEMORY_STATS_ALL_CELLS;
  int count = 0;
  if (virNodeGetMemoryStats(connection, kAllCells, nullptr, &count, 0) < 0) {
    UnsupportedOrThrow(connection, "virNodeGetMemoryStats");
    return;
  }
  std::vector<virNodeMemoryStats> stats(static_cast<std::size_t>(count));
  if (count == 0) return;
  if (virNodeGetMemoryStats(connection, kAllCells, stats.data(), &count, 0) <
      0) {
    UnsupportedOrThrow(connection, "virNodeGetMemoryStats");
    return;
  }
  for (int i = 0; i < count; ++i) {
    const char* field = stats[i].field;
    const std::uint64_t value = stats[i].value;
    if (std::strcmp(field, VIR_NODE_MEMORY_STATS_TOTAL) == 0) {
      node.total_kib = value;
    } else if (std::strcmp(field, VIR_NODE_MEMORY_STATS_FREE) == 0) {
      node.free_kib = value;
    } else if (std::strcmp(field, VIR_NODE_MEMORY_STATS_BUFFERS) == 0) {
      node.buffers_kib = value;
    } else if (std::strcmp(field, VIR_NODE_MEMORY_STATS_CACHED) == 0) {
      node.cached_kib = value;
    }
  }
}

NodeMemory Read(virConnectPtr connection) {
  NodeMemory node;
  virNodeInfo info{};
  if (virNodeGetInfo(connection, &info) == 0) {
    node.total_kib = info.memory;
  } else {
    UnsupportedOrThrow(connection, "virNodeGetInfo");
  }
  // Where both exist, the kernel's MemTotal from the stats wins.
  ReadMemoryStats(connection, node);
  return node;
}

}  // namespace

NodeMemoryReader::NodeMemoryReader(Connection& connection, BlockingCalls& calls)
    : connection_(connection), calls_(calls) {}

NodeMemory NodeMemoryReader::FetchNodeMemory(Deadline deadline) {
  return CallBefore(deadline, connection_, calls_, "host memory", &Read);
}

}  // namespace lme::libvirt
