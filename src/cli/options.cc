#include "cli/options.h"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <map>
#include <sstream>

#include "core/collector_selection.h"
#include "core/duration.h"
#include "web/listen_address.h"

namespace lme {
namespace {

constexpr int kUsageExitCode = 2;
// libvirtd serves 20 calls at once by default (max_workers) for all its
// clients: more than that only queues there.
constexpr int kMaxConcurrentCalls = 64;

std::string ValidateListenAddress(const std::string& address) {
  if (ParseListenAddress(address)) return {};
  return "expected [IP]:PORT such as :9177, 127.0.0.1:9177 or [::1]:9177, "
         "got '" +
         address + "'";
}

// Kept plain, so the path reads the same in URLs, logs and the landing page.
std::string ValidateTelemetryPath(const std::string& path) {
  if (path.empty() || path.front() != '/') return "must start with '/'";
  for (char c : path) {
    if (c == '*' || c == '?' || c == '$' || c == '|' || c == ' ' ||
        static_cast<unsigned char>(c) < 0x20) {
      return "must not contain '*', '?', '$', '|', spaces or control "
             "characters";
    }
  }
  return {};
}

std::string ValidateDuration(const std::string& text) {
  if (ParseDuration(text)) return {};
  return "expected a duration up to 24h such as 500ms, 9s or 1m, got '" + text +
         "'";
}

// Flags whose text is checked by CLI11 and converted after parsing.
struct TextFlags {
  std::string log_level = "info";
  std::string log_format = "logfmt";
  std::string collector_timeout = "9500ms";
  std::string definition_refresh = "5m";
};

void Describe(CLI::App& app, Options& options, TextFlags& text) {
  app.add_option("--web.listen-address", options.listen_addresses,
                 "Address on which to expose metrics and the landing page; "
                 "repeat it (or separate with commas) to listen on several, "
                 "e.g. 127.0.0.1:9177 and [::1]:9177")
      ->envname("LIBVIRT_EXPORTER_WEB_LISTEN_ADDRESS")
      ->delimiter(',')
      ->check(CLI::Validator(ValidateListenAddress, "[IP]:PORT"))
      ->capture_default_str();
  app.add_flag("--web.systemd-socket", options.systemd_socket,
               "Use the listening sockets systemd passes (socket activation, "
               "LISTEN_FDS) instead of --web.listen-address")
      ->envname("LIBVIRT_EXPORTER_WEB_SYSTEMD_SOCKET");
  app.add_option("--web.max-requests", options.max_requests,
                 "Maximum number of metrics requests served at once; beyond "
                 "it they are answered 503 at once. 0 means no limit")
      ->envname("LIBVIRT_EXPORTER_WEB_MAX_REQUESTS")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_flag("--web.disable-exporter-metrics",
               options.disable_exporter_metrics,
               "Leave out the exporter's own process_* and "
               "promhttp_metric_handler_* metrics")
      ->envname("LIBVIRT_EXPORTER_WEB_DISABLE_EXPORTER_METRICS");
  app.add_option("--web.telemetry-path", options.telemetry_path,
                 "Path under which to expose metrics")
      ->envname("LIBVIRT_EXPORTER_WEB_TELEMETRY_PATH")
      ->check(CLI::Validator(ValidateTelemetryPath, "PATH"))
      ->capture_default_str();
  app.add_option("--web.config.file", options.web_config_file,
                 "Path to a web configuration file (exporter-toolkit format) "
                 "that can enable TLS and basic auth; see docs/web-config.md")
      ->envname("LIBVIRT_EXPORTER_WEB_CONFIG_FILE");
  app.add_option("--libvirt.uri", options.libvirt_uri,
                 "libvirt connection URI, opened read-only "
                 "(e.g. qemu:///system, test:///path/to/node.xml)")
      ->envname("LIBVIRT_EXPORTER_LIBVIRT_URI")
      ->capture_default_str();
  app.add_option("--libvirt.max-concurrent-calls",
                 options.libvirt_max_concurrent_calls,
                 "libvirt calls a scrape makes at once: the domains are "
                 "fetched in that many batches side by side, each through "
                 "one of libvirtd's worker threads; 1 fetches them in one "
                 "call. Keep it below libvirtd's max_workers, which other "
                 "clients (virsh, Nova) share; see docs/deployment.md")
      ->envname("LIBVIRT_EXPORTER_LIBVIRT_MAX_CONCURRENT_CALLS")
      ->check(CLI::Range(1, kMaxConcurrentCalls))
      ->capture_default_str();
  app.add_option("--log.level", text.log_level,
                 "Only log messages with the given severity or above")
      ->envname("LIBVIRT_EXPORTER_LOG_LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.add_option("--log.format", text.log_format,
                 "Output format of log messages: logfmt or json (one object "
                 "a line)")
      ->envname("LIBVIRT_EXPORTER_LOG_FORMAT")
      ->check(CLI::IsMember({"logfmt", "json"}))
      ->capture_default_str();
  app.add_option("--collector.timeout", text.collector_timeout,
                 "How long a scrape may wait for libvirt when the scraper "
                 "sends no X-Prometheus-Scrape-Timeout-Seconds header")
      ->envname("LIBVIRT_EXPORTER_COLLECTOR_TIMEOUT")
      ->check(CLI::Validator(ValidateDuration, "DURATION"))
      ->capture_default_str();
  app.add_option("--libvirt.definition-refresh", text.definition_refresh,
                 "How long a domain's definition (balloon device, stats "
                 "period, Nova metadata) is kept before it is read again; a "
                 "live stats period change shows after at most this long")
      ->envname("LIBVIRT_EXPORTER_LIBVIRT_DEFINITION_REFRESH")
      ->check(CLI::Validator(ValidateDuration, "DURATION"))
      ->capture_default_str();
}

// --collector.<name> and --no-collector.<name> for each collector, into
// `enabled` (by name; a map, so the flags can point at its values).
void DescribeCollectors(CLI::App& app,
                        const std::vector<CollectorInfo>& collectors,
                        std::map<std::string, bool>& enabled) {
  for (const CollectorInfo& info : collectors) {
    const std::string flag = CollectorFlag(info.name);
    bool& on = enabled[info.name] = info.enabled_by_default;
    app.add_flag("--" + flag + ",!--no-" + flag, on,
                 std::string("Enable the ") + info.name +
                     " collector: " + info.help + " (default: " +
                     (info.enabled_by_default ? "enabled" : "disabled") + ")")
        ->envname(CollectorEnvVar(info.name));
  }
}

std::string Join(const std::vector<std::string>& names) {
  std::string joined;
  for (const std::string& name : names) {
    joined += (joined.empty() ? "" : ", ") + name;
  }
  return joined;
}

// Whether `args` name `option` (--name, --name=value, or --no-name).
bool GivenOnCommandLine(const CLI::Option& option,
                        const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg.rfind("--", 0) != 0) continue;
    const std::string name = arg.substr(2, arg.find('=') - 2);
    for (const std::string& long_name : option.get_lnames()) {
      if (name == long_name) return true;
    }
  }
  return false;
}

// Each option's environment variable as the flag it stands for, ahead of
// the command line's own flags (which win, as they name other options).
// CLI11 2.4 (Debian 13) checks an environment value whole and drops it
// silently when the check fails: a comma-separated list of addresses was
// lost, and so was a typo, without a word. As flags, every value is split
// and checked as on the command line, and a bad one is an error.
std::vector<std::string> WithEnvironment(const CLI::App& app,
                                         const std::vector<std::string>& args,
                                         std::vector<std::string>& used) {
  std::vector<std::string> combined;
  for (const CLI::Option* option : app.get_options()) {
    const std::string& variable = option->get_envname();
    if (variable.empty() || GivenOnCommandLine(*option, args)) continue;
    const char* value = std::getenv(variable.c_str());
    if (value == nullptr || *value == '\0') continue;
    combined.push_back("--" + option->get_lnames().front() + "=" + value);
    used.push_back(variable);
  }
  combined.insert(combined.end(), args.begin(), args.end());
  return combined;
}

}  // namespace

ParseResult ParseCommandLine(const std::vector<std::string>& args,
                             const std::string& version_text,
                             const std::vector<CollectorInfo>& collectors) {
  CLI::App app{
      "Prometheus exporter for the memory of libvirt guests, from "
      "their balloon stats.",
      "libvirt-memory-exporter"};
  Options options;
  TextFlags text;
  Describe(app, options, text);
  std::map<std::string, bool> enabled;
  DescribeCollectors(app, collectors, enabled);
  app.set_version_flag("--version", version_text);

  std::vector<std::string> from_environment;
  const std::vector<std::string> all_args =
      WithEnvironment(app, args, from_environment);
  std::vector<const char*> argv{"libvirt-memory-exporter"};
  for (const auto& arg : all_args) argv.push_back(arg.c_str());
  std::ostringstream out;
  std::ostringstream err;
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    const bool is_error = code != static_cast<int>(CLI::ExitCodes::Success);
    if (is_error && !from_environment.empty()) {
      err << "Flags from environment variables: " << Join(from_environment)
          << "\n";
    }
    return {std::nullopt, is_error ? kUsageExitCode : 0,
            is_error ? err.str() : out.str(), is_error};
  }
  options.log_level = *ParseLogLevel(text.log_level);
  options.log_format = *ParseLogFormat(text.log_format);
  options.collector_timeout = *ParseDuration(text.collector_timeout);
  options.definition_refresh = *ParseDuration(text.definition_refresh);
  for (const auto& [name, on] : enabled) {
    if (on) options.enabled_collectors.insert(name);
  }
  return {options, 0, {}, false};
}

}  // namespace lme
