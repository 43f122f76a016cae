#include <malloc.h>
#include <sys/resource.h>

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
#include "web/self_metrics.h"
#include "web/systemd_socket.h"
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
        access_{connection_, calls_, logger,
                std::make_shared<lme::libvirt::DomainDefinitions>(
                    options.definition_refresh)},
        collectors_(registrations, options.enabled_collectors, access_),
        collectable_(collectors_.Entries(), build_info, logger) {}

  // Throws lme::BadRequest when the query names collectors it cannot run.
  // The body is written from the shared collection piece by piece, as the
  // client takes it: no copy of the text.
  lme::BodySource Render(const lme::ScrapeRequest& request) {
    const lme::CollectorSelection selection = SelectionOf(request);
    if (!selection.error.empty()) throw lme::BadRequest(selection.error);
    return Body(collectable_.Collect(DeadlineOf(request), selection),
                request.handler);
  }

  // Shares the collection in flight, if any, without a thread of its own;
  // a refused query is left to Render, which answers it.
  bool Join(const lme::ScrapeRequest& request, lme::BodyReady done) {
    const lme::CollectorSelection selection = SelectionOf(request);
    if (!selection.error.empty()) return false;
    return collectable_.JoinInFlight(
        DeadlineOf(request), selection,
        [this, handler = request.handler, done = std::move(done)](
            std::shared_ptr<const lme::MetricSet> collected) {
          done(Body(std::move(collected), handler));
        });
  }

  int BlockedLibvirtCalls() const { return calls_.InFlight(); }

 private:
  lme::CollectorSelection SelectionOf(const lme::ScrapeRequest& request) const {
    return collectable_.Select(lme::QueryValues(request.query, "collect[]"),
                               lme::QueryValues(request.query, "exclude[]"));
  }

  lme::Deadline DeadlineOf(const lme::ScrapeRequest& request) const {
    const auto budget =
        lme::CollectionBudget(request.timeout_seconds,
                              options_.collector_timeout, kAnswerWritingOffset);
    return request.received +
           std::chrono::duration_cast<std::chrono::nanoseconds>(budget);
  }

  lme::BodySource Body(std::shared_ptr<const lme::MetricSet> collected,
                       const lme::HandlerStats& handler) const {
    std::vector<std::shared_ptr<const lme::MetricSet>> sets{
        std::move(collected)};
    if (!options_.disable_exporter_metrics) {
      sets.push_back(std::make_shared<const lme::MetricSet>(
          lme::SelfMetrics(lme::ReadProcessStats(), handler)));
    }
    return lme::ExpositionPieces(std::move(sets));
  }

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
          const std::shared_ptr<lme::WebSecurity>& web, Exporter& exporter,
          Logger& logger) {
  try {
    lme::HttpServerOptions server_options;
    server_options.listen_addresses = options.listen_addresses;
    if (options.systemd_socket) {
      server_options.listen_fds = lme::TakeSystemdListenFds();
    }
    server_options.max_requests = options.max_requests;
    server_options.telemetry_path = options.telemetry_path;
    server_options.version = build_info.version;
    server_options.guard = web;
    server_options.join_metrics = [&](const lme::ScrapeRequest& request,
                                      lme::BodyReady done) {
      return exporter.Join(request, std::move(done));
    };
    lme::HttpServer server(
        server_options,
        [&](const lme::ScrapeRequest& request) {
          return exporter.Render(request);
        },
        logger);
    for (const auto& socket : server.Listening()) {
      logger.Info("listening",
                  {{"address", socket.address},
                   {"telemetry_path", options.telemetry_path},
                   {"tls", web->Tls() ? "true" : "false"},
                   {"basic_auth", web->BasicAuth() ? "true" : "false"}});
    }
    const int signal = WaitForTermination(TerminationSignals());
    logger.Info("shutting down", {{"signal", std::to_string(signal)}});
    return 0;
  } catch (const std::exception& e) {
    logger.Error("cannot start the web server", {{"err", e.what()}});
    return 1;
  }
}

// Idle connections cost a file descriptor each and nothing else: take the
// hard limit, as Go programs do, so that a thousand of them do not hit a
// soft limit of 1024.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 &&
      limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int Run(const lme::Options& options,
        const std::vector<lme::CollectorRegistration>& registrations,
        const lme::BuildInfo& build_info) {
  RaiseFileLimit();
  // Each scrape thread would otherwise grow a malloc arena of its own
  // holding a scrape's worth of memory: one arena keeps the resident set near
  // one scrape's (docs/benchmarks.md).
  mallopt(M_ARENA_MAX, 1);
  Logger logger(options.log_level, std::cerr, options.log_format);
  lme::libvirt::SilenceDefaultErrorPrinting();
  std::shared_ptr<lme::WebSecurity> web;  // TLS and basic auth, when asked for
  try {
    web = std::make_shared<lme::WebSecurity>(options.web_config_file, logger);
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
  const int status = Serve(options, build_info, web, exporter, logger);
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
  // A write to a socket whose peer has gone must be an error, not the end
  // of the exporter: libvirt's client writes without MSG_NOSIGNAL, e.g. the
  // close of a connection to a libvirtd that restarted (seen in the
  // real-guest lane: killed by SIGPIPE on SIGTERM after a daemon restart).
  std::signal(SIGPIPE, SIG_IGN);
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
