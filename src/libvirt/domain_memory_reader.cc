#include "libvirt/domain_memory_reader.h"

#include <algorithm>
#include <array>
#include <functional>
#include <utility>

#include "core/memory_families.h"
#include "core/stats_parsing.h"
#include "libvirt/deadline_call.h"
#include "libvirt/domain_identity.h"

namespace lme::libvirt {
namespace {

constexpr unsigned int kStatsGroups =
    VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_BALLOON;

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

// Runs on a thread of its own: it touches nothing but its arguments.
class DomainFetcher {
 public:
  DomainFetcher(virConnectPtr connection, const VcpuCache& known_vcpus,
                std::chrono::seconds vcpus_refresh_after)
      : connection_(connection),
        known_vcpus_(known_vcpus),
        vcpus_refresh_after_(vcpus_refresh_after) {}

  DomainFetch Fetch() {
    if (!FetchBulk()) FetchPerDomain();
    return std::move(fetch_);
  }

 private:
  bool FetchBulk() {
    virDomainStatsRecordPtr* raw = nullptr;
    const int count =
        virConnectGetAllDomainStats(connection_, kStatsGroups, &raw,
                                    VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
    if (count < 0) {
      if (LastError().Kind() == LibvirtErrorKind::kUnsupported) return false;
      FailConnectionWide(connection_, "virConnectGetAllDomainStats");
    }
    const StatsRecordList records(raw);
    fetch_.domains.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
      const StatFields fields =
          TypedParamFields(raw[i]->params, raw[i]->nparams);
      DomainMemory domain = FromRecord(raw[i]->dom, fields);
      if (!HasBalloonFields(fields)) {
        // Drivers that leave the balloon group out of the bulk call (the
        // test driver) are asked per domain; virDomainGetInfo brings the
        // vCPUs along.
        if (!CompleteFromDomain(raw[i]->dom, domain, true)) continue;
      } else if (!CompleteBalloonRecord(raw[i]->dom, domain)) {
        continue;
      }
      fetch_.domains.push_back(std::move(domain));
    }
    return true;
  }

  // A record with balloon fields lacks only the vCPUs (read once per domain
  // start) and, from some drivers, the state.
  bool CompleteBalloonRecord(virDomainPtr handle, DomainMemory& domain) {
    const std::string vcpus_key = DomainStartKey(handle, domain.uuid);
    domain.vcpus = KnownVcpus(vcpus_key);
    if ((!domain.vcpus || domain.state.empty()) &&
        !CompleteFromDomain(handle, domain, false)) {
      return false;
    }
    RememberVcpus(vcpus_key, domain);
    // QEMU always adds rss when it got the domain's job: balloon fields
    // without it mean NOWAIT found the job held by someone else.
    if (domain.active && !domain.stats.rss_kib) {
      fetch_.job_skipped.push_back(domain.uuid);
    }
    return true;
  }

  void FetchPerDomain() {
    virDomainPtr* raw = nullptr;
    const int count = virConnectListAllDomains(connection_, &raw, 0);
    if (count < 0) FailConnectionWide(connection_, "virConnectListAllDomains");
    for (const DomainHandle& handle : AdoptDomainArray(raw, count)) {
      DomainMemory domain = Identify(handle.get());
      if (!CompleteFromDomain(handle.get(), domain, true)) continue;
      fetch_.domains.push_back(std::move(domain));
    }
  }

  // Fills in what the bulk record lacked by asking the domain directly.
  // False when the domain disappeared while it was being read.
  bool CompleteFromDomain(virDomainPtr handle, DomainMemory& domain,
                          bool need_memory_stats) {
    virDomainInfo info{};
    if (virDomainGetInfo(handle, &info) < 0) {
      return KeepAfterError(domain, "virDomainGetInfo");
    }
    if (domain.state.empty()) SetState(domain, info.state);
    if (!domain.vcpus) domain.vcpus = info.nrVirtCpu;
    if (!domain.stats.maximum_kib) domain.stats.maximum_kib = info.maxMem;
    if (!need_memory_stats || !domain.active) return true;

    std::array<virDomainMemoryStatStruct, VIR_DOMAIN_MEMORY_STAT_NR> raw{};
    const int count =
        virDomainMemoryStats(handle, raw.data(), VIR_DOMAIN_MEMORY_STAT_NR, 0);
    if (count < 0) return KeepAfterError(domain, "virDomainMemoryStats");
    const auto maximum = domain.stats.maximum_kib;
    domain.stats = ParseMemoryStatFields(MemoryStatFields(raw.data(), count));
    domain.stats.maximum_kib = maximum;
    return true;
  }

  // Applies DecideDomainErrorAction: false when the domain is to be left out.
  bool KeepAfterError(const DomainMemory& domain, const std::string& call) {
    const Error error = LastError();
    switch (DecideDomainErrorAction(error.Kind(), IsAlive(connection_))) {
      case DomainErrorAction::kReconnect:
        throw ConnectionLost(call + ": " + error.message);
      case DomainErrorAction::kSkipDomain: return false;
      case DomainErrorAction::kEmptyStats: return true;
      case DomainErrorAction::kEmptyStatsAndWarn:
        fetch_.errors.push_back({domain.name, domain.uuid, call, error});
        return true;
    }
    return true;
  }

  std::optional<std::uint64_t> KnownVcpus(const std::string& key) const {
    const auto known = known_vcpus_.find(key);
    if (known == known_vcpus_.end() ||
        std::chrono::steady_clock::now() - known->second.read_at >
            vcpus_refresh_after_) {
      return std::nullopt;
    }
    return known->second.vcpus;
  }

  void RememberVcpus(const std::string& key, const DomainMemory& domain) {
    if (!domain.vcpus) return;
    const auto known = known_vcpus_.find(key);
    const bool fresh = known != known_vcpus_.end() &&
                       known->second.vcpus == *domain.vcpus &&
                       KnownVcpus(key).has_value();
    fetch_.vcpus[key] =
        fresh ? known->second
              : CachedVcpus{*domain.vcpus, std::chrono::steady_clock::now()};
  }

  virConnectPtr connection_;
  const VcpuCache& known_vcpus_;
  std::chrono::seconds vcpus_refresh_after_;
  DomainFetch fetch_;
};

// UUIDs of the domains whose QEMU monitor has been busy with one command for
// at least `stuck_after`: what a stopped or wedged QEMU looks like.
std::set<std::string> StuckDomains(virConnectPtr connection,
                                   const std::vector<std::string>& uuids,
                                   std::chrono::milliseconds stuck_after) {
  std::set<std::string> stuck;
  for (const std::string& uuid : uuids) {
    const DomainHandle domain(
        virDomainLookupByUUIDString(connection, uuid.c_str()));
    virDomainControlInfo info{};
    if (!domain || virDomainGetControlInfo(domain.get(), &info, 0) < 0)
      continue;
    if (info.state == VIR_DOMAIN_CONTROL_OCCUPIED &&
        info.stateTime >=
            static_cast<unsigned long long>(stuck_after.count())) {
      stuck.insert(uuid);
    }
  }
  return stuck;
}

}  // namespace

DomainMemoryReader::DomainMemoryReader(Connection& connection,
                                       BlockingCalls& calls, Logger& logger,
                                       DomainReaderTiming timing)
    : connection_(connection),
      calls_(calls),
      logger_(logger),
      timing_(timing) {}

std::vector<DomainMemory> DomainMemoryReader::FetchDomainMemory(
    Deadline deadline) {
  DomainFetch fetch = connection_.Use(
      [&](virConnectPtr c) { return FetchRacing(c, deadline); });
  LogErrors(fetch.errors);
  vcpus_ = std::make_shared<const VcpuCache>(std::move(fetch.vcpus));
  return std::move(fetch.domains);
}

std::function<DomainFetch()> DomainMemoryReader::FetchCall(
    virConnectPtr connection) const {
  // The fetch may outlive this scrape, so it reads a snapshot of the cache
  // (shared, not copied) and returns the next one.
  return [shared = ShareConnection(connection), known = vcpus_,
          refresh = timing_.vcpus_refresh_after] {
    return DomainFetcher(shared.get(), *known, refresh).Fetch();
  };
}

// A host whose bulk call normally takes a while is not hedged on every
// scrape: wait a few of its usual durations first.
Deadline DomainMemoryReader::HedgeAt(Deadline deadline) const {
  const Seconds wait = std::max(timing_.hedge_after, usual_fetch_ * 3);
  return std::min(
      deadline, std::chrono::steady_clock::now() +
                    std::chrono::duration_cast<std::chrono::nanoseconds>(wait));
}

DomainFetch DomainMemoryReader::FetchRacing(virConnectPtr connection,
                                            Deadline deadline) {
  const auto start = std::chrono::steady_clock::now();
  auto race = std::make_shared<Race<DomainFetch>>();
  if (!calls_.Launch(race, FetchCall(connection))) {
    throw CollectionTimedOut(
        "too many libvirt calls are still blocked; not starting another");
  }
  const bool hedged = !race->WaitUntil(HedgeAt(deadline));
  if (hedged) {
    // libvirt's client holds up every call on a connection behind one that
    // waits for a stuck QEMU monitor, so the second call (NOWAIT skips the
    // job the first one holds) gets a connection of its own, which later
    // scrapes keep; the first keeps the old one until it returns.
    logger_.Debug("domain stats are slow; asking again on a new connection");
    connection = connection_.Reopen();
    calls_.Launch(race, FetchCall(connection));
    if (!race->WaitUntil(deadline)) {
      throw CollectionTimedOut("domain stats did not arrive in time");
    }
  }
  DomainFetch fetch = race->Take();
  // A slow host's first fetch is hedged too; remembering how long it took
  // keeps the later ones from being hedged (and reconnected) every time.
  usual_fetch_ = std::chrono::steady_clock::now() - start;
  MarkStuckDomains(connection, deadline, fetch);
  return fetch;
}

void DomainMemoryReader::MarkStuckDomains(virConnectPtr connection,
                                          Deadline deadline,
                                          DomainFetch& fetch) {
  if (fetch.job_skipped.empty()) return;
  const auto stuck = TryCallBefore(
      deadline, calls_, connection,
      [suspects = fetch.job_skipped, after = timing_.monitor_stuck_after](
          virConnectPtr c) { return StuckDomains(c, suspects, after); });
  if (!stuck) return;
  for (auto& domain : fetch.domains) {
    domain.timed_out = stuck->count(domain.uuid) > 0;
  }
}

void DomainMemoryReader::LogErrors(const std::vector<DomainError>& errors) {
  domain_errors_.Report(
      errors,
      [](const DomainError& e) {
        return e.uuid + "/" + e.call + "/" + e.error.message;
      },
      [&](const DomainError& e) {
        logger_.Warn("cannot read domain memory stats",
                     {{"domain", e.name},
                      {"uuid", e.uuid},
                      {"call", e.call},
                      {"err", e.error.message}});
      });
}

}  // namespace lme::libvirt
