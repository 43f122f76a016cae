// Command-line flags, node_exporter style, each also settable from an
// environment variable for containers.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "collector/collector.h"
#include "core/domain_definition.h"
#include "core/duration.h"
#include "util/logger.h"

namespace lme {

struct Options {
  // Repeatable; each "[IP]:PORT" (web/listen_address.h).
  std::vector<std::string> listen_addresses = {":9177"};
  // Take the listening sockets from systemd (LISTEN_FDS) instead.
  bool systemd_socket = false;
  // Metrics requests served at once; 0: no limit.
  int max_requests = 40;
  // Leave out the process_* and promhttp_* series.
  bool disable_exporter_metrics = false;
  std::string telemetry_path = "/metrics";
  std::string libvirt_uri = "qemu:///system";
  // libvirt calls a collection makes at once (the domains are fetched in
  // that many batches); 1 fetches them in one call, one after another.
  int libvirt_max_concurrent_calls = 4;
  LogLevel log_level = LogLevel::kInfo;
  LogFormat log_format = LogFormat::kLogfmt;
  // The collectors switched on (by name), from their defaults and the
  // --[no-]collector.<name> flags.
  std::set<std::string> enabled_collectors;
  // exporter-toolkit web config (TLS, basic auth); empty: plain HTTP.
  std::string web_config_file;
  // How long a scrape may collect when the scraper sends no
  // X-Prometheus-Scrape-Timeout-Seconds header.
  Seconds collector_timeout{9.5};
  // How old a kept domain definition (balloon device, stats period, Nova
  // metadata) may get before it is read again: a live stats period change
  // shows after at most this long.
  Seconds definition_refresh = kDefinitionRefreshAfter;
};

struct ParseResult {
  // Set when the exporter should run; otherwise exit with exit_code after
  // printing `message` (help and version to stdout, errors to stderr).
  std::optional<Options> options;
  int exit_code = 0;
  std::string message;
  bool message_is_error = false;
};

// `args` is argv without the program name; `collectors` the registered
// collectors (src/collector_list.h), each of which gets its switches.
ParseResult ParseCommandLine(const std::vector<std::string>& args,
                             const std::string& version_text,
                             const std::vector<CollectorInfo>& collectors = {});

}  // namespace lme
