#include <malloc.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/options.h"
#include "collector/exporter_collectable.h"
#include "collector_list.h"
#include "core/exposition.h"
#include "core/url_query.h"
#include "libvirt/connection.h"
#include "libvirt/error.h"
#include "libvirt/event_loop.h"
#include "util/blocking_calls.h"
#include "util/logger.h"
#include "web/http_server.h"
#include "web/web_security.h"

namespace {

using lme::Logger;

// Time kept back from the scraper's timeout to write the answer.
constexpr lme::Seconds kAnswerWritingOffset{0.5};

sigset_t TerminationSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

int WaitForTermination(const sigset_t& signals) {
  int signal = 0;
  sigwait(&signals, &signal);
  return signal;
}

std::string ListeningAddresses(const lme::HttpServer& server,
                               const std::string& requested) {
  std::string host = requested.substr(0, requested.rfind(':'));
  std::string addresses;
  for (int port : server.ListeningPorts()) {
    if (!addresses.empty()) addresses += ",";
    addresses += host + ":" + std::to_string(port);
  }
  return addresses;
}

// Everything a scrape passes through, built in the order it depends on.
class Exporter {
 public:
  Exporter(const lme::Options& options,
           const std::vector<lme::CollectorRegistration>& registrations,
           const lme::BuildInfo& build_info, Logger& logger)
      : options_(options),
        connection_(options.libvirt_uri, logger, &event_loop_),
        // At most this many calls at once, and BlockingCalls' few more left
        // blocked by guests that do not answer, however long they stay so.
        calls_(options.libvirt_max_concurrent_calls),
        access_{connection_, calls_, logger},
        collectors_(registrations, options.enabled_collectors, access_),
        collectable_(collectors_.Entries(), build_info, logger) {}

  // Throws lme::BadRequest when the query names collectors it cannot run.
  lme::BodyWriter Render(std::optional<double> scrape_timeout,
                         std::string_view query) {
    const lme::CollectorSelection selection =
        collectable_.Select(lme::QueryValues(query, "collect[]"),
                            lme::QueryValues(query, "exclude[]"));
    if (!selection.error.empty()) throw lme::BadRequest(selection.error);
    const auto budget = lme::CollectionBudget(
        scrape_timeout, options_.collector_timeout, kAnswerWritingOffset);
    std::shared_ptr<const lme::MetricSet> collected = collectable_.Collect(
        std::chrono::steady_clock::now() +
            std::chrono::duration_cast<std::chrono::nanoseconds>(budget),
        selection);
    return [collected](const lme::TextSink& write) {
      lme::WriteExposition(*collected, write);
    };
  }

  int BlockedLibvirtCalls() const { return calls_.InFlight(); }

 private:
  const lme::Options& options_;
  // Before the first connection: keepalive and close events need it.
  lme::libvirt::EventLoop event_loop_;
  lme::libvirt::Connection connection_;
  lme::BlockingCalls calls_;
  lme::LibvirtAccess access_;
  lme::Collectors collectors_;
  lme::ExporterCollectable collectable_;
};

// Serves until SIGINT or SIGTERM; 1 when the web server cannot start.
int Serve(const lme::Options& options, const lme::BuildInfo& build_info,
          const lme::WebSecurity& web, Exporter& exporter, Logger& logger) {
  try {
    lme::HttpServerOptions server_options;
    server_options.listen_address = options.listen_address;
    server_options.telemetry_path = options.telemetry_path;
    server_options.version = build_info.version;
    lme::HttpServer server(
        web.Apply(server_options),
        [&](std::optional<double> timeout, std::string_view query) {
          return exporter.Render(timeout, query);
        },
        logger);
    logger.Info(
        "listening",
        {{"address", ListeningAddresses(server, options.listen_address)},
         {"telemetry_path", options.telemetry_path},
         {"tls", web.Tls() ? "true" : "false"},
         {"basic_auth", web.BasicAuth() ? "true" : "false"}});
    const int signal = WaitForTermination(TerminationSignals());
    logger.Info("shutting down", {{"signal", std::to_string(signal)}});
    return 0;
  } catch (const std::exception& e) {
    logger.Error("cannot start the web server", {{"err", e.what()}});
    return 1;
  }
}

int Run(const lme::Options& options,
        const std::vector<lme::CollectorRegistration>& registrations,
        const lme::BuildInfo& build_info) {
  // Each CivetWeb worker thread would otherwise grow a malloc arena of its
  // own holding a scrape's worth of memory: one arena keeps the resident set
  // near one scrape's (docs/benchmarks.md).
  mallopt(M_ARENA_MAX, 1);
  Logger logger(options.log_level, std::cerr, options.log_format);
  lme::libvirt::SilenceDefaultErrorPrinting();
  std::optional<lme::WebSecurity> web;  // TLS and basic auth, when asked for
  try {
    web.emplace(options.web_config_file);
  } catch (const std::exception& e) {
    logger.Error("cannot load the web config file",
                 {{"file", options.web_config_file}, {"err", e.what()}});
    return 1;
  }
  logger.Info("starting libvirt-memory-exporter",
              {{"version", build_info.version},
               {"libvirt_version", build_info.libvirt_version},
               {"libvirt_uri", options.libvirt_uri}});
  Exporter exporter(options, registrations, build_info, logger);
  const int status = Serve(options, build_info, *web, exporter, logger);
  if (exporter.BlockedLibvirtCalls() > 0) {
    // Their threads are blocked inside libvirt on a guest that does not
    // answer; unwinding libvirt under them would crash, so leave at once.
    logger.Info("leaving libvirt calls blocked",
                {{"calls", std::to_string(exporter.BlockedLibvirtCalls())}});
    std::_Exit(status);
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  // First thing: every thread started later (libvirt's among them) inherits
  // the mask, so only sigwait sees SIGINT and SIGTERM.
  const sigset_t signals = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  const lme::BuildInfo build_info{LME_VERSION, lme::libvirt::LibraryVersion()};
  const std::string version_text = "libvirt-memory-exporter, version " +
                                   build_info.version + " (libvirt " +
                                   build_info.libvirt_version + ")";
  const std::vector<std::string> args(argv + 1, argv + argc);
  const auto registrations = lme::RegisteredCollectors();
  const lme::ParseResult parsed =
      lme::ParseCommandLine(args, version_text, lme::InfosOf(registrations));
  if (!parsed.options) {
    (parsed.message_is_error ? std::cerr : std::cout) << parsed.message;
    return parsed.exit_code;
  }
  return Run(*parsed.options, registrations, build_info);
}
