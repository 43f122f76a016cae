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

void CheckBool(const YAML::Node& node, const std::string& name) {
  bool value = false;
  if (!node.IsNull() && !YAML::convert<bool>::decode(node, value)) {
    throw WebConfigError(name + " must be true or false");
  }
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
};

RawTls ReadTlsFields(const YAML::Node& node) {
  static const std::map<std::string, std::string RawTls::*> kStrings = {
      {"cert_file", &RawTls::cert_file},
      {"key_file", &RawTls::key_file},
      {"client_auth_type", &RawTls::client_auth_type},
      {"client_ca_file", &RawTls::client_ca_file},
      {"min_version", &RawTls::min_version},
      {"max_version", &RawTls::max_version}};
  static const std::set<std::string> kUnsupported = {
      "cert",          "key",
      "client_ca",     "client_allowed_sans",
      "cipher_suites", "curve_preferences"};
  RawTls raw;
  for (const auto& [key, value] : MappingFields(node, "tls_server_config")) {
    const std::string name = "tls_server_config." + key;
    if (const auto field = kStrings.find(key); field != kStrings.end()) {
      raw.*(field->second) = String(value, name);
    } else if (key == "prefer_server_cipher_suites") {
      CheckBool(value, name);  // without cipher_suites it changes nothing
    } else if (kUnsupported.count(key) != 0) {
      RequireUnset(value, name);
    } else {
      throw UnknownKey(name);
    }
  }
  return raw;
}

ClientAuth ParseClientAuth(const std::string& text) {
  if (text.empty() || text == "NoClientCert") return ClientAuth::kNoClientCert;
  if (text == "VerifyClientCertIfGiven") {
    return ClientAuth::kVerifyClientCertIfGiven;
  }
  if (text == "RequireAndVerifyClientCert") {
    return ClientAuth::kRequireAndVerifyClientCert;
  }
  if (text == "RequestClientCert" || text == "RequireAnyClientCert") {
    throw WebConfigError("tls_server_config.client_auth_type " + text +
                         " accepts client certificates without verifying "
                         "them and is not supported; use "
                         "RequireAndVerifyClientCert");
  }
  throw WebConfigError("tls_server_config.client_auth_type: unknown value '" +
                       text +
                       "' (expected NoClientCert, VerifyClientCertIfGiven or "
                       "RequireAndVerifyClientCert)");
}

TlsVersion ParseMinVersion(const std::string& text) {
  if (text.empty() || text == "TLS12") return TlsVersion::kTls12;
  if (text == "TLS13") return TlsVersion::kTls13;
  if (text == "TLS10" || text == "TLS11") {
    throw WebConfigError("tls_server_config.min_version " + text +
                         " is not supported: TLS12 is the oldest version "
                         "served");
  }
  throw WebConfigError("tls_server_config.min_version: unknown value '" + text +
                       "' (expected TLS12 or TLS13)");
}

// TLS 1.3 is the newest version OpenSSL speaks, so only the default fits.
void CheckMaxVersion(const std::string& text) {
  if (text.empty() || text == "TLS13") return;
  throw WebConfigError("tls_server_config.max_version " + text +
                       " is not supported: only TLS13 (the default)");
}

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path.front() == '/' || base_dir.empty()) return path;
  return base_dir + "/" + path;
}

void CheckClientCa(const TlsServerConfig& tls, const RawTls& raw) {
  const bool verifies = tls.client_auth != ClientAuth::kNoClientCert;
  if (verifies && raw.client_ca_file.empty()) {
    throw WebConfigError("tls_server_config.client_auth_type " +
                         raw.client_auth_type + " needs client_ca_file");
  }
  if (!verifies && !raw.client_ca_file.empty()) {
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
  tls.min_version = ParseMinVersion(raw.min_version);
  CheckMaxVersion(raw.max_version);
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

void CheckHttpServerConfig(const YAML::Node& node) {
  for (const auto& [key, value] : MappingFields(node, "http_server_config")) {
    const std::string name = "http_server_config." + key;
    if (key == "http2") {
      CheckBool(value, name);  // HTTP/1.1 is served either way
    } else if (key == "headers") {
      RequireUnset(value, name);
    } else {
      throw UnknownKey(name);
    }
  }
}

WebConfig ParseDocument(const YAML::Node& root, const std::string& base_dir) {
  WebConfig config;
  for (const auto& [key, value] : MappingFields(root, "")) {
    if (key == "tls_server_config") {
      config.tls = ParseTls(value, base_dir);
    } else if (key == "basic_auth_users") {
      config.basic_auth_users = ParseUsers(value);
    } else if (key == "http_server_config") {
      CheckHttpServerConfig(value);
    } else if (key == "rate_limit") {
      RequireUnset(value, key);
    } else {
      throw UnknownKey(key);
    }
  }
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
