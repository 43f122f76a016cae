#include "libvirt/domain_fetcher.h"

#include <array>
#include <utility>

#include "core/stats_parsing.h"
#include "libvirt/domain_fields.h"
#include "libvirt/domain_identity.h"

namespace lme::libvirt {
namespace {

constexpr unsigned int kStatsGroups =
    VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_BALLOON;

class DomainFetcher {
 public:
  DomainFetcher(virConnectPtr connection, const VcpuCache& known_vcpus,
                TimePoint now, Seconds vcpus_refresh_after)
      : connection_(connection),
        known_vcpus_(known_vcpus),
        now_(now),
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
    // Identify already asked for the ID: no second virDomainGetID per domain.
    const std::string vcpus_key = lme::DomainStartKey(domain.uuid, domain.id);
    domain.vcpus =
        KnownVcpus(known_vcpus_, vcpus_key, now_, vcpus_refresh_after_);
    if ((!domain.vcpus || domain.state.empty()) &&
        !CompleteFromDomain(handle, domain, false)) {
      return false;
    }
    if (domain.vcpus) {
      fetch_.vcpus[vcpus_key] = RememberVcpus(
          known_vcpus_, vcpus_key, *domain.vcpus, now_, vcpus_refresh_after_);
    }
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

  virConnectPtr connection_;
  const VcpuCache& known_vcpus_;
  TimePoint now_;
  Seconds vcpus_refresh_after_;
  DomainFetch fetch_;
};

}  // namespace

DomainFetch FetchDomains(virConnectPtr connection, const VcpuCache& known_vcpus,
                         TimePoint now, Seconds vcpus_refresh_after) {
  return DomainFetcher(connection, known_vcpus, now, vcpus_refresh_after)
      .Fetch();
}

}  // namespace lme::libvirt
