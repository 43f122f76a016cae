#include "libvirt/domain_memory_reader.h"

#include <array>
#include <utility>

#include "core/stats_parsing.h"
#include "libvirt/error.h"

namespace lme::libvirt {
namespace {

// The connection itself broke (the daemon went away): worth one reconnect
// within the same scrape.
class ConnectionLost : public LibvirtUnavailable {
 public:
  using LibvirtUnavailable::LibvirtUnavailable;
};

constexpr unsigned int kActiveNoWait =
    VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE |
    VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT;

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

DomainMemory Identify(virDomainPtr domain) {
  DomainMemory identity;
  if (const char* name = virDomainGetName(domain)) identity.name = name;
  std::array<char, VIR_UUID_STRING_BUFLEN> uuid{};
  if (virDomainGetUUIDString(domain, uuid.data()) == 0) {
    identity.uuid = uuid.data();
  }
  return identity;
}

bool IsAlive(virConnectPtr connection) {
  return virConnectIsAlive(connection) == 1;
}

// A call that concerns every domain failed: say whether the connection died.
[[noreturn]] void FailConnectionWide(virConnectPtr connection,
                                     const std::string& call) {
  const Error error = LastError();
  const std::string what = call + ": " + error.message;
  if (!IsAlive(connection)) throw ConnectionLost(what);
  throw LibvirtUnavailable(what);
}

}  // namespace

DomainMemoryReader::DomainMemoryReader(std::string uri, Logger& logger)
    : uri_(std::move(uri)), logger_(logger) {}

std::vector<DomainMemory> DomainMemoryReader::FetchDomainMemory() {
  failing_this_scrape_.clear();
  for (int attempt = 0;; ++attempt) {
    const bool fresh = EnsureConnected();
    try {
      auto domains = FetchFrom(connection_.get());
      domain_errors_.KeepOnly(failing_this_scrape_);
      return domains;
    } catch (const ConnectionLost& lost) {
      connection_.reset();
      if (fresh || attempt > 0) throw;
      logger_.Info("libvirt connection lost, reconnecting",
                   {{"uri", uri_}, {"err", lost.what()}});
    }
  }
}

bool DomainMemoryReader::EnsureConnected() {
  if (connection_ && IsAlive(connection_.get())) return false;
  connection_.reset(virConnectOpenReadOnly(uri_.c_str()));
  if (!connection_) {
    throw LibvirtUnavailable("cannot open libvirt URI " + uri_ + ": " +
                             LastError().message);
  }
  logger_.Debug("connected to libvirt", {{"uri", uri_}});
  return true;
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
      connection, VIR_DOMAIN_STATS_BALLOON, &raw, kActiveNoWait);
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
    const virDomainStatsRecord& record = *raw[i];
    DomainMemory domain = Identify(record.dom);
    const StatFields fields = TypedParamFields(record.params, record.nparams);
    if (HasBalloonFields(fields)) {
      domain.stats = ParseBalloonRecord(fields);
    } else {
      // The driver left the balloon group out of the bulk call (the test
      // driver does): ask this domain directly.
      auto stats = ReadDomainStats(connection, record.dom, domain);
      if (!stats) continue;
      domain.stats = std::move(*stats);
    }
    domains.push_back(std::move(domain));
  }
  return domains;
}

std::vector<DomainMemory> DomainMemoryReader::FetchPerDomain(
    virConnectPtr connection) {
  virDomainPtr* raw = nullptr;
  const int count = virConnectListAllDomains(connection, &raw,
                                             VIR_CONNECT_LIST_DOMAINS_ACTIVE);
  if (count < 0) FailConnectionWide(connection, "virConnectListAllDomains");
  std::vector<DomainMemory> domains;
  for (const DomainHandle& handle : AdoptDomainArray(raw, count)) {
    DomainMemory domain = Identify(handle.get());
    auto stats = ReadDomainStats(connection, handle.get(), domain);
    if (!stats) continue;
    domain.stats = std::move(*stats);
    domains.push_back(std::move(domain));
  }
  return domains;
}

std::optional<MemoryStats> DomainMemoryReader::ReadDomainStats(
    virConnectPtr connection, virDomainPtr domain,
    const DomainMemory& identity) {
  std::array<virDomainMemoryStatStruct, VIR_DOMAIN_MEMORY_STAT_NR> raw{};
  const int count =
      virDomainMemoryStats(domain, raw.data(), VIR_DOMAIN_MEMORY_STAT_NR, 0);
  if (count < 0) {
    const Error error = LastError();
    if (!KeepAfterError(connection, identity, "virDomainMemoryStats", error)) {
      return std::nullopt;
    }
    return MemoryStats{};
  }
  StatFields fields;
  for (int i = 0; i < count; ++i) {
    if (const char* name = MemoryStatTagName(raw[i].tag)) {
      fields.push_back({name, raw[i].val});
    }
  }
  MemoryStats stats = ParseMemoryStatFields(fields);
  // The bulk call reports balloon.maximum; this path has to ask for it.
  if (const unsigned long maximum = virDomainGetMaxMemory(domain)) {
    stats.maximum_kib = maximum;
  }
  return stats;
}

bool DomainMemoryReader::KeepAfterError(virConnectPtr connection,
                                        const DomainMemory& identity,
                                        const std::string& call,
                                        const Error& error) {
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
