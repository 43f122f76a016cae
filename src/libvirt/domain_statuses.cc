#include "libvirt/domain_statuses.h"

#include <set>
#include <utility>

#include "core/memory_families.h"
#include "libvirt/deadline_call.h"
#include "libvirt/domain_identity.h"
#include "libvirt/error.h"
#include "libvirt/handles.h"

namespace lme::libvirt {
namespace {

// Through a daemon every call is an RPC (about 0.1 ms each): a few domains
// are looked up one by one, many are found in one list of the active ones.
constexpr std::size_t kLookupsBeforeListing = 16;

std::map<std::string, DomainHandle> LookUp(
    virConnectPtr connection, const std::vector<WantedDefinition>& wanted) {
  std::map<std::string, DomainHandle> handles;
  for (const auto& domain : wanted) {
    DomainHandle handle(
        virDomainLookupByUUIDString(connection, domain.uuid.c_str()));
    if (!handle) {
      if (!IsAlive(connection)) {
        throw ConnectionLost("virDomainLookupByUUIDString: " +
                             LastError().message);
      }
      continue;  // gone since the fetch
    }
    handles.emplace(domain.uuid, std::move(handle));
  }
  return handles;
}

std::map<std::string, DomainHandle> List(
    virConnectPtr connection, const std::vector<WantedDefinition>& wanted) {
  std::set<std::string> uuids;
  for (const auto& domain : wanted) uuids.insert(domain.uuid);
  virDomainPtr* raw = nullptr;
  const int count = virConnectListAllDomains(connection, &raw,
                                             VIR_CONNECT_LIST_DOMAINS_ACTIVE);
  if (count < 0) FailConnectionWide(connection, "virConnectListAllDomains");
  std::map<std::string, DomainHandle> handles;
  for (DomainHandle& handle : AdoptDomainArray(raw, count)) {
    std::string uuid = DomainUuid(handle.get());
    if (uuids.count(uuid) > 0)
      handles.emplace(std::move(uuid), std::move(handle));
  }
  return handles;
}

}  // namespace

DefinitionPass ReadDefinitions(virConnectPtr connection,
                               const std::vector<WantedDefinition>& wanted,
                               DomainDefinitions& definitions, TimePoint now,
                               std::atomic<std::uint64_t>& reads) {
  const auto handles = wanted.size() <= kLookupsBeforeListing
                           ? LookUp(connection, wanted)
                           : List(connection, wanted);
  DefinitionPass pass;
  for (const auto& domain : wanted) {
    const auto handle = handles.find(domain.uuid);
    if (handle == handles.end()) continue;
    ++reads;
    DefinitionRead read = ReadDefinition(connection, handle->second.get());
    if (!read.definition) {
      if (!read.problem.empty())
        pass.problems.emplace_back(domain, read.problem);
      continue;
    }
    // Kept under the start it was read from: a domain started again since
    // the fetch is a new start.
    std::string key = DomainStartKey(handle->second.get(), domain.uuid);
    definitions.Remember(key, {std::move(*read.definition), now});
    pass.read.insert(std::move(key));
  }
  return pass;
}

// One active domain of this scrape, on its way to a status.
struct DomainStatuses::Pending {
  DomainMemory* domain = nullptr;
  std::string key;
  std::shared_ptr<const CachedDefinition> cached;
  std::optional<StatusMemory> previous;
  bool skipped = false;  // its guest fields were not asked for this time
  bool read = false;     // its definition is to be read now
};

DomainStatuses::DomainStatuses(std::shared_ptr<DomainDefinitions> definitions,
                               Logger& logger, StatusTiming timing)
    : definitions_(std::move(definitions)), logger_(logger), timing_(timing) {}

StatsStatus DomainStatuses::StatusFrom(const DomainMemory& domain,
                                       const CachedDefinition* cached,
                                       WallTime now) const {
  StatusInputs inputs;
  if (cached) inputs.balloon = cached->definition.balloon;
  inputs.fields_present = HasBalloonReport(domain.stats);
  inputs.last_update = domain.stats.last_update_seconds;
  inputs.now = now;
  inputs.state = domain.state;
  return DecideStatsStatus(inputs);
}

void DomainStatuses::Decide(std::vector<DomainMemory>& domains,
                            const std::vector<std::string>& job_skipped,
                            Deadline deadline, Connection& connection,
                            BlockingCalls& calls) {
  const TimePoint now = timing_.clock();
  const WallTime wall_now = timing_.wall_clock();
  const std::set<std::string> skipped(job_skipped.begin(), job_skipped.end());
  std::vector<Pending> pending;
  std::vector<WantedDefinition> wanted;
  for (DomainMemory& domain : domains) {
    if (!domain.active) continue;
    Pending p;
    p.domain = &domain;
    p.key = lme::DomainStartKey(domain.uuid, domain.id);
    p.cached = definitions_->Find(p.key);
    if (auto known = memory_.find(p.key); known != memory_.end()) {
      p.previous = known->second;
    }
    p.skipped = skipped.count(domain.uuid) > 0;
    p.read =
        !p.skipped &&
        (!p.cached ||
         DefinitionDue(*p.cached, p.key, now, definitions_->RefreshAfter()) ||
         NeedsConfirmation(StatusFrom(domain, p.cached.get(), wall_now),
                           p.previous, domain.stats.last_update_seconds));
    if (p.read) wanted.push_back({domain.uuid, p.key, domain.name});
    pending.push_back(std::move(p));
  }
  const DefinitionPass pass =
      ReadWanted(std::move(wanted), deadline, connection, calls);
  LogProblems(pass);

  std::map<std::string, StatusMemory> memory;
  std::set<std::string> keys;
  for (Pending& p : pending) {
    keys.insert(p.key);
    const bool fresh = pass.read.count(p.key) > 0;
    if (fresh) p.cached = definitions_->Find(p.key);
    DomainMemory& domain = *p.domain;
    domain.stats_status = p.skipped && p.previous
                              ? p.previous->status
                              : StatusFrom(domain, p.cached.get(), wall_now);
    if (p.cached && p.cached->definition.balloon.device) {
      domain.stats_period_seconds = p.cached->definition.balloon.period_seconds;
    }
    // A status counts as settled once it came from this scrape's stats and,
    // where a read was due, from the definition just read; otherwise the
    // last settled one is kept, so the next scrape tries again.
    if (!p.skipped && (!p.read || fresh)) {
      memory[p.key] = {*domain.stats_status, domain.stats.last_update_seconds};
    } else if (p.previous) {
      memory[p.key] = *p.previous;
    }
  }
  memory_ = std::move(memory);
  definitions_->KeepOnly(keys);
}

DefinitionPass DomainStatuses::ReadWanted(std::vector<WantedDefinition> wanted,
                                          Deadline deadline,
                                          Connection& connection,
                                          BlockingCalls& calls) {
  if (wanted.empty()) return {};
  try {
    auto pass = connection.Use([&](virConnectPtr handle) {
      return TryCallBefore(deadline, calls, handle,
                           [wanted, definitions = definitions_, reads = reads_,
                            now = timing_.clock()](virConnectPtr c) {
                             return ReadDefinitions(c, wanted, *definitions,
                                                    now, *reads);
                           });
    });
    if (pass) return std::move(*pass);
    logger_.Debug("domain definitions did not arrive in time",
                  {{"wanted", std::to_string(wanted.size())}});
  } catch (const LibvirtUnavailable& error) {
    logger_.Debug("cannot read domain definitions", {{"err", error.what()}});
  }
  return {};
}

void DomainStatuses::LogProblems(const DefinitionPass& pass) {
  using Problem = std::pair<WantedDefinition, std::string>;
  problems_.Report(
      pass.problems,
      [](const Problem& p) { return p.first.uuid + "/" + p.second; },
      [&](const Problem& p) {
        logger_.Warn(p.second,
                     {{"domain", p.first.name}, {"uuid", p.first.uuid}});
      });
}

}  // namespace lme::libvirt
