#include "libvirt/openstack_metadata_reader.h"

#include <libvirt/virterror.h>

#include <cstdlib>

#include "libvirt/deadline_call.h"
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
  Pass pass = CallBefore(
      deadline, connection_, calls_, "domain metadata",
      [known = cache_](virConnectPtr c) { return ReadPass(c, known); });
  reads_ += pass.reads;
  LogProblems(pass);
  cache_ = std::move(pass.cache);
  return std::move(pass.instances);
}

// A problem is logged in the pass that finds it; a cached domain is not read
// again, so its problem is gone from later passes until the domain restarts.
void OpenStackMetadataReader::LogProblems(const Pass& pass) {
  using Problem = std::pair<DomainOpenStackInstance, std::string>;
  problems_.Report(
      pass.problems,
      [](const Problem& p) { return p.first.uuid + "/" + p.second; },
      [&](const Problem& p) {
        logger_.Warn(p.second,
                     {{"domain", p.first.domain}, {"uuid", p.first.uuid}});
      });
}

}  // namespace lme::libvirt
