#include "libvirt/openstack_metadata_reader.h"

#include <libvirt/virterror.h>

#include <cstdlib>

#include "libvirt/domain_identity.h"
#include "libvirt/error.h"

namespace lme::libvirt {
namespace {

using Pass = OpenStackMetadataReader::Pass;

struct ReadResult {
  // False after an error worth retrying: the domain is not cached.
  bool cacheable = true;
  // Empty when the domain carries no usable Nova metadata.
  std::optional<OpenStackInstance> instance;
  std::string problem;  // what to log, if anything
};

// Throws only when the connection died.
ReadResult ReadMetadata(virConnectPtr connection, virDomainPtr domain) {
  char* xml = virDomainGetMetadata(domain, VIR_DOMAIN_METADATA_ELEMENT,
                                   kNovaMetadataNamespace, 0);
  if (xml == nullptr) {
    const Error error = LastError();
    if (error.code == VIR_ERR_NO_DOMAIN_METADATA ||
        error.Kind() != LibvirtErrorKind::kOther) {
      return {};
    }
    if (!IsAlive(connection)) {
      throw ConnectionLost("virDomainGetMetadata: " + error.message);
    }
    return {false, std::nullopt,
            "cannot read domain metadata: " + error.message};
  }
  const std::string text(xml);
  std::free(xml);
  auto instance = ParseNovaInstance(text);
  if (!instance)
    return {true, std::nullopt, "ignoring malformed Nova metadata"};
  return {true, std::move(instance), {}};
}

// Runs on a thread of its own with its own copy of the cache.
Pass ReadPass(virConnectPtr connection,
              const OpenStackMetadataReader::Cache& known) {
  virDomainPtr* raw = nullptr;
  const int count = virConnectListAllDomains(connection, &raw,
                                             VIR_CONNECT_LIST_DOMAINS_ACTIVE);
  if (count < 0) FailConnectionWide(connection, "virConnectListAllDomains");
  Pass pass;
  for (const DomainHandle& handle : AdoptDomainArray(raw, count)) {
    DomainOpenStackInstance entry;
    entry.domain = DomainName(handle.get());
    entry.uuid = DomainUuid(handle.get());
    const std::string key = DomainStartKey(handle.get(), entry.uuid);
    std::optional<OpenStackInstance> instance;
    if (auto cached = known.find(key); cached != known.end()) {
      instance = cached->second;
    } else {
      ++pass.reads;
      ReadResult read = ReadMetadata(connection, handle.get());
      if (!read.problem.empty())
        pass.problems.emplace_back(entry, read.problem);
      if (!read.cacheable) continue;
      instance = std::move(read.instance);
    }
    // Only keys seen in this pass stay cached: gone domains are forgotten.
    pass.cache.emplace(key, instance);
    if (!instance) continue;
    entry.instance = std::move(*instance);
    pass.instances.push_back(std::move(entry));
  }
  return pass;
}

}  // namespace

OpenStackMetadataReader::OpenStackMetadataReader(Connection& connection,
                                                 BlockingCalls& calls,
                                                 Logger& logger)
    : connection_(connection), calls_(calls), logger_(logger) {}

std::vector<DomainOpenStackInstance>
OpenStackMetadataReader::FetchOpenStackMetadata(Deadline deadline) {
  Pass pass = connection_.Use([&](virConnectPtr connection) {
    auto done = calls_.Run<Pass>(
        [shared = ShareConnection(connection), known = cache_] {
          return ReadPass(shared.get(), known);
        },
        deadline);
    if (!done)
      throw CollectionTimedOut("domain metadata did not arrive in time");
    return std::move(*done);
  });
  reads_ += pass.reads;
  LogProblems(pass);
  cache_ = std::move(pass.cache);
  return std::move(pass.instances);
}

void OpenStackMetadataReader::LogProblems(const Pass& pass) {
  for (const auto& [entry, problem] : pass.problems) {
    if (!problems_.First(entry.uuid + "/" + problem)) continue;
    logger_.Warn(problem, {{"domain", entry.domain}, {"uuid", entry.uuid}});
  }
}

}  // namespace lme::libvirt
