#include "libvirt/domain_fields.h"

#include "core/stats_parsing.h"
#include "libvirt/domain_identity.h"

namespace lme::libvirt {
namespace {

// virDomainMemoryStats' tags, from the rows of core/balloon_stat_list.h.
struct TaggedStat {
  int tag;
  const char* name;
};
#define LME_TAG(tag) VIR_DOMAIN_MEMORY_STAT_##tag
#define LME_NO_TAG -1
#define LME_TAGGED_STAT(member, tag, name, ...) TaggedStat{tag, name},
constexpr TaggedStat kTaggedStats[] = {
    LME_BALLOON_STATS(LME_TAGGED_STAT, LME_IGNORE_ROW)};
#undef LME_TAGGED_STAT
#undef LME_NO_TAG
#undef LME_TAG

const char* MemoryStatTagName(int tag) {
  for (const auto& stat : kTaggedStats) {
    if (stat.tag == tag && tag >= 0) return stat.name;
  }
  return nullptr;
}

const char* StateName(int state) {
  switch (state) {
    case VIR_DOMAIN_NOSTATE: return "nostate";
    case VIR_DOMAIN_RUNNING: return "running";
    case VIR_DOMAIN_BLOCKED: return "blocked";
    case VIR_DOMAIN_PAUSED: return "paused";
    case VIR_DOMAIN_SHUTDOWN: return "shutdown";
    case VIR_DOMAIN_SHUTOFF: return "shutoff";
    case VIR_DOMAIN_CRASHED: return "crashed";
    case VIR_DOMAIN_PMSUSPENDED: return "pmsuspended";
    default: return "unknown";
  }
}

std::optional<std::uint64_t> NumericValue(const virTypedParameter& param) {
  switch (param.type) {
    case VIR_TYPED_PARAM_ULLONG: return param.value.ul;
    case VIR_TYPED_PARAM_UINT: return param.value.ui;
    case VIR_TYPED_PARAM_LLONG:
      if (param.value.l >= 0) return param.value.l;
      return std::nullopt;
    case VIR_TYPED_PARAM_INT:
      if (param.value.i >= 0) return param.value.i;
      return std::nullopt;
    default: return std::nullopt;
  }
}

}  // namespace

// Only a shut-off domain has no QEMU process: a crashed one that libvirt
// preserved is still active.
void SetState(DomainMemory& domain, int state) {
  domain.state = StateName(state);
  domain.active = state != VIR_DOMAIN_SHUTOFF;
}

StatFields TypedParamFields(const virTypedParameter* params, int count) {
  StatFields fields;
  fields.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    if (auto value = NumericValue(params[i])) {
      fields.push_back({params[i].field, *value});
    }
  }
  return fields;
}

std::optional<std::uint64_t> FieldValue(const StatFields& fields,
                                        std::string_view name) {
  for (const auto& field : fields) {
    if (field.name == name) return field.value;
  }
  return std::nullopt;
}

DomainMemory Identify(virDomainPtr domain) {
  DomainMemory identity;
  identity.name = DomainName(domain);
  identity.uuid = DomainUuid(domain);
  identity.id = virDomainGetID(domain);
  return identity;
}

DomainMemory FromRecord(virDomainPtr handle, const StatFields& fields) {
  DomainMemory domain = Identify(handle);
  if (auto state = FieldValue(fields, "state.state")) {
    SetState(domain, static_cast<int>(*state));
  }
  domain.stats = ParseBalloonRecord(fields);
  return domain;
}

StatFields MemoryStatFields(const virDomainMemoryStatStruct* stats, int count) {
  StatFields fields;
  fields.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    if (const char* name = MemoryStatTagName(stats[i].tag)) {
      fields.push_back({name, stats[i].val});
    }
  }
  return fields;
}

}  // namespace lme::libvirt
