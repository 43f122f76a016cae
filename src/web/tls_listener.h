// CivetWeb settings for serving TLS as a web config's tls_server_config asks.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "web/web_config.h"

namespace lme {

using CivetSettings = std::vector<std::pair<std::string, std::string>>;

class TlsListener {
 public:
  // Reads and checks the key and certificates with OpenSSL, so that a bad
  // file stops the exporter at start-up with a reason rather than failing
  // every handshake. Throws WebConfigError for bad files and
  // std::runtime_error when this host's CivetWeb cannot serve TLS.
  explicit TlsListener(const TlsServerConfig& config);
  ~TlsListener();
  TlsListener(const TlsListener&) = delete;
  TlsListener& operator=(const TlsListener&) = delete;

  // CivetWeb takes the key and the certificate chain from one file, so they
  // are joined in an in-memory file that the settings name: it lives as long
  // as this object, which must outlive the start of the server.
  const CivetSettings& Settings() const { return settings_; }

 private:
  int pem_fd_ = -1;
  CivetSettings settings_;
};

}  // namespace lme
