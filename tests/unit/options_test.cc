#include "cli/options.h"

#include <cstdlib>
#include <utility>

#include "catch_compat.h"
#include "collector/domain_memory_collector.h"
#include "collector/node_memory_collector.h"
#include "collector/openstack_collector.h"
#include "core/collector_selection.h"

namespace lme {
namespace {

// The exporter's collectors' own infos (their defaults included).
const std::vector<CollectorInfo> kCollectors = {DomainMemoryCollector::kInfo,
                                                NodeMemoryCollector::kInfo,
                                                OpenStackCollector::kInfo};

ParseResult Parse(const std::vector<std::string>& args) {
  return ParseCommandLine(args, "libvirt-memory-exporter, version test",
                          kCollectors);
}

using Names = std::set<std::string>;

// Sets an environment variable for the lifetime of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    setenv(name, value, 1);
  }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

TEST_CASE("defaults follow the libvirt exporters", "[cli]") {
  const ParseResult result = Parse({});
  REQUIRE(result.options.has_value());
  CHECK(result.options->listen_addresses == std::vector<std::string>{":9177"});
  CHECK_FALSE(result.options->systemd_socket);
  CHECK(result.options->max_requests == 40);
  CHECK_FALSE(result.options->disable_exporter_metrics);
  CHECK(result.options->telemetry_path == "/metrics");
  CHECK(result.options->libvirt_uri == "qemu:///system");
  CHECK(result.options->log_level == LogLevel::kInfo);
  CHECK(result.options->enabled_collectors ==
        Names{"domain_memory", "node_memory"});
}

TEST_CASE("the collector timeout takes a duration", "[cli]") {
  CHECK(Parse({}).options->collector_timeout.count() == Approx(9.5));
  ParseResult result = Parse({"--collector.timeout", "3s"});
  REQUIRE(result.options.has_value());
  CHECK(result.options->collector_timeout.count() == Approx(3));
  result = Parse({"--collector.timeout", "soon"});
  CHECK(result.exit_code == 2);
  CHECK(result.message.find("soon") != std::string::npos);
}

TEST_CASE("definitions are kept 5 minutes unless told otherwise", "[cli]") {
  CHECK(Parse({}).options->definition_refresh.count() == Approx(300));
  ParseResult result = Parse({"--libvirt.definition-refresh", "30s"});
  REQUIRE(result.options.has_value());
  CHECK(result.options->definition_refresh.count() == Approx(30));
  {
    ScopedEnv env("LIBVIRT_EXPORTER_LIBVIRT_DEFINITION_REFRESH", "1m");
    result = Parse({});
    REQUIRE(result.options.has_value());
    CHECK(result.options->definition_refresh.count() == Approx(60));
  }
  result = Parse({"--libvirt.definition-refresh", "often"});
  CHECK(result.exit_code == 2);
  CHECK(result.message.find("often") != std::string::npos);
}

TEST_CASE("logs are logfmt unless json is asked for", "[cli]") {
  CHECK(Parse({}).options->log_format == LogFormat::kLogfmt);
  ParseResult result = Parse({"--log.format", "json"});
  REQUIRE(result.options.has_value());
  CHECK(result.options->log_format == LogFormat::kJson);
  {
    ScopedEnv env("LIBVIRT_EXPORTER_LOG_FORMAT", "json");
    result = Parse({});
    REQUIRE(result.options.has_value());
    CHECK(result.options->log_format == LogFormat::kJson);
  }
  result = Parse({"--log.format", "xml"});
  CHECK(result.exit_code == 2);
  CHECK(result.message.find("xml") != std::string::npos);
}

TEST_CASE("the OpenStack collector is opt-in", "[cli]") {
  ParseResult result = Parse({"--collector.openstack-metadata"});
  REQUIRE(result.options.has_value());
  CHECK(result.options->enabled_collectors.count("openstack_metadata") == 1);
  ScopedEnv env("LIBVIRT_EXPORTER_COLLECTOR_OPENSTACK_METADATA", "true");
  result = Parse({});
  REQUIRE(result.options.has_value());
  CHECK(result.options->enabled_collectors.count("openstack_metadata") == 1);
}

TEST_CASE("every collector can be switched on and off", "[cli]") {
  ParseResult result =
      Parse({"--no-collector.domain-memory", "--no-collector.node-memory",
             "--collector.openstack-metadata"});
  REQUIRE(result.options.has_value());
  CHECK(result.options->enabled_collectors == Names{"openstack_metadata"});
  // The last of a flag and its negation wins, as in node_exporter.
  result = Parse({"--no-collector.node-memory", "--collector.node-memory"});
  REQUIRE(result.options.has_value());
  CHECK(result.options->enabled_collectors.count("node_memory") == 1);
}

TEST_CASE("collector switches come from the environment too", "[cli]") {
  ScopedEnv off("LIBVIRT_EXPORTER_COLLECTOR_NODE_MEMORY", "false");
  ParseResult result = Parse({});
  REQUIRE(result.options.has_value());
  CHECK(result.options->enabled_collectors == Names{"domain_memory"});
  // A flag wins over its environment variable.
  result = Parse({"--collector.node-memory"});
  REQUIRE(result.options.has_value());
  CHECK(result.options->enabled_collectors.count("node_memory") == 1);
}

TEST_CASE("an unknown collector flag is a usage error", "[cli]") {
  const ParseResult result = Parse({"--collector.bogus"});
  CHECK_FALSE(result.options.has_value());
  CHECK(result.exit_code == 2);
  CHECK(result.message.find("--collector.bogus") != std::string::npos);
}

TEST_CASE("--help lists every collector's switches", "[cli]") {
  const ParseResult result = Parse({"--help"});
  CHECK(result.exit_code == 0);
  for (const CollectorInfo& info : kCollectors) {
    INFO(info.name);
    CHECK(result.message.find("--" + CollectorFlag(info.name)) !=
          std::string::npos);
    CHECK(result.message.find("--no-" + CollectorFlag(info.name)) !=
          std::string::npos);
    CHECK(result.message.find(CollectorEnvVar(info.name)) != std::string::npos);
  }
}

TEST_CASE("flags override the defaults", "[cli]") {
  const ParseResult result = Parse(
      {"--web.listen-address", "127.0.0.1:9999", "--web.telemetry-path",
       "/probe", "--libvirt.uri=test:///default", "--log.level", "debug"});
  REQUIRE(result.options.has_value());
  CHECK(result.options->listen_addresses ==
        std::vector<std::string>{"127.0.0.1:9999"});
  CHECK(result.options->telemetry_path == "/probe");
  CHECK(result.options->libvirt_uri == "test:///default");
  CHECK(result.options->log_level == LogLevel::kDebug);
}

TEST_CASE("environment variables configure containers", "[cli]") {
  ScopedEnv uri("LIBVIRT_EXPORTER_LIBVIRT_URI", "qemu:///session");
  ScopedEnv address("LIBVIRT_EXPORTER_WEB_LISTEN_ADDRESS", ":9100");
  ScopedEnv level("LIBVIRT_EXPORTER_LOG_LEVEL", "warn");
  ScopedEnv path("LIBVIRT_EXPORTER_WEB_TELEMETRY_PATH", "/m");
  ParseResult result = Parse({});
  REQUIRE(result.options.has_value());
  CHECK(result.options->libvirt_uri == "qemu:///session");
  CHECK(result.options->listen_addresses == std::vector<std::string>{":9100"});
  CHECK(result.options->log_level == LogLevel::kWarn);
  CHECK(result.options->telemetry_path == "/m");
  // A flag still wins over the environment.
  result = Parse({"--libvirt.uri", "test:///default"});
  REQUIRE(result.options.has_value());
  CHECK(result.options->libvirt_uri == "test:///default");
}

TEST_CASE("libvirt calls at once: 4 unless set, 1 for one at a time", "[cli]") {
  CHECK(Parse({}).options->libvirt_max_concurrent_calls == 4);
  ParseResult result = Parse({"--libvirt.max-concurrent-calls", "1"});
  REQUIRE(result.options.has_value());
  CHECK(result.options->libvirt_max_concurrent_calls == 1);
  {
    ScopedEnv env("LIBVIRT_EXPORTER_LIBVIRT_MAX_CONCURRENT_CALLS", "8");
    result = Parse({});
    REQUIRE(result.options.has_value());
    CHECK(result.options->libvirt_max_concurrent_calls == 8);
    // A flag still wins over the environment.
    result = Parse({"--libvirt.max-concurrent-calls=2"});
    REQUIRE(result.options.has_value());
    CHECK(result.options->libvirt_max_concurrent_calls == 2);
  }
  for (const char* bad : {"0", "-1", "65", "many", "2.5"}) {
    INFO(bad);
    result = Parse({"--libvirt.max-concurrent-calls", bad});
    CHECK_FALSE(result.options.has_value());
    CHECK(result.exit_code == 2);
    CHECK(result.message.find("--libvirt.max-concurrent-calls") !=
          std::string::npos);
  }
  result = Parse({"--help"});
  CHECK(result.message.find("--libvirt.max-concurrent-calls") !=
        std::string::npos);
  CHECK(result.message.find("LIBVIRT_EXPORTER_LIBVIRT_MAX_CONCURRENT_CALLS") !=
        std::string::npos);
}

TEST_CASE("the web flags of node_exporter", "[cli]") {
  ParseResult result =
      Parse({"--web.listen-address", "127.0.0.1:9177", "--web.listen-address",
             "[::1]:9177", "--web.max-requests", "0", "--web.systemd-socket",
             "--web.disable-exporter-metrics"});
  REQUIRE(result.options.has_value());
  CHECK(result.options->listen_addresses ==
        std::vector<std::string>{"127.0.0.1:9177", "[::1]:9177"});
  CHECK(result.options->max_requests == 0);
  CHECK(result.options->systemd_socket);
  CHECK(result.options->disable_exporter_metrics);
  {
    ScopedEnv address("LIBVIRT_EXPORTER_WEB_LISTEN_ADDRESS",
                      "127.0.0.1:1,[::1]:2");
    ScopedEnv requests("LIBVIRT_EXPORTER_WEB_MAX_REQUESTS", "7");
    ScopedEnv systemd("LIBVIRT_EXPORTER_WEB_SYSTEMD_SOCKET", "true");
    ScopedEnv self("LIBVIRT_EXPORTER_WEB_DISABLE_EXPORTER_METRICS", "true");
    result = Parse({});
    REQUIRE(result.options.has_value());
    CHECK(result.options->listen_addresses ==
          std::vector<std::string>{"127.0.0.1:1", "[::1]:2"});
    CHECK(result.options->max_requests == 7);
    CHECK(result.options->systemd_socket);
    CHECK(result.options->disable_exporter_metrics);
  }
  result = Parse({"--help"});
  for (const char* text :
       {"--web.max-requests", "LIBVIRT_EXPORTER_WEB_MAX_REQUESTS",
        "--web.systemd-socket", "LIBVIRT_EXPORTER_WEB_SYSTEMD_SOCKET",
        "--web.disable-exporter-metrics",
        "LIBVIRT_EXPORTER_WEB_DISABLE_EXPORTER_METRICS"}) {
    INFO(text);
    CHECK(result.message.find(text) != std::string::npos);
  }
}

// CLI11 2.4 (Debian 13) dropped a value that failed its check without a
// word; the exporter must refuse it as it refuses the same flag.
TEST_CASE("a bad environment value is an error, not ignored", "[cli]") {
  for (const auto& [variable, value] :
       std::vector<std::pair<const char*, const char*>>{
           {"LIBVIRT_EXPORTER_LOG_LEVEL", "bogus"},
           {"LIBVIRT_EXPORTER_WEB_LISTEN_ADDRESS", ":9177,nonsense"},
           {"LIBVIRT_EXPORTER_COLLECTOR_TIMEOUT", "forever"}}) {
    INFO(variable << "=" << value);
    ScopedEnv env(variable, value);
    const ParseResult result = Parse({});
    CHECK_FALSE(result.options.has_value());
    CHECK(result.exit_code == 2);
    CHECK(result.message.find(variable) != std::string::npos);
  }
  // A flag for the same option still wins, and the bad value is not read.
  ScopedEnv level("LIBVIRT_EXPORTER_LOG_LEVEL", "bogus");
  const ParseResult result = Parse({"--log.level=warn"});
  REQUIRE(result.options.has_value());
  CHECK(result.options->log_level == LogLevel::kWarn);
}

TEST_CASE("bad flags exit 2 with a message naming the problem", "[cli]") {
  struct Case {
    std::vector<std::string> args;
    const char* mentions;
  };
  const Case cases[] = {
      {{"--no-such-flag"}, "--no-such-flag"},
      {{"--log.level", "loud"}, "loud"},
      {{"--web.listen-address", "nonsense"}, "nonsense"},
      {{"--web.listen-address", ":99999"}, "99999"},
      {{"--web.telemetry-path", "metrics"}, "start with '/'"},
      {{"--web.max-requests", "-1"}, "-1"},
      {{"--web.max-requests", "many"}, "many"},
      {{"--web.listen-address", ":9177", "--web.listen-address", "[::1"},
       "[::1"},
      {{"--web.telemetry-path", "/met*rics"}, "must not contain"},
      {{"--libvirt.uri"}, "--libvirt.uri"},
      {{"stray"}, "stray"},
  };
  for (const auto& c : cases) {
    INFO(c.args.front());
    const ParseResult result = Parse(c.args);
    CHECK_FALSE(result.options.has_value());
    CHECK(result.exit_code == 2);
    CHECK(result.message_is_error);
    CHECK(result.message.find(c.mentions) != std::string::npos);
  }
}

TEST_CASE("--help and --version print and exit 0", "[cli]") {
  ParseResult result = Parse({"--help"});
  CHECK_FALSE(result.options.has_value());
  CHECK(result.exit_code == 0);
  CHECK_FALSE(result.message_is_error);
  CHECK(result.message.find("--libvirt.uri") != std::string::npos);
  CHECK(result.message.find("LIBVIRT_EXPORTER_LIBVIRT_URI") !=
        std::string::npos);

  result = Parse({"--version"});
  CHECK_FALSE(result.options.has_value());
  CHECK(result.exit_code == 0);
  CHECK(result.message.find("version test") != std::string::npos);
}

}  // namespace
}  // namespace lme
