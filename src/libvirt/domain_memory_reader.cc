#include "libvirt/domain_memory_reader.h"

#include <array>
#include <utility>

#include "core/stats_parsing.h"

namespace lme::libvirt {
namespace {

constexpr unsigned int kStatsGroups =
    VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_BALLOON;

const char* MemoryStatTagName(int tag) {
  switch (tag) {
    case VIR_DOMAIN_MEMORY_STAT_SWAP_IN: return "swap_in";
    case VIR_DOMAIN_MEMORY_STAT_SWAP_OUT: return "swap_out";
    case VIR_DOMAIN_MEMORY_STAT_MAJOR_FAULT: return "major_fault";
    case VIR_DOMAIN_MEMORY_STAT_MINOR_FAULT: return "minor_fault";
    case VIR_DOMAIN_MEMORY_STAT_UNUSED: return "unused";
    case VIR_DOMAIN_MEMORY_STAT_AVAILABLE: return "available";
    case VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON: return "current";
    case VIR_DOMAIN_MEMORY_STAT_RSS: return "rss";
    case VIR_DOMAIN_MEMORY_STAT_USABLE: return "usable";
    case VIR_DOMAIN_MEMORY_STAT_LAST_UPDATE: return "last_update";
    case VIR_DOMAIN_MEMORY_STAT_DISK_CACHES: return "disk_caches";
    case VIR_DOMAIN_MEMORY_STAT_HUGETLB_PGALLOC: return "hugetlb_pgalloc";
    case VIR_DOMAIN_MEMORY_STAT_HUGETLB_PGFAIL: return "hugetlb_pgfail";
    default: return nullptr;
  }
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

// Only a shut-off domain has no QEMU process: a crashed one that libvirt
// preserved is still active.
void SetState(DomainMemory& domain, int state) {
  domain.state = StateName(state);
  domain.active = state != VIR_DOMAIN_SHUTOFF;
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

StatFields TypedParamFields(const virTypedParameter* params, int count) {
  StatFields fields;
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
  if (const char* name = virDomainGetName(domain)) identity.name = name;
  std::array<char, VIR_UUID_STRING_BUFLEN> uuid{};
  if (virDomainGetUUIDString(domain, uuid.data()) == 0) {
    identity.uuid = uuid.data();
  }
  return identity;
}

DomainMemory FromRecord(virDomainPtr handle, const StatFields& fields) {
  DomainMemory domain = Identify(handle);
  if (auto state = FieldValue(fields, "state.state")) {
    SetState(domain, static_cast<int>(*state));
  }
  domain.vcpus = FieldValue(fields, "vcpu.current");
  domain.stats = ParseBalloonRecord(fields);
  return domain;
}

StatFields MemoryStatFields(const virDomainMemoryStatStruct* stats, int count) {
  StatFields fields;
  for (int i = 0; i < count; ++i) {
    if (const char* name = MemoryStatTagName(stats[i].tag)) {
      fields.push_back({name, stats[i].val});
    }
  }
  return fields;
}

}  // namespace

DomainMemoryReader::DomainMemoryReader(Connection& connection, Logger& logger)
    : connection_(connection), logger_(logger) {}

std::vector<DomainMemory> DomainMemoryReader::FetchDomainMemory() {
  failing_this_scrape_.clear();
  auto domains =
      connection_.Use([this](virConnectPtr c) { return FetchFrom(c); });
  domain_errors_.KeepOnly(failing_this_scrape_);
  return domains;
}

std::vector<DomainMemory> DomainMemoryReader::FetchFrom(
    virConnectPtr connection) {
  if (auto bulk = FetchBulk(connection)) return std::move(*bulk);
  return FetchPerDomain(connection);
}

std::optional<std::vector<DomainMemory>> DomainMemoryReader::FetchBulk(
    virConnectPtr connection) {
  virDomainStatsRecordPtr* raw = nullptr;
  const int count = virConnectGetAllDomainStats(
      connection, kStatsGroups, &raw, VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
  if (count < 0) {
    if (LastError().Kind() == LibvirtErrorKind::kUnsupported) {
      return std::nullopt;
    }
    FailConnectionWide(connection, "virConnectGetAllDomainStats");
  }
  const StatsRecordList records(raw);
  std::vector<DomainMemory> domains;
  domains.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    const StatFields fields = TypedParamFields(raw[i]->params, raw[i]->nparams);
    DomainMemory domain = FromRecord(raw[i]->dom, fields);
    const bool has_balloon = HasBalloonFields(fields);
    // Drivers that leave groups out of the bulk call (the test driver sends
    // neither balloon nor vCPU fields) are asked per domain.
    const bool incomplete =
        !has_balloon || !domain.vcpus || domain.state.empty();
    if (incomplete && !CompleteFromDomain(connection, raw[i]->dom, domain,
                                          !has_balloon)) {
      continue;
    }
    domains.push_back(std::move(domain));
  }
  return domains;
}

std::vector<DomainMemory> DomainMemoryReader::FetchPerDomain(
    virConnectPtr connection) {
  virDomainPtr* raw = nullptr;
  const int count = virConnectListAllDomains(connection, &raw, 0);
  if (count < 0) FailConnectionWide(connection, "virConnectListAllDomains");
  std::vector<DomainMemory> domains;
  for (const DomainHandle& handle : AdoptDomainArray(raw, count)) {
    DomainMemory domain = Identify(handle.get());
    if (!CompleteFromDomain(connection, handle.get(), domain, true)) continue;
    domains.push_back(std::move(domain));
  }
  return domains;
}

bool DomainMemoryReader::CompleteFromDomain(virConnectPtr connection,
                                            virDomainPtr handle,
                                            DomainMemory& domain,
                                            bool need_memory_stats) {
  virDomainInfo info{};
  if (virDomainGetInfo(handle, &info) < 0) {
    return KeepAfterError(connection, domain, "virDomainGetInfo");
  }
  if (domain.state.empty()) SetState(domain, info.state);
  if (!domain.vcpus) domain.vcpus = info.nrVirtCpu;
  if (!domain.stats.maximum_kib) domain.stats.maximum_kib = info.maxMem;
  if (!need_memory_stats || !domain.active) return true;

  std::array<virDomainMemoryStatStruct, VIR_DOMAIN_MEMORY_STAT_NR> raw{};
  const int count =
      virDomainMemoryStats(handle, raw.data(), VIR_DOMAIN_MEMORY_STAT_NR, 0);
  if (count < 0) {
    return KeepAfterError(connection, domain, "virDomainMemoryStats");
  }
  const MemoryStats maximum_known = domain.stats;
  domain.stats = ParseMemoryStatFields(MemoryStatFields(raw.data(), count));
  domain.stats.maximum_kib = maximum_known.maximum_kib;
  return true;
}

bool DomainMemoryReader::KeepAfterError(virConnectPtr connection,
                                        const DomainMemory& identity,
                                        const std::string& call) {
  const Error error = LastError();
  switch (DecideDomainErrorAction(error.Kind(), IsAlive(connection))) {
    case DomainErrorAction::kReconnect:
      throw ConnectionLost(call + ": " + error.message);
    case DomainErrorAction::kSkipDomain:
      return false;
    case DomainErrorAction::kEmptyStats:
      logger_.Debug("libvirt does not support the call; empty stats",
                    {{"domain", identity.name}, {"call", call}});
      return true;
    case DomainErrorAction::kEmptyStatsAndWarn:
      WarnOnce(identity, call, error);
      return true;
  }
  return true;
}

void DomainMemoryReader::WarnOnce(const DomainMemory& identity,
                                  const std::string& call, const Error& error) {
  const std::string key = identity.uuid + "/" + call + "/" + error.message;
  failing_this_scrape_.insert(key);
  if (!domain_errors_.First(key)) return;
  logger_.Warn("cannot read domain memory stats",
               {{"domain", identity.name},
                {"uuid", identity.uuid},
                {"call", call},
                {"err", error.message}});
}

}  // namespace lme::libvirt
