// libvirt's enums and typed parameters as the exporter's values: domain
// states, virDomainMemoryStats tags, bulk stats records.
#pragma once

#include <libvirt/libvirt.h>

#include <optional>
#include <string_view>

#include "core/memory_stats.h"

namespace lme::libvirt {

// Sets `state` ("running", "shutoff", ...) and `active` from a
// virDomainState.
void SetState(DomainMemory& domain, int state);

// The numeric typed parameters of a bulk record; others are left out.
StatFields TypedParamFields(const virTypedParameter* params, int count);

std::optional<std::uint64_t> FieldValue(const StatFields& fields,
                                        std::string_view name);

// The stats virDomainMemoryStats returned, by their names in the stat table;
// tags the table does not know (a newer libvirt's) are left out.
StatFields MemoryStatFields(const virDomainMemoryStatStruct* stats, int count);

// A domain's name and UUID, read from its handle.
DomainMemory Identify(virDomainPtr domain);

// A domain from its bulk stats record: identity, state, balloon fields.
DomainMemory FromRecord(virDomainPtr handle, const StatFields& fields);

}  // namespace lme::libvirt
