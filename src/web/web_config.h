// The web configuration file of the Prometheus exporter-toolkit
// (--web.config.file), so that operators can reuse the file they have for
// node_exporter. Supported subset: TLS with optional client certificates and
// basic auth with bcrypt hashes; docs/web-config.md lists what is refused.
#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lme {

// Its message names the offending setting or file, for the operator.
class WebConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class ClientAuth {
  kNoClientCert,
  kVerifyClientCertIfGiven,
  kRequireAndVerifyClientCert,
};

enum class TlsVersion { kTls12, kTls13 };

struct TlsServerConfig {
  std::string cert_file;  // may hold intermediate certificates after the leaf
  std::string key_file;
  ClientAuth client_auth = ClientAuth::kNoClientCert;
  std::string client_ca_file;  // set exactly when client_auth verifies
  TlsVersion min_version = TlsVersion::kTls12;
};

struct WebConfig {
  std::optional<TlsServerConfig> tls;  // empty: plain HTTP
  // Username -> bcrypt hash; empty: no authentication.
  std::map<std::string, std::string> basic_auth_users;
  // http_server_config.headers: added to every answer.
  std::vector<std::pair<std::string, std::string>> headers;
};

// Pure (no file access), so that a fuzzer can target it. Relative file names
// are resolved against base_dir, the directory of the config file, as the
// exporter-toolkit does. Unknown keys are errors, like the toolkit's strict
// decoding, and so are known keys this exporter cannot honour: silently
// ignoring, say, cipher_suites would serve weaker TLS than the file asks for.
// Throws WebConfigError and nothing else.
WebConfig ParseWebConfig(std::string_view yaml,
                         const std::string& base_dir = "");

// Reads and parses the file and checks that the files it names can be read.
// Throws WebConfigError.
WebConfig LoadWebConfig(const std::string& path);

// Whether `hash` has the form of a bcrypt hash ($2a$, $2b$ or $2y$, cost
// 04-31, 53 characters of salt and digest).
bool IsBcryptHash(std::string_view hash);

}  // namespace lme
