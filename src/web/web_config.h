// The web configuration file of the Prometheus exporter-toolkit
// (--web.config.file), so that operators can reuse the file they have for
// node_exporter: everything exporter-toolkit 0.8.2 reads (TLS with its
// versions, suites, curves and client certificates, extra headers, basic
// auth with bcrypt hashes), refused where the toolkit refuses it;
// docs/web-config.md has the details.
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

// Go's tls.ClientAuthType, as the toolkit names them.
enum class ClientAuth {
  kNoClientCert,
  kRequestClientCert,           // asked for, not required, not verified
  kRequireAnyClientCert,        // required, not verified
  kVerifyClientCertIfGiven,     // verified when given
  kRequireAndVerifyClientCert,  // required and verified
};

enum class TlsVersion { kTls10, kTls11, kTls12, kTls13 };

struct TlsServerConfig {
  std::string cert_file;  // may hold intermediate certificates after the leaf
  std::string key_file;
  ClientAuth client_auth = ClientAuth::kNoClientCert;
  // Verifying types check client certificates against this file, or against
  // the system's trust store when it is empty, as Go does.
  std::string client_ca_file;
  TlsVersion min_version = TlsVersion::kTls12;
  TlsVersion max_version = TlsVersion::kTls13;
  // OpenSSL's names of the TLS 1.2 (and older) suites cipher_suites asks
  // for, in its order; empty: the defaults. Go, and so the toolkit, has no
  // setting for TLS 1.3 suites: their names are accepted and change nothing.
  std::vector<std::string> cipher_suites;
  bool prefer_server_cipher_suites = true;
  // OpenSSL's names of the curve_preferences groups; empty: the defaults.
  std::vector<std::string> curves;
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
