#include "libvirt/openstack_metadata_reader.h"

#include <chrono>

#include "libvirt/deadline_call.h"
#include "libvirt/domain_identity.h"

namespace lme::libvirt {
namespace {

using Pass = OpenStackMetadataReader::Pass;

// The definition kept for this domain start, else read now and kept. Null
// when the domain is gone or could not be read (`problem` says why).
std::shared_ptr<const CachedDefinition> DefinitionOf(
    virConnectPtr connection, virDomainPtr domain, const std::string& key,
    DomainDefinitions& definitions, Pass& pass, std::string& problem) {
  if (auto kept = definitions.Find(key)) return kept;
  ++pass.reads;
  DefinitionRead read = ReadDefinition(connection, domain);
  if (!read.definition) {
    problem = std::move(read.problem);
    return nullptr;
  }
  definitions.Remember(
      key, {std::move(*read.definition), std::chrono::steady_clock::now()});
  return definitions.Find(key);
}

// Runs on a thread of its own; throws only when the connection died.
Pass ReadPass(virConnectPtr connection, DomainDefinitions& definitions) {
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
    pass.keys.insert(key);
    std::string problem;
    const auto kept =
        DefinitionOf(connection, handle.get(), key, definitions, pass, problem);
    // Reported in every pass while it lasts; LogOnce logs it when it starts.
    if (kept && kept->definition.nova_malformed) {
      problem = "ignoring malformed Nova metadata";
    }
    if (!problem.empty()) pass.problems.emplace_back(entry, problem);
    if (!kept || !kept->definition.nova) continue;
    entry.instance = *kept->definition.nova;
    pass.instances.push_back(std::move(entry));
  }
  return pass;
}

}  // namespace

OpenStackMetadataReader::OpenStackMetadataReader(
    Connection& connection, BlockingCalls& calls, Logger& logger,
    std::shared_ptr<DomainDefinitions> definitions)
    : connection_(connection),
      calls_(calls),
      logger_(logger),
      definitions_(std::move(definitions)) {}

std::vector<DomainOpenStackInstance>
OpenStackMetadataReader::FetchOpenStackMetadata(Deadline deadline) {
  Pass pass = CallBefore(deadline, connection_, calls_, "domain metadata",
                         [definitions = definitions_](virConnectPtr c) {
                           return ReadPass(c, *definitions);
                         });
  reads_ += pass.reads;
  LogProblems(pass);
  // Only domain starts seen in this pass stay kept: gone domains are
  // forgotten.
  definitions_->KeepOnly(pass.keys);
  return std::move(pass.instances);
}

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
