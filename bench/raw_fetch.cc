// The libvirt calls one exporter scrape makes, and nothing else: the baseline
// the exporter is compared with. Modes: exporter (the default: the bulk call,
// the per-domain calls the exporter adds for what a record lacks, the host
// memory calls), bulk (the bulk call alone), per-domain (the exporter's
// fallback when the bulk call is unsupported). Links only libvirt, on purpose,
// so that its time and peak RSS are what libvirt itself costs.
//
//   lme-raw-fetch --uri URI [--mode exporter|bulk|per-domain]
//                 [--groups state,vcpu,balloon] [--repeat K]
//                 [--concurrency N] [--connections shared|own]
//
// --concurrency N (as the exporter's --libvirt.max-concurrent-calls) lists
// the domains, sorts them by UUID, cuts them into N balanced batches and
// fetches the batches on N threads at once (virDomainListGetStats for the
// bulk modes, the per-domain calls split the same way for per-domain).
// --connections own gives each batch but the first a connection of its own
// (what the exporter does through a daemon), shared runs every batch on the
// one connection; each connection keeps its domain handles across fetches,
// as the exporter does. 1 (the default) is the serial fetch above.
//
// With --repeat it fetches K times and prints one line per fetch. Without it
// it serves the benchmark driver on stdin/stdout: one "fetch" line in, one
// result line out, so the driver can interleave it with HTTP scrapes of the
// exporters while this process keeps its connection, as the exporter does.
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

// Mirrors src/libvirt/domain_memory_reader.cc and node_memory_reader.cc as of
// the vCPU-cache change: when those change their calls, change this file
// too, or the baseline no longer is the exporter's libvirt cost. The
// exporter reads vCPU counts with virDomainGetInfo once per domain start (and
// every 5 minutes), not per scrape, so steady-state scrapes make no such call
// for complete records; this program models the steady state.
// The exporter's groups; --groups overrides them to price each group.
unsigned int stats_groups = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_BALLOON;

enum class Mode { kExporter, kBulk, kPerDomain };

struct Result {
  int domains = 0;
  int with_stats = 0;  // domains whose answer carried any memory stat
  int calls = 0;       // calls that reach the driver (RPCs through a daemon)
  unsigned long long checksum = 0;  // keeps every value "used"
  std::string error;
  // With --concurrency: when each batch's call returned, from the fetch's
  // start (a batch stuck behind another shows here).
  std::vector<long long> batch_end_ns;
};

long long NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void IgnoreError(void*, virErrorPtr) {}

std::string LastErrorMessage() {
  const virError* error = virGetLastError();
  return error != nullptr && error->message != nullptr ? error->message
                                                       : "unknown error";
}

const virTypedParameter* FindParam(const virDomainStatsRecord& record,
                                   const char* name) {
  for (int i = 0; i < record.nparams; ++i) {
    if (std::strcmp(record.params[i].field, name) == 0)
      return &record.params[i];
  }
  return nullptr;
}

bool HasBalloonField(const virDomainStatsRecord& record) {
  for (int i = 0; i < record.nparams; ++i) {
    if (std::strncmp(record.params[i].field, "balloon.", 8) == 0) return true;
  }
  return false;
}

// Name, UUID and ID, read from the handle as the exporter reads them (the
// UUID's bytes: the exporter writes their text itself): no call reaches the
// driver, but each formats the UUID for libvirt's debug log.
void Identify(virDomainPtr domain, Result& result) {
  const char* name = virDomainGetName(domain);
  std::array<unsigned char, VIR_UUID_BUFLEN> uuid{};
  virDomainGetUUID(domain, uuid.data());
  const unsigned int id = virDomainGetID(domain);
  if (name != nullptr) result.checksum += static_cast<unsigned char>(name[0]);
  result.checksum += uuid[0] + id;
}

// The exporter's fallback for what a bulk record lacked: virDomainGetInfo,
// then the memory stats of an active domain when there were no balloon fields.
void CompleteFromDomain(virDomainPtr domain, bool need_memory_stats,
                        Result& result) {
  virDomainInfo info{};
  ++result.calls;
  if (virDomainGetInfo(domain, &info) < 0) return;
  result.checksum += info.maxMem + info.nrVirtCpu;
  if (!need_memory_stats || info.state == VIR_DOMAIN_SHUTOFF) return;
  std::array<virDomainMemoryStatStruct, VIR_DOMAIN_MEMORY_STAT_NR> stats{};
  ++result.calls;
  const int count =
      virDomainMemoryStats(domain, stats.data(), VIR_DOMAIN_MEMORY_STAT_NR, 0);
  for (int i = 0; i < count; ++i) result.checksum += stats[i].val;
  if (count > 0) ++result.with_stats;
}

// The records of one bulk call: of all domains, or of a batch.
void TakeRecords(virDomainStatsRecordPtr* records, int count,
                 bool complete_per_domain, Result& result) {
  for (int i = 0; i < count; ++i) {
    const virDomainStatsRecord& record = *records[i];
    Identify(record.dom, result);
    const bool has_balloon = HasBalloonField(record);
    if (has_balloon) ++result.with_stats;
    for (int p = 0; p < record.nparams; ++p) {
      result.checksum += record.params[p].value.ul;
    }
    const bool incomplete =
        !has_balloon || FindParam(record, "state.state") == nullptr;
    if (incomplete && complete_per_domain) {
      CompleteFromDomain(record.dom, !has_balloon, result);
    }
  }
}

Result FetchBulk(virConnectPtr connection, bool complete_per_domain) {
  Result result;
  virDomainStatsRecordPtr* records = nullptr;
  ++result.calls;
  const int count =
      virConnectGetAllDomainStats(connection, stats_groups, &records,
                                  VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
  if (count < 0) {
    result.error = "virConnectGetAllDomainStats: " + LastErrorMessage();
    return result;
  }
  result.domains = count;
  TakeRecords(records, count, complete_per_domain, result);
  virDomainStatsRecordListFree(records);
  return result;
}

Result FetchPerDomain(virConnectPtr connection) {
  Result result;
  virDomainPtr* domains = nullptr;
  ++result.calls;
  const int count = virConnectListAllDomains(connection, &domains, 0);
  if (count < 0) {
    result.error = "virConnectListAllDomains: " + LastErrorMessage();
    return result;
  }
  result.domains = count;
  for (int i = 0; i < count; ++i) {
    Identify(domains[i], result);
    CompleteFromDomain(domains[i], true, result);
    virDomainFree(domains[i]);
  }
  std::free(domains);
  return result;
}

// The host memory collector runs in the same scrape.
void FetchNode(virConnectPtr connection, Result& result) {
  if (virConnectIsAlive(connection) != 1) return;
  virNodeInfo info{};
  ++result.calls;
  if (virNodeGetInfo(connection, &info) == 0) result.checksum += info.memory;
  int count = 0;
  ++result.calls;
  if (virNodeGetMemoryStats(connection, VIR_NODE_MEMORY_STATS_ALL_CELLS,
                            nullptr, &count, 0) < 0 ||
      count <= 0) {
    return;
  }
  std::vector<virNodeMemoryStats> stats(static_cast<std::size_t>(count));
  ++result.calls;
  if (virNodeGetMemoryStats(connection, VIR_NODE_MEMORY_STATS_ALL_CELLS,
                            stats.data(), &count, 0) == 0) {
    for (int i = 0; i < count; ++i) result.checksum += stats[i].value;
  }
}

void Add(Result& into, const Result& part) {
  into.domains += part.domains;
  into.with_stats += part.with_stats;
  into.calls += part.calls;
  into.checksum += part.checksum;
  if (into.error.empty()) into.error = part.error;
}

Result FetchBatch(std::vector<virDomainPtr> batch, Mode mode) {
  Result result;
  if (mode == Mode::kPerDomain) {
    for (virDomainPtr domain : batch) {
      Identify(domain, result);
      CompleteFromDomain(domain, true, result);
    }
    result.domains = static_cast<int>(batch.size());
    return result;
  }
  batch.push_back(nullptr);
  virDomainStatsRecordPtr* records = nullptr;
  ++result.calls;
  const int count =
      virDomainListGetStats(batch.data(), stats_groups, &records,
                            VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
  if (count < 0) {
    result.error = "virDomainListGetStats: " + LastErrorMessage();
    return result;
  }
  result.domains = count;
  TakeRecords(records, count, mode == Mode::kExporter, result);
  virDomainStatsRecordListFree(records);
  return result;
}

std::string UuidOf(virDomainPtr domain) {
  std::array<char, VIR_UUID_STRING_BUFLEN> uuid{};
  virDomainGetUUIDString(domain, uuid.data());
  return uuid.data();
}

// A connection a batch runs on, with the handles it listed there, kept
// across fetches (listed again only when a domain is new to it).
class BatchConnection {
 public:
  explicit BatchConnection(virConnectPtr connection, bool owned)
      : connection_(connection), owned_(owned) {}
  ~BatchConnection() {
    for (auto& known : handles_) virDomainFree(known.second);
    if (owned_) virConnectClose(connection_);
  }
  BatchConnection(const BatchConnection&) = delete;
  BatchConnection& operator=(const BatchConnection&) = delete;

  // False when the list failed; `calls` counts the list when there was one.
  bool HandlesFor(const std::vector<std::string>& uuids,
                  std::vector<virDomainPtr>& out, int& calls) {
    const bool complete = std::all_of(
        uuids.begin(), uuids.end(),
        [this](const std::string& u) { return handles_.count(u) > 0; });
    if (!complete && !ListAgain(calls)) return false;
    for (const std::string& uuid : uuids) {
      const auto found = handles_.find(uuid);
      if (found != handles_.end()) out.push_back(found->second);
    }
    return true;
  }

 private:
  bool ListAgain(int& calls) {
    for (auto& known : handles_) virDomainFree(known.second);
    handles_.clear();
    virDomainPtr* domains = nullptr;
    ++calls;
    const int count = virConnectListAllDomains(connection_, &domains, 0);
    if (count < 0) return false;
    for (int i = 0; i < count; ++i) handles_[UuidOf(domains[i])] = domains[i];
    std::free(domains);
    return true;
  }

  virConnectPtr connection_;
  bool owned_;
  std::map<std::string, virDomainPtr> handles_;
};

struct Parallel {
  std::string uri;
  int concurrency = 1;
  bool own_connections = false;
  std::vector<std::unique_ptr<BatchConnection>> connections;
};

// The domains listed on the main connection, by UUID, cut into balanced
// batches fetched at once, one thread each.
Result FetchParallel(virConnectPtr connection, Mode mode, Parallel& parallel) {
  Result result;
  virDomainPtr* listed = nullptr;
  ++result.calls;
  const int count = virConnectListAllDomains(connection, &listed, 0);
  if (count < 0) {
    result.error = "virConnectListAllDomains: " + LastErrorMessage();
    return result;
  }
  std::vector<std::string> uuids;
  for (int i = 0; i < count; ++i) {
    uuids.push_back(UuidOf(listed[i]));
    virDomainFree(listed[i]);
  }
  std::free(listed);
  std::sort(uuids.begin(), uuids.end());
  const std::size_t batches =
      std::min(uuids.size(), static_cast<std::size_t>(parallel.concurrency));
  while (parallel.connections.size() < batches) {
    const bool own = parallel.own_connections && !parallel.connections.empty();
    virConnectPtr c =
        own ? virConnectOpenReadOnly(parallel.uri.c_str()) : connection;
    if (c == nullptr) {
      result.error = "cannot open another connection: " + LastErrorMessage();
      return result;
    }
    parallel.connections.push_back(std::make_unique<BatchConnection>(c, own));
  }
  std::vector<Result> parts(batches);
  std::vector<long long> ends(batches, 0);
  const long long start = NowNs();
  std::vector<std::thread> threads;
  std::size_t begin = 0;
  for (std::size_t b = 0; b < batches; ++b) {
    const std::size_t size =
        uuids.size() / batches + (b < uuids.size() % batches ? 1 : 0);
    std::vector<std::string> mine(uuids.begin() + begin,
                                  uuids.begin() + begin + size);
    begin += size;
    threads.emplace_back([&, b, mine = std::move(mine)] {
      std::vector<virDomainPtr> handles;
      int calls = 0;
      if (!parallel.connections[b]->HandlesFor(mine, handles, calls)) {
        parts[b].error = "virConnectListAllDomains: " + LastErrorMessage();
        return;
      }
      parts[b] = FetchBatch(std::move(handles), mode);
      parts[b].calls += calls;
      ends[b] = NowNs() - start;
    });
  }
  for (auto& thread : threads) thread.join();
  for (const Result& part : parts) Add(result, part);
  result.batch_end_ns = ends;
  return result;
}

Result Fetch(virConnectPtr connection, Mode mode, Parallel& parallel) {
  // The exporter checks the kept connection before every collector.
  if (virConnectIsAlive(connection) != 1) {
    Result dead;
    dead.error = "connection is dead";
    return dead;
  }
  if (parallel.concurrency > 1) {
    Result result = FetchParallel(connection, mode, parallel);
    if (mode == Mode::kExporter && result.error.empty()) {
      FetchNode(connection, result);
    }
    return result;
  }
  switch (mode) {
    case Mode::kExporter: {
      Result result = FetchBulk(connection, true);
      if (result.error.empty()) FetchNode(connection, result);
      return result;
    }
    case Mode::kBulk: return FetchBulk(connection, false);
    case Mode::kPerDomain: return FetchPerDomain(connection);
  }
  return {};
}

void PrintResult(const Result& result, long long ns) {
  if (!result.error.empty()) {
    std::printf("error %s\n", result.error.c_str());
  } else {
    std::printf("ok ns=%lld domains=%d with_stats=%d calls=%d checksum=%llu",
                ns, result.domains, result.with_stats, result.calls,
                result.checksum);
    // No '=': the benchmark driver reads key=value fields as integers.
    const char* separator = " batch_ends_ms:";
    for (long long end : result.batch_end_ns) {
      std::printf("%s%.1f", separator, static_cast<double>(end) / 1e6);
      separator = "/";
    }
    std::printf("\n");
  }
  std::fflush(stdout);
}

int Usage() {
  std::fprintf(stderr,
               "usage: lme-raw-fetch --uri URI [--mode exporter|bulk|"
               "per-domain] [--groups state,vcpu,balloon] [--repeat K] "
               "[--concurrency N] [--connections shared|own]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string uri;
  Mode mode = Mode::kExporter;
  int repeat = 0;
  Parallel parallel;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return Usage();
    const std::string value = argv[++i];
    if (arg == "--uri") {
      uri = value;
    } else if (arg == "--groups") {
      stats_groups = 0;
      std::string rest = value + ",";
      for (std::size_t comma; (comma = rest.find(',')) != std::string::npos;
           rest.erase(0, comma + 1)) {
        const std::string group = rest.substr(0, comma);
        if (group == "state")
          stats_groups |= VIR_DOMAIN_STATS_STATE;
        else if (group == "vcpu")
          stats_groups |= VIR_DOMAIN_STATS_VCPU;
        else if (group == "balloon")
          stats_groups |= VIR_DOMAIN_STATS_BALLOON;
        else
          return Usage();
      }
    } else if (arg == "--concurrency") {
      parallel.concurrency = std::atoi(value.c_str());
      if (parallel.concurrency < 1) return Usage();
    } else if (arg == "--connections" && value == "shared") {
      parallel.own_connections = false;
    } else if (arg == "--connections" && value == "own") {
      parallel.own_connections = true;
    } else if (arg == "--repeat") {
      repeat = std::atoi(value.c_str());
    } else if (arg == "--mode" && value == "exporter") {
      mode = Mode::kExporter;
    } else if (arg == "--mode" && value == "bulk") {
      mode = Mode::kBulk;
    } else if (arg == "--mode" && value == "per-domain") {
      mode = Mode::kPerDomain;
    } else {
      return Usage();
    }
  }
  if (uri.empty()) return Usage();
  parallel.uri = uri;

  virInitialize();
  virSetErrorFunc(nullptr, IgnoreError);
  const long long open_start = NowNs();
  virConnectPtr connection = virConnectOpenReadOnly(uri.c_str());
  if (connection == nullptr) {
    std::printf("error cannot open %s: %s\n", uri.c_str(),
                LastErrorMessage().c_str());
    return 1;
  }
  std::printf("ready open_ns=%lld\n", NowNs() - open_start);
  std::fflush(stdout);

  int status = 0;
  auto run_once = [&] {
    const long long start = NowNs();
    const Result result = Fetch(connection, mode, parallel);
    PrintResult(result, NowNs() - start);
    if (!result.error.empty()) status = 1;
  };
  if (repeat > 0) {
    for (int i = 0; i < repeat; ++i) run_once();
  } else {
    std::string line;
    while (std::getline(std::cin, line) && line != "quit") {
      if (line == "fetch") {
        run_once();
      } else {
        std::printf("error unknown command %s\n", line.c_str());
        std::fflush(stdout);
      }
    }
  }
  parallel.connections.clear();  // before the connection they may share
  virConnectClose(connection);
  return status;
}
