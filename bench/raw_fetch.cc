// The libvirt calls one exporter scrape makes, and nothing else: the baseline
// the exporter is compared with. Links only libvirt, on purpose, so that its
// time and peak RSS are what libvirt itself costs.
//
//   lme-raw-fetch --uri URI [--mode exporter|bulk|per-domain] [--repeat K]
//
// With --repeat it fetches K times and prints one line per fetch. Without it
// it serves the benchmark driver on stdin/stdout: one "fetch" line in, one
// result line out, so the driver can interleave it with HTTP scrapes of the
// exporters while this process keeps its connection, as the exporter does.
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

namespace {

enum class Mode { kExporter, kBulk, kPerDomain };

struct Result {
  int domains = 0;
  int with_stats = 0;        // domains whose answer carried any memory stat
  int per_domain_calls = 0;  // virDomainMemoryStats + virDomainGetMaxMemory
  unsigned long long checksum = 0;  // keeps every value "used"
  std::string error;
};

void IgnoreError(void*, virErrorPtr) {}

std::string LastErrorMessage() {
  const virError* error = virGetLastError();
  return error != nullptr && error->message != nullptr ? error->message
                                                       : "unknown error";
}

bool HasBalloonField(const virDomainStatsRecord& record) {
  for (int i = 0; i < record.nparams; ++i) {
    if (std::strncmp(record.params[i].field, "balloon.", 8) == 0) return true;
  }
  return false;
}

// Same identity calls as the exporter makes for every domain it lists.
void Identify(virDomainPtr domain, Result& result) {
  const char* name = virDomainGetName(domain);
  std::array<char, VIR_UUID_STRING_BUFLEN> uuid{};
  virDomainGetUUIDString(domain, uuid.data());
  if (name != nullptr) result.checksum += static_cast<unsigned char>(name[0]);
  result.checksum += static_cast<unsigned char>(uuid[0]);
}

void PerDomainStats(virDomainPtr domain, Result& result) {
  std::array<virDomainMemoryStatStruct, VIR_DOMAIN_MEMORY_STAT_NR> stats{};
  const int count =
      virDomainMemoryStats(domain, stats.data(), VIR_DOMAIN_MEMORY_STAT_NR, 0);
  for (int i = 0; i < count; ++i) result.checksum += stats[i].val;
  if (count > 0) ++result.with_stats;
  result.checksum += virDomainGetMaxMemory(domain);
  result.per_domain_calls += 2;
}

Result FetchBulk(virConnectPtr connection, bool fall_back_per_domain) {
  Result result;
  virDomainStatsRecordPtr* records = nullptr;
  const int count = virConnectGetAllDomainStats(
      connection, VIR_DOMAIN_STATS_BALLOON, &records,
      VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE |
          VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
  if (count < 0) {
    result.error = "virConnectGetAllDomainStats: " + LastErrorMessage();
    return result;
  }
  result.domains = count;
  for (int i = 0; i < count; ++i) {
    const virDomainStatsRecord& record = *records[i];
    Identify(record.dom, result);
    if (HasBalloonField(record)) {
      ++result.with_stats;
      for (int p = 0; p < record.nparams; ++p) {
        result.checksum += record.params[p].value.ul;
      }
    } else if (fall_back_per_domain) {
      PerDomainStats(record.dom, result);
    }
  }
  virDomainStatsRecordListFree(records);
  return result;
}

Result FetchPerDomain(virConnectPtr connection) {
  Result result;
  virDomainPtr* domains = nullptr;
  const int count = virConnectListAllDomains(connection, &domains,
                                             VIR_CONNECT_LIST_DOMAINS_ACTIVE);
  if (count < 0) {
    result.error = "virConnectListAllDomains: " + LastErrorMessage();
    return result;
  }
  result.domains = count;
  for (int i = 0; i < count; ++i) {
    Identify(domains[i], result);
    PerDomainStats(domains[i], result);
    virDomainFree(domains[i]);
  }
  std::free(domains);
  return result;
}

Result Fetch(virConnectPtr connection, Mode mode) {
  // The exporter checks the kept connection before every scrape.
  if (virConnectIsAlive(connection) != 1) return {0, 0, 0, 0, "connection is dead"};
  switch (mode) {
    case Mode::kExporter: return FetchBulk(connection, true);
    case Mode::kBulk: return FetchBulk(connection, false);
    case Mode::kPerDomain: return FetchPerDomain(connection);
  }
  return {};
}

long long NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void PrintResult(const Result& result, long long ns) {
  if (!result.error.empty()) {
    std::printf("error %s\n", result.error.c_str());
  } else {
    std::printf("ok ns=%lld domains=%d with_stats=%d per_domain_calls=%d "
                "checksum=%llu\n",
                ns, result.domains, result.with_stats, result.per_domain_calls,
                result.checksum);
  }
  std::fflush(stdout);
}

int Usage() {
  std::fprintf(stderr,
               "usage: lme-raw-fetch --uri URI [--mode exporter|bulk|"
               "per-domain] [--repeat K]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string uri;
  Mode mode = Mode::kExporter;
  int repeat = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return Usage();
    const std::string value = argv[++i];
    if (arg == "--uri") {
      uri = value;
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
    const Result result = Fetch(connection, mode);
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
  virConnectClose(connection);
  return status;
}
