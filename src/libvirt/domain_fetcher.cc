#include "libvirt/domain_fetcher.h"

#include <array>
#include <iterator>
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

  DomainFetch Fetch(FetchPath path) {
    if (path == FetchPath::kPerDomain || !FetchBulk()) FetchPerDomain();
    return std::move(fetch_);
  }

  DomainFetch FetchBatch(const std::vector<virDomainPtr>& batch,
                         FetchPath path) {
    if (path == FetchPath::kPerDomain || !FetchBulkBatch(batch)) {
      ReadEach(batch);
    }
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
    TakeRecords(raw, count);
    return true;
  }

  // False when the driver has no bulk call, or when a domain of the batch
  // went away since it was listed (a driver may fail the whole call then).
  bool FetchBulkBatch(std::vector<virDomainPtr> batch) {
    batch.push_back(nullptr);
    virDomainStatsRecordPtr* raw = nullptr;
    const int count =
        virDomainListGetStats(batch.data(), kStatsGroups, &raw,
                              VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
    if (count < 0) {
      const Error error = LastError();
      if (error.Kind() == LibvirtErrorKind::kUnsupported) return false;
      if (error.Kind() != LibvirtErrorKind::kNoDomain) {
        FailConnectionWide(connection_, "virDomainListGetStats");
      }
      if (!IsAlive(connection_)) {
        throw ConnectionLost("virDomainListGetStats: " + error.message);
      }
      return false;
    }
    TakeRecords(raw, count);
    return true;
  }

  void TakeRecords(virDomainStatsRecordPtr* raw, int count) {
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
    std::vector<virDomainPtr> handles;
    const std::vector<DomainHandle> owned = AdoptDomainArray(raw, count);
    for (const DomainHandle& handle : owned) handles.push_back(handle.get());
    ReadEach(handles);
  }

  void ReadEach(const std::vector<virDomainPtr>& handles) {
    for (virDomainPtr handle : handles) {
      DomainMemory domain = Identify(handle);
      if (!CompleteFromDomain(handle, domain, true)) continue;
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

void DomainFetch::Append(DomainFetch&& other) {
  domains.insert(domains.end(), std::make_move_iterator(other.domains.begin()),
                 std::make_move_iterator(other.domains.end()));
  errors.insert(errors.end(), std::make_move_iterator(other.errors.begin()),
                std::make_move_iterator(other.errors.end()));
  vcpus.merge(other.vcpus);
  job_skipped.insert(job_skipped.end(),
                     std::make_move_iterator(other.job_skipped.begin()),
                     std::make_move_iterator(other.job_skipped.end()));
}

DomainFetch FetchDomains(virConnectPtr connection, const VcpuCache& known_vcpus,
                         TimePoint now, Seconds vcpus_refresh_after,
                         FetchPath path) {
  return DomainFetcher(connection, known_vcpus, now, vcpus_refresh_after)
      .Fetch(path);
}

DomainFetch FetchDomainBatch(virConnectPtr connection,
                             const std::vector<virDomainPtr>& batch,
                             const VcpuCache& known_vcpus, TimePoint now,
                             Seconds vcpus_refresh_after, FetchPath path) {
  return DomainFetcher(connection, known_vcpus, now, vcpus_refresh_after)
      .FetchBatch(batch, path);
}

}  // namespace lme::libvirt
