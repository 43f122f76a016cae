// vCPU counts remembered per domain start. The bulk call's vcpu group would
// read every vCPU thread's /proc stats on every scrape just to count them
// (1.6x the cost of the bulk call on QEMU guests), so the count is read once
// per domain start and again after an interval, for vCPU hotplug. Pure: the
// caller passes the time.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "core/duration.h"

namespace lme {

using TimePoint = std::chrono::steady_clock::time_point;

struct CachedVcpus {
  std::uint64_t vcpus = 0;
  TimePoint read_at;
};

// Keyed by domain start (UUID and domain ID: a restarted domain has a new
// key, so it is read afresh).
using VcpuCache = std::map<std::string, CachedVcpus>;

// The count known for this domain start, while it is younger than
// `refresh_after`; empty when it must be read (again).
std::optional<std::uint64_t> KnownVcpus(const VcpuCache& cache,
                                        const std::string& key, TimePoint now,
                                        Seconds refresh_after);

// What to remember after a fetch that found `vcpus`: the known entry while it
// is fresh and agrees (so its age keeps counting towards the refresh), else
// the new count, read now.
CachedVcpus RememberVcpus(const VcpuCache& cache, const std::string& key,
                          std::uint64_t vcpus, TimePoint now,
                          Seconds refresh_after);

}  // namespace lme
