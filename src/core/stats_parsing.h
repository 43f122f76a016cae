// Pure translation of libvirt's stat names and values into MemoryStats.
#pragma once

#include <string_view>

#include "core/balloon_stats.h"
#include "core/memory_stats.h"

namespace lme {

// Stores one field by its virDomainMemoryStats name (BalloonStat::name);
// returns false for a name it does not know (newer libvirt may add fields),
// which callers ignore.
bool ApplyStatField(const StatField& field, MemoryStats& stats);

// Parses the short-named fields of virDomainMemoryStats.
MemoryStats ParseMemoryStatFields(const StatFields& fields);

// The stat a typed-parameter name of the bulk stats "balloon" group stands
// for ("balloon.unused", "balloon.last-update"); null for names outside that
// group and balloon fields no row knows.
const BalloonStat* BalloonFieldStat(std::string_view typed_param_name);

// True when a bulk stats record carried at least one balloon field: drivers
// that do not implement the balloon group in the bulk call send none.
bool HasBalloonFields(const StatFields& typed_params);

// Parses the fields of a bulk stats record (typed-parameter names).
MemoryStats ParseBalloonRecord(const StatFields& typed_params);

}  // namespace lme
