// What --web.config.file asks of the HTTP server: TLS and basic auth.
#pragma once

#include <memory>
#include <string>

#include "web/http_server.h"
#include "web/web_config.h"

namespace lme {

class BasicAuthenticator;
class TlsListener;

class WebSecurity {
 public:
  // An empty path means no file: plain HTTP without authentication. Throws
  // WebConfigError for a file that is unreadable, invalid or names bad TLS
  // files, and std::runtime_error when this host cannot serve TLS.
  explicit WebSecurity(const std::string& config_file);
  explicit WebSecurity(const WebConfig& config);
  ~WebSecurity();
  WebSecurity(const WebSecurity&) = delete;
  WebSecurity& operator=(const WebSecurity&) = delete;

  // `base` with the TLS settings and the basic-auth check added. Keep this
  // object alive until the server has started: the TLS settings name an
  // in-memory file it owns. The check stays valid on its own.
  HttpServerOptions Apply(HttpServerOptions base) const;

  bool Tls() const { return tls_ != nullptr; }
  bool BasicAuth() const { return authenticator_ != nullptr; }

 private:
  std::unique_ptr<TlsListener> tls_;
  std::shared_ptr<BasicAuthenticator> authenticator_;
};

}  // namespace lme
