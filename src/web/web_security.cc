#include "web/web_security.h"

#include <exception>

#include "web/basic_auth.h"
#include "web/tls_listener.h"

namespace lme {
namespace {

WebConfig LoadIfNamed(const std::string& config_file) {
  return config_file.empty() ? WebConfig{} : LoadWebConfig(config_file);
}

}  // namespace

WebSecurity::WebSecurity(const std::string& config_file)
    : WebSecurity(LoadIfNamed(config_file)) {}

WebSecurity::WebSecurity(const WebConfig& config) {
  if (config.tls) tls_ = std::make_unique<TlsListener>(*config.tls);
  if (!config.basic_auth_users.empty()) {
    authenticator_ =
        std::make_shared<BasicAuthenticator>(config.basic_auth_users);
  }
}

WebSecurity::~WebSecurity() = default;

HttpServerOptions WebSecurity::Apply(HttpServerOptions base) const {
  if (tls_) base.tls_settings = tls_->Settings();
  if (authenticator_) {
    // CivetWeb calls the check from C: an exception must not cross it, and
    // a check that failed to run has not authenticated anyone.
    base.authorize = [authenticator = authenticator_](const char* header) {
      try {
        return authenticator->Allows(header);
      } catch (const std::exception&) {
        return false;
      }
    };
  }
  return base;
}

}  // namespace lme
