// The memory picture of one domain, as libvirt reported it. Every field is
// optional because libvirt omits what the guest did not report; an absent
// field must stay absent in the exposition rather than become 0.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/balloon_stat_list.h"
#include "core/stats_status.h"

namespace lme {

// One member per row of core/balloon_stat_list.h, named there.
struct MemoryStats {
#define LME_MEMBER(member, ...) std::optional<std::uint64_t> member;
  LME_BALLOON_STATS(LME_MEMBER, LME_IGNORE_ROW)
#undef LME_MEMBER
};

struct DomainMemory {
  std::string name;
  std::string uuid;
  // libvirt's domain ID, new with every start (core's DomainStartKey).
  unsigned int id = 0;
  // As libvirt reported them; which of them count depends on stats_status.
  MemoryStats stats;
  // Inactive (shut off) domains are listed for their state only: they have
  // no memory series.
  bool active = true;
  // "running", "paused", "shutoff", ... (empty when libvirt did not say).
  std::string state;
  std::optional<std::uint64_t> vcpus;
  // Its stats did not arrive in time: the QEMU monitor has been busy with
  // one command for too long (a stopped or wedged QEMU).
  bool timed_out = false;
  // Why the guest has memory stats or not (active domains; empty when not
  // decided): guest-side stats count only while it is kReporting.
  std::optional<StatsStatus> stats_status;
  // The balloon's stats period from the live definition; empty without a
  // balloon device or when the definition is unknown.
  std::optional<std::uint64_t> stats_period_seconds;
};

// The host's memory as libvirt reports it, in KiB.
struct NodeMemory {
  std::optional<std::uint64_t> total_kib;
  std::optional<std::uint64_t> free_kib;
  std::optional<std::uint64_t> buffers_kib;
  std::optional<std::uint64_t> cached_kib;
};

// One numeric stat as libvirt hands it over, by its short name ("unused",
// "available", "current", "last_update", ...). Both libvirt APIs are
// translated into this form so that a single pure parser serves them.
struct StatField {
  std::string name;
  std::uint64_t value = 0;
};

using StatFields = std::vector<StatField>;

}  // namespace lme
