// The OpenSSL server context for a web config's tls_server_config.
#pragma once

#include <memory>

#include "web/web_config.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace lme {

// Reads and checks the key and certificates, so that a bad file is reported
// with a reason (at start-up: exit 1; on a reload: the last good context
// stays) rather than failing every handshake. Throws WebConfigError.
std::shared_ptr<boost::asio::ssl::context> MakeTlsContext(
    const TlsServerConfig& config);

}  // namespace lme
