// The reader against real libvirt (the test driver), checked value by value
// against what virsh reads through virDomainMemoryStats.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "catch_compat.h"
#include "collector/domain_memory_collector.h"
#include "collector/exporter_collectable.h"
#include "collector_list.h"
#include "core/balloon_stats.h"
#include "core/memory_families.h"
#include "core/stats_parsing.h"
#include "libvirt/domain_batches.h"
#include "libvirt/domain_identity.h"
#include "libvirt/domain_memory_reader.h"
#include "libvirt/error.h"
#include "libvirt/handles.h"
#include "libvirt/node_memory_reader.h"
#include "libvirt/openstack_metadata_reader.h"
#include "test_support.h"

namespace lme {
namespace {

namespace fs = std::filesystem;

const std::string kFixtureUri = std::string("test://") + LME_FIXTURE_NODE;
const std::string kOpenStackUri =
    std::string("test://") + LME_OPENSTACK_FIXTURE_NODE;

// Generous: the test driver answers in microseconds, a loaded CI machine
// must not turn that into a failure.
Deadline Soon() {
  return std::chrono::steady_clock::now() + std::chrono::seconds(30);
}

std::string Run(const std::string& command) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  for (std::size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) {
    output.append(buffer, n);
  }
  REQUIRE(pclose(pipe) == 0);
  return output;
}

std::string Virsh(const std::string& uri, const std::string& command) {
  return Run(std::string(LME_VIRSH) + " -q -c '" + uri + "' " + command);
}

std::set<std::string> Lines(const std::string& text) {
  std::set<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.insert(line);
  }
  return lines;
}

// `virsh dommemstat` prints "name value" lines with the tag names libvirt's
// memory stats API uses; "actual" is the balloon's current size.
MemoryStats VirshMemoryStats(const std::string& uri, const std::string& uuid) {
  StatFields fields;
  std::istringstream in(Virsh(uri, "dommemstat " + uuid));
  std::string name;
  std::uint64_t value = 0;
  while (in >> name >> value) {
    fields.push_back({name == "actual" ? "current" : name, value});
  }
  return ParseMemoryStatFields(fields);
}

std::uint64_t VirshMaxMemoryKib(const std::string& uri,
                                const std::string& uuid) {
  std::istringstream in(Virsh(uri, "dominfo " + uuid));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Max memory:", 0) == 0) {
      return std::stoull(line.substr(line.find(':') + 1));
    }
  }
  FAIL("virsh dominfo printed no max memory");
  return 0;
}

std::map<std::string, DomainMemory> ByUuid(std::vector<DomainMemory> domains) {
  std::map<std::string, DomainMemory> by_uuid;
  for (auto& domain : domains) by_uuid[domain.uuid] = std::move(domain);
  return by_uuid;
}

std::size_t Occurrences(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

struct Reader {
  std::ostringstream log;
  Logger logger{LogLevel::kDebug, log};
  libvirt::Connection connection;
  BlockingCalls calls;
  libvirt::DomainMemoryReader reader;
  // `concurrency` as --libvirt.max-concurrent-calls: 1 is one bulk call for
  // all domains, more are batches fetched at once.
  explicit Reader(const std::string& uri, int concurrency = 4,
                  libvirt::FetchPath path = libvirt::FetchPath::kBulk)
      : connection(uri, logger),
        calls(concurrency),
        reader(connection, calls, logger, Timing(path)) {
    libvirt::SilenceDefaultErrorPrinting();
  }

  static libvirt::DomainReaderTiming Timing(libvirt::FetchPath path) {
    libvirt::DomainReaderTiming timing;
    timing.path = path;
    // The test driver runs in this process: the batch path is forced.
    timing.batches_in_process = true;
    return timing;
  }
};

// Every field of two readings of a domain, named when they differ.
void CheckSameDomain(const DomainMemory& serial, const DomainMemory& other) {
  INFO(serial.name);
  CHECK(other.name == serial.name);
  CHECK(other.uuid == serial.uuid);
  CHECK(other.active == serial.active);
  CHECK(other.state == serial.state);
  CHECK(other.vcpus == serial.vcpus);
  CHECK(other.timed_out == serial.timed_out);
  for (const auto& stat : kBalloonStats) {
    INFO(stat.name);
    CHECK(other.stats.*stat.member == serial.stats.*stat.member);
  }
}

void CheckSameDomains(const std::map<std::string, DomainMemory>& serial,
                      const std::map<std::string, DomainMemory>& other) {
  REQUIRE(other.size() == serial.size());
  for (const auto& [uuid, domain] : serial) {
    REQUIRE(other.count(uuid) == 1);
    CheckSameDomain(domain, other.at(uuid));
  }
}

// A node of `count` test-driver domains, sizes and balloons varied (every
// seventh without a balloon, every fifth shut off).
std::string WriteVariedNode(const fs::path& dir, int count) {
  fs::create_directories(dir);
  const fs::path node = dir / ("node-" + std::to_string(count) + ".xml");
  std::ofstream out(node);
  out << "<node>";
  for (int i = 0; i < count; ++i) {
    char uuid[37];
    std::snprintf(uuid, sizeof uuid, "b0000000-0000-4000-8000-%012d", i);
    const int mib = 256 * (1 + i % 9);
    out << "<domain type='test'><name>varied-" << i << "</name><uuid>" << uuid
        << "</uuid><memory unit='MiB'>" << mib
        << "</memory><currentMemory unit='MiB'>" << mib - 128 * (i % 2)
        << "</currentMemory><vcpu>" << 1 + i % 4
        << "</vcpu><os><type>hvm</type></os><devices>"
        << (i % 7 == 6 ? "<memballoon model='none'/>"
                       : "<memballoon model='virtio'/>")
        << "</devices></domain>";
  }
  out << "</node>\n";
  return "test://" + node.string();
}

TEST_CASE("the reader lists every domain and marks the active ones",
          "[libvirt][virsh]") {
  Reader r(kFixtureUri);
  const auto domains = ByUuid(r.reader.FetchDomainMemory(Soon()));
  std::set<std::string> all;
  std::set<std::string> active;
  for (const auto& [uuid, domain] : domains) {
    all.insert(uuid);
    if (domain.active) active.insert(uuid);
  }
  CHECK(all == Lines(Virsh(kFixtureUri, "list --all --uuid")));
  CHECK(active == Lines(Virsh(kFixtureUri, "list --uuid")));
  CHECK(active.size() == 9);
  const DomainMemory& stopped =
      domains.at("a0000000-0000-4000-8000-000000000007");
  CHECK_FALSE(stopped.active);
  CHECK(stopped.state == "shutoff");
  CHECK(domains.at("a0000000-0000-4000-8000-000000000006").state == "paused");
  CHECK(domains.at("a0000000-0000-4000-8000-000000000001").state == "running");
  CHECK(domains.at("a0000000-0000-4000-8000-000000000008").name ==
        "quote\"back\\slash");
  CHECK(domains.at("a0000000-0000-4000-8000-000000000009").name == "new\nline");
}

TEST_CASE("state and vCPUs equal what virsh reports", "[libvirt][virsh]") {
  Reader r(kFixtureUri);
  for (const auto& [uuid, domain] :
       ByUuid(r.reader.FetchDomainMemory(Soon()))) {
    INFO(domain.name);
    const std::string info = Virsh(kFixtureUri, "dominfo " + uuid);
    CHECK(info.find("CPU(s):         " + std::to_string(*domain.vcpus) +
                    "\n") != std::string::npos);
    const std::string state = Virsh(kFixtureUri, "domstate " + uuid);
    const std::string expected =
        domain.state == "shutoff" ? "shut off" : domain.state;
    CHECK(state.rfind(expected, 0) == 0);
  }
}

TEST_CASE("every value equals what virDomainMemoryStats returns",
          "[libvirt][virsh]") {
  Reader r(kFixtureUri);
  for (const auto& [uuid, domain] :
       ByUuid(r.reader.FetchDomainMemory(Soon()))) {
    INFO(domain.name);
    if (!domain.active) continue;  // a shut-off guest has no stats to ask for
    const MemoryStats expected = VirshMemoryStats(kFixtureUri, uuid);
    for (const auto& stat : kBalloonStats) {
      if (!stat.has_tag) continue;  // not a virDomainMemoryStats field
      INFO(stat.name);
      CHECK(domain.stats.*stat.member == expected.*stat.member);
    }
    CHECK(domain.stats.maximum_kib == VirshMaxMemoryKib(kFixtureUri, uuid));
  }
}

TEST_CASE("guests with a balloon report, those without do not", "[libvirt]") {
  Reader r(kFixtureUri);
  const auto domains = ByUuid(r.reader.FetchDomainMemory(Soon()));
  for (const char* reporting : {"a0000000-0000-4000-8000-000000000001",
                                "a0000000-0000-4000-8000-000000000003",
                                "a0000000-0000-4000-8000-000000000006"}) {
    INFO(reporting);
    CHECK(HasBalloonReport(domains.at(reporting).stats));
  }
  for (const char* silent : {"a0000000-0000-4000-8000-000000000004",
                             "a0000000-0000-4000-8000-000000000005"}) {
    INFO(silent);
    const MemoryStats& stats = domains.at(silent).stats;
    CHECK_FALSE(HasBalloonReport(stats));
    CHECK_FALSE(stats.available_kib.has_value());
    CHECK_FALSE(stats.unused_kib.has_value());
    CHECK_FALSE(stats.usable_kib.has_value());
  }
  // Different memory sizes give different numbers: 1024 MiB current.
  CHECK(
      domains.at("a0000000-0000-4000-8000-000000000002").stats.available_kib ==
      4096u * 1024);
}

TEST_CASE("repeated fetches reuse the connection and agree", "[libvirt]") {
  Reader r(kFixtureUri);
  const auto first = ByUuid(r.reader.FetchDomainMemory(Soon()));
  const auto second = ByUuid(r.reader.FetchDomainMemory(Soon()));
  REQUIRE(first.size() == second.size());
  for (const auto& [uuid, domain] : first) {
    CHECK(second.at(uuid).stats.available_kib == domain.stats.available_kib);
  }
  // One connection for both fetches.
  std::size_t connects = 0;
  const std::string log = r.log.str();
  for (auto pos = log.find("connected to libvirt"); pos != std::string::npos;
       pos = log.find("connected to libvirt", pos + 1)) {
    ++connects;
  }
  CHECK(connects == 1);
}

TEST_CASE("batches fetched at once give what one call gives, domain by domain",
          "[libvirt][batches]") {
  const fs::path dir = fs::temp_directory_path() / "lme-integration-batches";
  fs::remove_all(dir);
  for (const std::string& uri : {kFixtureUri, WriteVariedNode(dir, 57)}) {
    INFO(uri);
    Reader serial(uri, 1);
    const auto expected = ByUuid(serial.reader.FetchDomainMemory(Soon()));
    for (int concurrency : {2, 3, 4, 16, 64}) {
      INFO("concurrency " << concurrency);
      Reader batched(uri, concurrency);
      // Twice: the second fetch runs on the handles the first one listed.
      for (int scrape = 0; scrape < 2; ++scrape) {
        CheckSameDomains(expected,
                         ByUuid(batched.reader.FetchDomainMemory(Soon())));
      }
      CHECK(batched.log.str().find("level=warn") == std::string::npos);
    }
  }
  fs::remove_all(dir);
}

TEST_CASE("the per-domain path gives what the bulk call gives, in batches too",
          "[libvirt][batches]") {
  Reader bulk(kFixtureUri, 1);
  const auto expected = ByUuid(bulk.reader.FetchDomainMemory(Soon()));
  for (int concurrency : {1, 4}) {
    INFO("concurrency " << concurrency);
    Reader per_domain(kFixtureUri, concurrency, libvirt::FetchPath::kPerDomain);
    CheckSameDomains(expected,
                     ByUuid(per_domain.reader.FetchDomainMemory(Soon())));
  }
}

TEST_CASE("in-process, batches share the reader's one connection",
          "[libvirt][batches]") {
  // Another connection to a test:// node would be another copy of it.
  Reader r(kFixtureUri, 4);
  r.reader.FetchDomainMemory(Soon());
  r.reader.FetchDomainMemory(Soon());
  CHECK_FALSE(r.connection.ThroughDaemon());
  CHECK(Occurrences(r.log.str(), "connected to libvirt") == 1);
}

TEST_CASE("a batch connection is in use from its call's making to its end",
          "[libvirt][batches]") {
  // What decides whether the next scrape may have it: a hedged batch keeps
  // the connection of the call that answered, not the one still running.
  Reader r(kFixtureUri, 4);
  r.connection.Use([](virConnectPtr connection) {
    libvirt::BatchConnection batch(libvirt::ShareConnection(connection));
    CHECK_FALSE(batch.InUse());
    batch.Reserve();  // the call is made, no worker runs it yet
    CHECK(batch.InUse());
    {
      const libvirt::BatchConnection::Use use(batch);
      CHECK(batch.HandlesFor(libvirt::ListDomains(connection)).size() > 0);
      CHECK(batch.InUse());
    }
    CHECK_FALSE(batch.InUse());
    return 0;
  });
}

TEST_CASE("domain UUIDs read as libvirt writes them", "[libvirt]") {
  libvirt::ConnectHandle connection(
      virConnectOpenReadOnly(kFixtureUri.c_str()));
  REQUIRE(connection);
  virDomainPtr* domains = nullptr;
  const int count = virConnectListAllDomains(connection.get(), &domains, 0);
  REQUIRE(count > 0);
  for (libvirt::DomainHandle& domain :
       libvirt::AdoptDomainArray(domains, count)) {
    std::array<char, VIR_UUID_STRING_BUFLEN> expected{};
    REQUIRE(virDomainGetUUIDString(domain.get(), expected.data()) == 0);
    CHECK(libvirt::DomainUuid(domain.get()) == expected.data());
  }
}

TEST_CASE("a URI that cannot be opened throws, naming the URI", "[libvirt]") {
  Reader r("test:///nonexistent/lme/node.xml");
  try {
    r.reader.FetchDomainMemory(Soon());
    FAIL("fetch succeeded without libvirt");
  } catch (const LibvirtUnavailable& e) {
    CHECK(std::string(e.what()).find("test:///nonexistent/lme/node.xml") !=
          std::string::npos);
  }
}

TEST_CASE("a URI that becomes reachable works on the next fetch", "[libvirt]") {
  const fs::path dir = fs::temp_directory_path() / "lme-integration-retry";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path node = dir / "node.xml";
  Reader r("test://" + node.string());
  CHECK_THROWS_AS(r.reader.FetchDomainMemory(Soon()), LibvirtUnavailable);
  fs::copy_file(LME_FIXTURE_NODE, node);
  CHECK(r.reader.FetchDomainMemory(Soon()).size() == 10);
  fs::remove_all(dir);
}

// The exporter's own collector list over real libvirt, as main.cc builds it.
struct Exporter {
  std::ostringstream log;
  Logger logger{LogLevel::kDebug, log};
  libvirt::Connection connection;
  BlockingCalls calls{4};
  LibvirtAccess access{connection, calls, logger};
  Collectors collectors;
  ExporterCollectable collectable;

  Exporter(const std::string& uri, const std::set<std::string>& enabled)
      : connection(uri, logger),
        collectors(RegisteredCollectors(), enabled, access),
        collectable(collectors.Entries(), {"test", "test"}, logger) {
    libvirt::SilenceDefaultErrorPrinting();
  }

  std::map<std::string, prometheus::MetricFamily> Scrape(
      const CollectorSelection& selection) {
    REQUIRE(selection.error.empty());
    std::map<std::string, prometheus::MetricFamily> by_name;
    for (auto& family :
         ToMetricFamilies(*collectable.Collect(Soon(), selection))) {
      by_name[family.name] = std::move(family);
    }
    return by_name;
  }
};

TEST_CASE("the collector list over real libvirt reports up and domains",
          "[libvirt]") {
  Exporter e(kFixtureUri, {"domain_memory", "node_memory"});
  auto by_name = e.Scrape(e.collectable.SelectAll());
  CHECK(by_name.at("libvirt_up").metric.at(0).gauge.value == 1);
  CHECK(by_name.at("libvirt_domains").metric.at(0).gauge.value == 9);
  CHECK(by_name.at("libvirt_domain_memory_stats_reported").metric.size() == 9);
  // Seven guests report; beta's values are left out (no stats period).
  CHECK(by_name.at("libvirt_domain_memory_stats_used_bytes").metric.size() ==
        6);
  CHECK(by_name.at("libvirt_domain_memory_stats_status").metric.size() == 9);
  CHECK(by_name.count("libvirt_node_memory_total_bytes") == 1);
  CHECK(by_name.at("libvirt_memory_exporter_scrape_collector_success")
            .metric.size() == 2);
  CHECK(e.log.str().find("level=warn") == std::string::npos);
  CHECK(e.log.str().find("level=error") == std::string::npos);
}

TEST_CASE("collectors left out make no libvirt call", "[libvirt]") {
  // A URI that cannot be opened: any libvirt call would fail loudly.
  const std::string nowhere = "test:///nonexistent/lme/node.xml";
  SECTION("switched off by the flags") {
    Exporter e(nowhere, {});
    auto by_name = e.Scrape(e.collectable.SelectAll());
    CHECK(by_name.count("libvirt_up") == 0);
    CHECK(by_name.count("libvirt_memory_exporter_build_info") == 1);
    CHECK(e.log.str().find("collector failed") == std::string::npos);
  }
  SECTION("excluded by the URL") {
    Exporter e(nowhere, {"domain_memory", "node_memory"});
    e.Scrape(e.collectable.Select({}, {"domain_memory", "node_memory"}));
    CHECK(e.log.str().find("collector failed") == std::string::npos);
    // The same exporter does call libvirt when they are selected.
    auto by_name = e.Scrape(e.collectable.SelectAll());
    CHECK(by_name.at("libvirt_up").metric.at(0).gauge.value == 0);
    CHECK(e.log.str().find("collector failed") != std::string::npos);
  }
  SECTION("only node memory: one connection, no domain reads") {
    Exporter e(kFixtureUri, {"node_memory"});
    auto by_name = e.Scrape(e.collectable.SelectAll());
    CHECK(by_name.at("libvirt_up").metric.at(0).gauge.value == 1);
    CHECK(by_name.count("libvirt_node_memory_total_bytes") == 1);
    CHECK(by_name.count("libvirt_domains") == 0);
    CHECK(by_name.count("libvirt_domain_info") == 0);
  }
}

TEST_CASE(
    "host memory: the total from virNodeGetInfo, unsupported stats "
    "left out",
    "[libvirt][virsh]") {
  std::ostringstream log;
  Logger logger(LogLevel::kDebug, log);
  libvirt::Connection connection(kFixtureUri, logger);
  BlockingCalls calls(4);
  libvirt::NodeMemoryReader reader(connection, calls);
  const NodeMemory node = reader.FetchNodeMemory(Soon());
  // The test driver does not implement virNodeGetMemoryStats: a real
  // "not supported" that must leave the fields out, not fail.
  const std::string nodeinfo = Virsh(kFixtureUri, "nodeinfo");
  const auto at = nodeinfo.find("Memory size:");
  REQUIRE(at != std::string::npos);
  CHECK(node.total_kib ==
        std::stoull(nodeinfo.substr(nodeinfo.find(':', at) + 1)));
  CHECK_FALSE(node.free_kib.has_value());
  CHECK_FALSE(node.buffers_kib.has_value());
  CHECK_FALSE(node.cached_kib.has_value());
}

struct OpenStack {
  std::ostringstream log;
  Logger logger{LogLevel::kDebug, log};
  libvirt::Connection connection{kOpenStackUri, logger};
  BlockingCalls calls{4};
  libvirt::OpenStackMetadataReader reader{connection, calls, logger};
};

TEST_CASE("Nova metadata becomes instance info, others are skipped",
          "[libvirt][openstack]") {
  OpenStack o;
  const auto instances = o.reader.FetchOpenStackMetadata(Soon());
  REQUIRE(instances.size() == 2);
  std::map<std::string, OpenStackInstance> by_domain;
  for (const auto& entry : instances) by_domain[entry.domain] = entry.instance;
  const OpenStackInstance& web = by_domain.at("instance-0000000a");
  CHECK(web.name == "web-frontend-1");
  CHECK(web.flavor == "m1.small");
  CHECK(web.project_id == "3e2d1c0b9a8f47e6d5c4b3a2f1e0d9c8");
  CHECK(web.project_name == "webshop");
  CHECK(web.user_id == "9f1c2d3e4f5a46b7a8b9c0d1e2f3a4b5");
  CHECK(web.user_name == "alice");
  CHECK(by_domain.at("instance-0000000b").name == "db \"primary\"");
  // The half-written one is logged; the plain and foreign ones are silent.
  CHECK(o.log.str().find("domain=instance-0000000d") != std::string::npos);
  CHECK(o.log.str().find("plain-libvirt-guest") == std::string::npos);
  CHECK(o.log.str().find("someone-elses-metadata") == std::string::npos);
}

TEST_CASE("metadata is read once per domain, not per scrape",
          "[libvirt][openstack]") {
  OpenStack o;
  o.reader.FetchOpenStackMetadata(Soon());
  const std::uint64_t after_first = o.reader.MetadataReads();
  CHECK(after_first == 5);
  for (int scrape = 0; scrape < 5; ++scrape) {
    CHECK(o.reader.FetchOpenStackMetadata(Soon()).size() == 2);
  }
  CHECK(o.reader.MetadataReads() == after_first);
  const std::string log = o.log.str();
  CHECK(log.find("malformed") == log.rfind("malformed"));  // logged once
}

// A test-driver domain; Nova metadata that lacks the owner when `broken`.
std::string NovaDomain(const std::string& name, const std::string& uuid,
                       bool broken) {
  const std::string owner =
      broken ? ""
             : "<nova:owner><nova:user uuid='u1'>alice</nova:user>"
               "<nova:project uuid='p1'>shop</nova:project></nova:owner>";
  return "<domain type='test'><name>" + name + "</name><uuid>" + uuid +
         "</uuid><metadata><nova:instance "
         "xmlns:nova='http://openstack.org/xmlns/libvirt/nova/1.1'>"
         "<nova:name>" +
         name + "</nova:name><nova:flavor name='m1.tiny'/>" + owner +
         "</nova:instance></metadata><memory unit='MiB'>512</memory>"
         "<vcpu>1</vcpu><os><type>hvm</type></os></domain>";
}

void WriteNode(const fs::path& file, const std::string& domains) {
  std::ofstream(file) << "<node>" << domains << "</node>\n";
}

// The test driver reads its node file when the connection opens, so a new
// file and a reconnect stand for a host whose domains changed.
TEST_CASE("a metadata problem that ends and comes back is logged again",
          "[libvirt][openstack]") {
  const fs::path dir = fs::temp_directory_path() / "lme-integration-nova";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path node = dir / "node.xml";
  const std::string broken =
      NovaDomain("instance-1", "0b3c4d5e-0000-4000-8000-000000000101", true);
  const std::string other =
      NovaDomain("instance-2", "0b3c4d5e-0000-4000-8000-000000000102", false);
  WriteNode(node, broken);
  std::ostringstream log;
  Logger logger(LogLevel::kInfo, log);
  libvirt::Connection connection("test://" + node.string(), logger);
  BlockingCalls calls(4);
  libvirt::OpenStackMetadataReader reader(connection, calls, logger);
  const std::string warning = "ignoring malformed Nova metadata";

  reader.FetchOpenStackMetadata(Soon());
  reader.FetchOpenStackMetadata(Soon());
  CHECK(Occurrences(log.str(), warning) == 1);  // once while it lasts

  WriteNode(node, other);  // the broken guest is gone
  connection.Reopen();
  CHECK(reader.FetchOpenStackMetadata(Soon()).size() == 1);

  WriteNode(node, broken);  // and back, still broken
  connection.Reopen();
  reader.FetchOpenStackMetadata(Soon());
  CHECK(Occurrences(log.str(), warning) == 2);
  fs::remove_all(dir);
}

// --- stats status: the balloon's device and period from each domain's
// definition, read once per domain start.

std::map<std::string, std::string> StatusLabels(
    const prometheus::MetricFamily& family) {
  std::map<std::string, std::string> by_domain;
  for (const auto& metric : family.metric) {
    std::map<std::string, std::string> labels;
    for (const auto& label : metric.label) labels[label.name] = label.value;
    by_domain[labels["domain"]] = labels["status"];
  }
  return by_domain;
}

// What virsh dumpxml says of a domain's balloon: (device, period).
std::pair<bool, std::uint64_t> VirshBalloon(const std::string& uri,
                                            const std::string& uuid) {
  const std::string xml = Virsh(uri, "dumpxml " + uuid);
  const std::string none = "<memballoon model='none'";
  const auto at = xml.find("<memballoon model='");
  if (at == std::string::npos || xml.compare(at, none.size(), none) == 0) {
    return {false, 0};
  }
  const auto end = xml.find("</memballoon>", at);
  const auto period = xml.find("<stats period='", at);
  if (period == std::string::npos || period > end) return {true, 0};
  return {true, std::stoull(xml.substr(period + 15))};
}

TEST_CASE("each guest's status and period follow its definition",
          "[libvirt][virsh][status]") {
  Reader r(kFixtureUri);
  const std::map<std::string, StatsStatus> expected = {
      {"alpha", StatsStatus::kReporting},
      {"beta", StatsStatus::kNoStatsPeriod},
      {"gamma", StatsStatus::kReporting},
      {"no-balloon", StatsStatus::kNoBalloon},
      {"no-device", StatsStatus::kNoBalloon},
      {"paused-guest", StatsStatus::kReporting}};
  for (const auto& [uuid, domain] :
       ByUuid(r.reader.FetchDomainMemory(Soon()))) {
    INFO(domain.name);
    if (!domain.active) {
      CHECK_FALSE(domain.stats_status.has_value());
      continue;
    }
    REQUIRE(domain.stats_status.has_value());
    if (expected.count(domain.name) > 0) {
      CHECK(*domain.stats_status == expected.at(domain.name));
    }
    const auto [device, period] = VirshBalloon(kFixtureUri, uuid);
    CHECK(domain.stats_period_seconds.has_value() == device);
    if (device) CHECK(*domain.stats_period_seconds == period);
    // The test driver answers every virtio balloon, with a period or not.
    CHECK(HasBalloonReport(domain.stats) == device);
  }
  CHECK(r.log.str().find("level=warn") == std::string::npos);
}

TEST_CASE("definitions are read once per domain start, not per scrape",
          "[libvirt][status]") {
  Reader r(kFixtureUri);
  r.reader.FetchDomainMemory(Soon());
  CHECK(r.reader.DefinitionReads() == 9);  // the active domains
  for (int scrape = 0; scrape < 5; ++scrape) r.reader.FetchDomainMemory(Soon());
  CHECK(r.reader.DefinitionReads() == 9);
}

// A clock the test moves: what kept definitions are aged by.
TimePoint fake_now = std::chrono::steady_clock::now();
TimePoint FakeNow() { return fake_now; }

// libvirt's test:///default is one host per process, shared by every
// connection to it: a read-write connection of the test's own changes what
// the exporter's read-only one sees, as another libvirt client would.
struct LiveDomain {
  libvirt::ConnectHandle admin{virConnectOpen("test:///default")};
  libvirt::DomainHandle domain;

  explicit LiveDomain(const std::string& name) {
    REQUIRE(admin);
    Start(name);
  }
  ~LiveDomain() {
    if (domain) virDomainDestroy(domain.get());
  }
  void Start(const std::string& name) {
    const std::string xml =
        "<domain type='test'><name>" + name +
        "</name><memory unit='MiB'>512</memory><vcpu>1</vcpu><os><type>hvm"
        "</type></os><devices><memballoon model='virtio'><stats period='2'/>"
        "</memballoon></devices></domain>";
    domain.reset(virDomainCreateXML(admin.get(), xml.c_str(), 0));
    REQUIRE(domain);
  }
  void SetPeriod(int seconds) {
    REQUIRE(virDomainSetMemoryStatsPeriod(domain.get(), seconds,
                                          VIR_DOMAIN_AFFECT_LIVE) == 0);
  }
};

// The exporter's reader on test:///default, aged by FakeNow.
struct LiveReader {
  std::ostringstream log;
  Logger logger{LogLevel::kDebug, log};
  libvirt::Connection connection{"test:///default", logger};
  BlockingCalls calls{4};
  libvirt::DomainMemoryReader reader;

  explicit LiveReader(std::shared_ptr<libvirt::DomainDefinitions> definitions =
                          std::make_shared<libvirt::DomainDefinitions>())
      : reader(connection, calls, logger, std::move(definitions), Timing()) {}

  static libvirt::DomainReaderTiming Timing() {
    libvirt::DomainReaderTiming timing;
    timing.clock = &FakeNow;
    return timing;
  }

  DomainMemory Fetch(const std::string& name) {
    for (auto& domain : reader.FetchDomainMemory(Soon())) {
      if (domain.name == name) return domain;
    }
    FAIL(name << " is not listed");
    return DomainMemory{};
  }
};

TEST_CASE("a live period change shows after the refresh interval",
          "[libvirt][status]") {
  LiveDomain live("lme-live-period");
  LiveReader r;
  libvirt::DomainMemoryReader& reader = r.reader;
  auto fetch = [&] { return r.Fetch("lme-live-period"); };

  DomainMemory domain = fetch();
  CHECK(domain.stats_status == StatsStatus::kReporting);
  CHECK(domain.stats_period_seconds == 2u);
  const std::uint64_t reads = reader.DefinitionReads();

  live.SetPeriod(7);
  fake_now += std::chrono::seconds(200);
  CHECK(fetch().stats_period_seconds == 2u);  // kept: not due yet
  CHECK(reader.DefinitionReads() == reads);
  fake_now += std::chrono::seconds(101);  // past the 5 minutes
  CHECK(fetch().stats_period_seconds == 7u);
  CHECK(reader.DefinitionReads() > reads);

  // Polling off: the test driver still returns values, which are left out.
  live.SetPeriod(0);
  fake_now += std::chrono::seconds(301);
  domain = fetch();
  CHECK(domain.stats_status == StatsStatus::kNoStatsPeriod);
  CHECK(domain.stats_period_seconds == 0u);
  CHECK(HasBalloonReport(domain.stats));
  CHECK_FALSE(HasBalloonReport(CurrentStats(domain)));

  // Started again: a new domain start, read at once.
  virDomainDestroy(live.domain.get());
  live.Start("lme-live-period");
  const std::uint64_t before_restart = reader.DefinitionReads();
  domain = fetch();
  CHECK(domain.stats_status == StatsStatus::kReporting);
  CHECK(domain.stats_period_seconds == 2u);
  CHECK(reader.DefinitionReads() == before_restart + 1);
}

TEST_CASE("the refresh interval is the shared definitions' own",
          "[libvirt][status]") {
  LiveDomain live("lme-short-refresh");
  // As --libvirt.definition-refresh 30s makes it.
  LiveReader r(std::make_shared<libvirt::DomainDefinitions>(Seconds(30)));
  auto period = [&] {
    return r.Fetch("lme-short-refresh").stats_period_seconds;
  };
  CHECK(period() == 2u);
  live.SetPeriod(5);
  // Due after 3/4 to all of the interval (spread by domain: DefinitionDue).
  fake_now += std::chrono::seconds(20);
  CHECK(period() == 2u);
  fake_now += std::chrono::seconds(10);
  CHECK(period() == 5u);
}

TEST_CASE("the domain memory and OpenStack collectors share definitions",
          "[libvirt][openstack][status]") {
  Exporter e(kOpenStackUri, {"domain_memory", "openstack_metadata"});
  for (int scrape = 0; scrape < 3; ++scrape) {
    auto by_name = e.Scrape(e.collectable.SelectAll());
    // domain_memory runs first and reads each active domain's definition
    // once; the OpenStack collector finds them kept.
    CHECK(by_name.at("libvirt_memory_exporter_domain_definition_reads_total")
              .metric.at(0)
              .counter.value == 5);
    CHECK(by_name.at("libvirt_memory_exporter_openstack_metadata_reads_total")
              .metric.at(0)
              .counter.value == 0);
    CHECK(by_name.at("libvirt_domain_openstack_info").metric.size() == 2);
    const auto statuses =
        StatusLabels(by_name.at("libvirt_domain_memory_stats_status"));
    CHECK(statuses.at("instance-0000000a") == "reporting");
    CHECK(statuses.at("instance-0000000d") == "no_balloon");
  }
  // The malformed metadata is still found in the kept definition, and
  // logged once.
  const std::string log = e.log.str();
  CHECK(Occurrences(log, "ignoring malformed Nova metadata") == 1);
}

}  // namespace
}  // namespace lme
