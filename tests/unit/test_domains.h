#pragma once

#include <string>
#include <utility>

#include "core/memory_stats.h"

namespace lme {

inline DomainMemory Running(std::string name, std::string uuid,
                            MemoryStats stats = {}) {
  DomainMemory domain;
  domain.name = std::move(name);
  domain.uuid = std::move(uuid);
  domain.stats = std::move(stats);
  domain.state = "running";
  return domain;
}

}  // namespace lme
