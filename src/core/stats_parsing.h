// Pure translation of libvirt's stat names and values into MemoryStats.
#pragma once

#include <string_view>

#include "core/memory_stats.h"

namespace lme {

// Stores one field by its short name; returns false for a name it does not
// know (newer libvirt may add fields), which callers ignore.
bool ApplyStatField(const StatField& field, MemoryStats& stats);

// Parses the short-named fields of virDomainMemoryStats.
MemoryStats ParseMemoryStatFields(const StatFields& fields);

// Translates a typed-parameter name of the bulk stats "balloon" group
// ("balloon.unused", "balloon.last-update") into its short name ("unused",
// "last_update"); returns an empty view for names outside that group.
std::string_view BalloonFieldShortName(std::string_view typed_param_name);

// True when a bulk stats record carried at least one balloon field: drivers
// that do not implement the balloon group in the bulk call send none.
bool HasBalloonFields(const StatFields& typed_params);

// Parses the fields of a bulk stats record (typed-parameter names).
MemoryStats ParseBalloonRecord(const StatFields& typed_params);

}  // namespace lme
