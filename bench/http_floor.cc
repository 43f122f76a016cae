// The HTTP floor of a scrape: serves a fixed body (a body the exporter
// served, saved by bench/bench.py) at /metrics through the exporter's own
// HttpServer, with no libvirt and no rendering. Scraped like the exporter,
// its time is what answering a request with a body that size costs, which
// the exporter's scrape cannot go below.
//
//   lme-http-floor FILE
#include <malloc.h>

#include <csignal>
#include <cstddef>
#include <exception>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "util/logger.h"
#include "web/http_server.h"

namespace {

// The size of the pieces src/core/exposition.cc's ExpositionWriter hands the
// server: each becomes one chunk, so the number of writes matches too.
constexpr std::size_t kPieceSize = 64 * 1024;

}  // namespace

int main(int argc, char** argv) {
  // Before any thread starts, so that only sigwait sees the signals.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // The exporter's malloc setting, so the server allocates as it does there.
  mallopt(M_ARENA_MAX, 1);
  lme::Logger logger(lme::LogLevel::kInfo, std::cerr);
  if (argc != 2) {
    std::cerr << "usage: lme-http-floor FILE\n";
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    logger.Error("cannot open the body", {{"file", argv[1]}});
    return 1;
  }
  const std::string body{std::istreambuf_iterator<char>(in), {}};
  try {
    // The exporter's defaults (threads and all): the same server.
    lme::HttpServerOptions options;
    options.listen_addresses = {"127.0.0.1:0"};
    options.version = "http-floor";
    lme::HttpServer server(
        options,
        [&body](const lme::ScrapeRequest&) -> lme::BodySource {
          auto at = std::make_shared<std::size_t>(0);
          return [&body, at](std::string& out) {
            if (*at >= body.size()) return false;
            out.append(body, *at, kPieceSize);
            *at += kPieceSize;
            return true;
          };
        },
        logger);
    const std::string address =
        "127.0.0.1:" + std::to_string(server.ListeningPorts().at(0));
    // bench/bench.py finds the port in this line, as it does for the exporter.
    logger.Info("listening",
                {{"address", address}, {"telemetry_path", "/metrics"}});
    int signal = 0;
    sigwait(&signals, &signal);
  } catch (const std::exception& e) {
    logger.Error("cannot start the web server", {{"err", e.what()}});
    return 1;
  }
  return 0;
}
