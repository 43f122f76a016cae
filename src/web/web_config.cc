#include "web/web_config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <utility>
#include <vector>

namespace lme {
namespace {

using Fields = std::vector<std::pair<std::string, YAML::Node>>;

std::string Qualified(const std::string& where, const std::string& key) {
  return where.empty() ? key : where + "." + key;
}

// Go's strict decoding rejects a key given twice, while yaml-cpp would
// silently keep one of the values. `where` is empty for the top level.
Fields MappingFields(const YAML::Node& node, const std::string& where) {
  Fields fields;
  if (node.IsNull()) return fields;
  if (!node.IsMap()) {
    throw WebConfigError(where.empty() ? "the web config must be a mapping"
                                       : where + " must be a mapping");
  }
  std::set<std::string> seen;
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) {
      throw WebConfigError(Qualified(where, "<key>") +
                           ": keys must be strings");
    }
    const std::string& key = entry.first.Scalar();
    if (!seen.insert(key).second) {
      throw WebConfigError(Qualified(where, key) + " is set twice");
    }
    fields.emplace_back(key, entry.second);
  }
  return fields;
}

WebConfigError UnknownKey(const std::string& name) {
  return WebConfigError("unknown setting " + name);
}

std::string String(const YAML::Node& node, const std::string& name) {
  if (node.IsNull()) return "";
  if (!node.IsScalar()) throw WebConfigError(name + " must be a string");
  return node.Scalar();
}

// Toolkit settings this exporter cannot honour are accepted only when they
// ask for nothing (absent, null or an empty list or mapping).
void RequireUnset(const YAML::Node& node, const std::string& name) {
  const bool empty = node.IsNull() ||
                     (node.IsScalar() && node.Scalar().empty()) ||
                     ((node.IsSequence() || node.IsMap()) && node.size() == 0);
  if (!empty) {
    throw WebConfigError(name +
                         " is not supported by libvirt-memory-exporter "
                         "(see docs/web-config.md)");
  }
}

struct RawTls {
  std::string cert_file, key_file, client_auth_type, client_ca_file,
      min_version, max_version;
  std::vector<std::string> cipher_suites, curve_preferences;
  bool prefer_server_cipher_suites = true;
};

std::vector<std::string> StringList(const YAML::Node& node,
                                    const std::string& name) {
  std::vector<std::string> list;
  if (node.IsNull()) return list;
  if (!node.IsSequence()) throw WebConfigError(name + " must be a list");
  for (const auto& item : node) list.push_back(String(item, name));
  return list;
}

bool Bool(const YAML::Node& node, const std::string& name, bool fallback) {
  bool value = fallback;
  if (!node.IsNull() && !YAML::convert<bool>::decode(node, value)) {
    throw WebConfigError(name + " must be true or false");
  }
  return value;
}

RawTls ReadTlsFields(const YAML::Node& node) {
  static const std::map<std::string, std::string RawTls::*> kStrings = {
      {"cert_file", &RawTls::cert_file},
      {"key_file", &RawTls::key_file},
      {"client_auth_type", &RawTls::client_auth_type},
      {"client_ca_file", &RawTls::client_ca_file},
      {"min_version", &RawTls::min_version},
      {"max_version", &RawTls::max_version}};
  // Newer toolkits' settings, accepted only when they ask for nothing.
  static const std::set<std::string> kUnsupported = {"cert", "key", "client_ca",
                                                     "client_allowed_sans"};
  RawTls raw;
  for (const auto& [key, value] : MappingFields(node, "tls_server_config")) {
    const std::string name = "tls_server_config." + key;
    if (const auto field = kStrings.find(key); field != kStrings.end()) {
      raw.*(field->second) = String(value, name);
    } else if (key == "cipher_suites") {
      raw.cipher_suites = StringList(value, name);
    } else if (key == "curve_preferences") {
      raw.curve_preferences = StringList(value, name);
    } else if (key == "prefer_server_cipher_suites") {
      raw.prefer_server_cipher_suites = Bool(value, name, true);
    } else if (kUnsupported.count(key) != 0) {
      RequireUnset(value, name);
    } else {
      throw UnknownKey(name);
    }
  }
  return raw;
}

ClientAuth ParseClientAuth(const std::string& text) {
  static const std::map<std::string, ClientAuth> kTypes = {
      {"", ClientAuth::kNoClientCert},
      {"NoClientCert", ClientAuth::kNoClientCert},
      {"RequestClientCert", ClientAuth::kRequestClientCert},
      {"RequireAnyClientCert", ClientAuth::kRequireAnyClientCert},
      // The toolkit's old name, kept for compatibility as it does.
      {"RequireClientCert", ClientAuth::kRequireAnyClientCert},
      {"VerifyClientCertIfGiven", ClientAuth::kVerifyClientCertIfGiven},
      {"RequireAndVerifyClientCert", ClientAuth::kRequireAndVerifyClientCert}};
  const auto type = kTypes.find(text);
  if (type == kTypes.end()) {
    throw WebConfigError(
        "tls_server_config.client_auth_type: unknown value '" + text +
        "' (expected NoClientCert, RequestClientCert, RequireAnyClientCert, "
        "VerifyClientCertIfGiven or RequireAndVerifyClientCert)");
  }
  return type->second;
}

TlsVersion ParseVersion(const std::string& text, const std::string& name,
                        TlsVersion fallback) {
  static const std::map<std::string, TlsVersion> kVersions = {
      {"TLS10", TlsVersion::kTls10},
      {"TLS11", TlsVersion::kTls11},
      {"TLS12", TlsVersion::kTls12},
      {"TLS13", TlsVersion::kTls13}};
  if (text.empty()) return fallback;
  const auto version = kVersions.find(text);
  if (version == kVersions.end()) {
    throw WebConfigError(name + ": unknown TLS version '" + text +
                         "' (expected TLS10, TLS11, TLS12 or TLS13)");
  }
  return version->second;
}

struct CipherName {
  const char* go;
  const char* openssl;  // null: a TLS 1.3 suite, which Go does not configure
};

// Go's tls.CipherSuites(): the suites the toolkit accepts by name (the
// insecure ones it refuses as unknown).
constexpr CipherName kCiphers[] = {
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
    {"TLS_AES_128_GCM_SHA256", nullptr},
    {"TLS_AES_256_GCM_SHA384", nullptr},
    {"TLS_CHACHA20_POLY1305_SHA256", nullptr},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
     "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
     "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
     "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
     "ECDHE-ECDSA-CHACHA20-POLY1305"},
};

std::vector<std::string> ParseCiphers(const std::vector<std::string>& names) {
  std::vector<std::string> openssl;
  for (const auto& name : names) {
    const CipherName* found = nullptr;
    for (const auto& cipher : kCiphers) {
      if (name == cipher.go) found = &cipher;
    }
    if (found == nullptr) {
      throw WebConfigError("tls_server_config.cipher_suites: unknown cipher " +
                           name +
                           " (Go's names, such as "
                           "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)");
    }
    if (found->openssl != nullptr) openssl.emplace_back(found->openssl);
  }
  return openssl;
}

std::vector<std::string> ParseCurves(const std::vector<std::string>& names) {
  static const std::map<std::string, std::string> kCurves = {
      {"CurveP256", "P-256"},
      {"CurveP384", "P-384"},
      {"CurveP521", "P-521"},
      {"X25519", "X25519"}};
  std::vector<std::string> groups;
  for (const auto& name : names) {
    const auto curve = kCurves.find(name);
    if (curve == kCurves.end()) {
      throw WebConfigError(
          "tls_server_config.curve_preferences: unknown curve " + name +
          " (expected CurveP256, CurveP384, CurveP521 or "
          "X25519)");
    }
    groups.push_back(curve->second);
  }
  return groups;
}

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path.front() == '/' || base_dir.empty()) return path;
  return base_dir + "/" + path;
}

void CheckClientCa(const TlsServerConfig& tls, const RawTls& raw) {
  if (tls.client_auth == ClientAuth::kNoClientCert &&
      !raw.client_ca_file.empty()) {
    throw WebConfigError(
        "tls_server_config.client_ca_file is set but client_auth_type is "
        "NoClientCert, so client certificates would not be checked");
  }
}

// Like the toolkit, a TLS section that names neither files nor client
// authentication means plain HTTP.
std::optional<TlsServerConfig> ParseTls(const YAML::Node& node,
                                        const std::string& base_dir) {
  const RawTls raw = ReadTlsFields(node);
  if (raw.cert_file.empty() && raw.key_file.empty() &&
      raw.client_auth_type.empty() && raw.client_ca_file.empty()) {
    return std::nullopt;
  }
  if (raw.cert_file.empty() || raw.key_file.empty()) {
    throw WebConfigError("tls_server_config needs both cert_file and key_file");
  }
  TlsServerConfig tls;
  tls.cert_file = Resolve(base_dir, raw.cert_file);
  tls.key_file = Resolve(base_dir, raw.key_file);
  tls.client_auth = ParseClientAuth(raw.client_auth_type);
  CheckClientCa(tls, raw);
  tls.client_ca_file = Resolve(base_dir, raw.client_ca_file);
  tls.min_version = ParseVersion(
      raw.min_version, "tls_server_config.min_version", TlsVersion::kTls12);
  tls.max_version = ParseVersion(
      raw.max_version, "tls_server_config.max_version", TlsVersion::kTls13);
  tls.cipher_suites = ParseCiphers(raw.cipher_suites);
  tls.prefer_server_cipher_suites = raw.prefer_server_cipher_suites;
  tls.curves = ParseCurves(raw.curve_preferences);
  if (!raw.cipher_suites.empty() && tls.cipher_suites.empty() &&
      tls.min_version != TlsVersion::kTls13) {
    // Only TLS 1.3 names: Go would then offer no TLS 1.2 suite at all.
    tls.cipher_suites.push_back("!ALL");
  }
  return tls;
}

// The hash itself stays out of the messages: it is a secret, if a weak one.
std::map<std::string, std::string> ParseUsers(const YAML::Node& node) {
  std::map<std::string, std::string> users;
  for (const auto& [user, value] : MappingFields(node, "basic_auth_users")) {
    const std::string name = "basic_auth_users." + user;
    if (user.find(':') != std::string::npos) {
      throw WebConfigError(name + ": basic auth usernames cannot contain ':'");
    }
    const std::string hash = String(value, name);
    if (!IsBcryptHash(hash)) {
      throw WebConfigError(name +
                           " is not a bcrypt hash (such as $2y$10$ and 53 "
                           "more characters; see docs/web-config.md)");
    }
    users.emplace(user, hash);
  }
  return users;
}

// The toolkit's list: only these, and for two of them only these values.
void CheckHeader(const std::string& header, const std::string& value) {
  static const std::map<std::string, std::set<std::string>> kHeaders = {
      {"Strict-Transport-Security", {}},
      {"X-Content-Type-Options", {"nosniff"}},
      {"X-Frame-Options", {"deny", "sameorigin"}},
      {"X-XSS-Protection", {}},
      {"Content-Security-Policy", {}}};
  const auto allowed = kHeaders.find(header);
  if (allowed == kHeaders.end()) {
    throw WebConfigError("http_server_config.headers: HTTP header \"" + header +
                         "\" can not be configured");
  }
  if (!allowed->second.empty() && allowed->second.count(value) == 0) {
    std::string expected;
    for (const auto& one : allowed->second) {
      expected += (expected.empty() ? "" : ", ") + one;
    }
    throw WebConfigError("http_server_config.headers: invalid value for " +
                         header + ": '" + value + "' (expected " + expected +
                         ")");
  }
  // A value that would end the header line and start another.
  if (value.find_first_of("\r\n") != std::string::npos) {
    throw WebConfigError("http_server_config.headers." + header +
                         " has a line break");
  }
}

struct HttpServerConfig {
  bool http2 = true;
  std::vector<std::pair<std::string, std::string>> headers;
};

HttpServerConfig ParseHttpServerConfig(const YAML::Node& node) {
  HttpServerConfig config;
  for (const auto& [key, value] : MappingFields(node, "http_server_config")) {
    const std::string name = "http_server_config." + key;
    if (key == "http2") {
      // HTTP/1.1 is served either way; it matters for cipher_suites below.
      config.http2 = Bool(value, name, true);
    } else if (key == "headers") {
      for (const auto& [header, text] : MappingFields(value, name)) {
        const std::string header_value = String(text, name + "." + header);
        CheckHeader(header, header_value);
        config.headers.emplace_back(header, header_value);
      }
    } else {
      throw UnknownKey(name);
    }
  }
  return config;
}

// Go's HTTP/2 server refuses a suite list without the one HTTP/2 requires,
// so the toolkit refuses such a file unless http2 is off: refused here too,
// so a file behaves the same with either exporter.
void CheckHttp2Cipher(const RawTls& raw, bool http2) {
  if (!http2 || raw.cipher_suites.empty()) return;
  for (const auto& name : raw.cipher_suites) {
    if (name == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" ||
        name == "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256") {
      return;
    }
  }
  throw WebConfigError(
      "tls_server_config.cipher_suites is missing an HTTP/2-required "
      "AES_128_GCM_SHA256 cipher (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 or "
      "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256), as the exporter-toolkit "
      "requires while http_server_config.http2 is true");
}

WebConfig ParseDocument(const YAML::Node& root, const std::string& base_dir) {
  WebConfig config;
  HttpServerConfig http;
  RawTls raw_tls;
  for (const auto& [key, value] : MappingFields(root, "")) {
    if (key == "tls_server_config") {
      raw_tls = ReadTlsFields(value);
      config.tls = ParseTls(value, base_dir);
    } else if (key == "basic_auth_users") {
      config.basic_auth_users = ParseUsers(value);
    } else if (key == "http_server_config") {
      http = ParseHttpServerConfig(value);
    } else if (key == "rate_limit") {
      RequireUnset(value, key);
    } else {
      throw UnknownKey(key);
    }
  }
  if (config.tls) CheckHttp2Cipher(raw_tls, http.http2);
  config.headers = std::move(http.headers);
  return config;
}

std::string ReadConfigFile(const std::string& path) {
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(
      std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) {
    throw WebConfigError("cannot read " + path + ": " + std::strerror(errno));
  }
  std::string text;
  char buffer[4096];
  for (std::size_t n;
       (n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0;) {
    text.append(buffer, n);
  }
  if (std::ferror(file.get())) {
    throw WebConfigError("cannot read " + path + ": " + std::strerror(errno));
  }
  return text;
}

std::string DirectoryOf(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Fails at start-up rather than at the first TLS handshake.
void CheckReadable(const std::string& name, const std::string& path) {
  if (path.empty()) return;
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    throw WebConfigError(name + " " + path + ": " + std::strerror(errno));
  }
  std::fclose(file);
}

bool IsBcryptAlphabet(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '/';
}

}  // namespace

bool IsBcryptHash(std::string_view hash) {
  if (hash.size() != 60 || hash[0] != '$' || hash[1] != '2' ||
      (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') || hash[3] != '$' ||
      hash[6] != '$') {
    return false;
  }
  if (hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9') {
    return false;
  }
  const int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
  if (cost < 4 || cost > 31) return false;
  for (char c : hash.substr(7)) {
    if (!IsBcryptAlphabet(c)) return false;
  }
  return true;
}

WebConfig ParseWebConfig(std::string_view yaml, const std::string& base_dir) {
  try {
    return ParseDocument(YAML::Load(std::string(yaml)), base_dir);
  } catch (const WebConfigError&) {
    throw;
  } catch (const YAML::ParserException& e) {
    throw WebConfigError("not valid YAML: line " +
                         std::to_string(e.mark.line + 1) + ", column " +
                         std::to_string(e.mark.column + 1) + ": " + e.msg);
  } catch (const YAML::Exception& e) {
    throw WebConfigError(std::string("not a valid web config: ") + e.what());
  }
}

WebConfig LoadWebConfig(const std::string& path) {
  WebConfig config = ParseWebConfig(ReadConfigFile(path), DirectoryOf(path));
  if (config.tls) {
    CheckReadable("tls_server_config.cert_file", config.tls->cert_file);
    CheckReadable("tls_server_config.key_file", config.tls->key_file);
    CheckReadable("tls_server_config.client_ca_file",
                  config.tls->client_ca_file);
  }
  return config;
}

}  // namespace lme
