#include "web/web_config.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "catch_compat.h"
#include "cli/options.h"

namespace lme {
namespace {

// htpasswd -nbBC 4 alice 'correct horse'
constexpr const char* kAliceHash =
    "$2y$04$JP6IVPhM7xqtDYvKFfkJTOc/VQWV/rTqA2XudFHeNOjkQhFusJS42";

std::string ErrorOf(const std::string& yaml) {
  try {
    ParseWebConfig(yaml, "/etc/exporter");
  } catch (const WebConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST_CASE("a node_exporter web config is read", "[web_config]") {
  const WebConfig config = ParseWebConfig(std::string(R"(
tls_server_config:
  cert_file: tls/server.crt
  key_file: /secrets/server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
  min_version: TLS13
  max_version: TLS13
  prefer_server_cipher_suites: true
  cipher_suites: []
  curve_preferences: []
http_server_config:
  http2: false
basic_auth_users:
  alice: )") + kAliceHash + "\n  bob: '" + kAliceHash +
                                              "'\n",
                                          "/etc/exporter");
  REQUIRE(config.tls.has_value());
  CHECK(config.tls->cert_file == "/etc/exporter/tls/server.crt");
  CHECK(config.tls->key_file == "/secrets/server.key");
  CHECK(config.tls->client_auth == ClientAuth::kRequireAndVerifyClientCert);
  CHECK(config.tls->client_ca_file == "/etc/exporter/ca.crt");
  CHECK(config.tls->min_version == TlsVersion::kTls13);
  CHECK(config.basic_auth_users.size() == 2);
  CHECK(config.basic_auth_users.at("alice") == kAliceHash);
}

TEST_CASE("defaults: TLS 1.2 and no client certificates", "[web_config]") {
  const WebConfig config = ParseWebConfig(
      "tls_server_config: {cert_file: a.crt, key_file: a.key}\n");
  REQUIRE(config.tls.has_value());
  CHECK(config.tls->cert_file == "a.crt");  // no base: the working directory
  CHECK(config.tls->client_auth == ClientAuth::kNoClientCert);
  CHECK(config.tls->client_ca_file.empty());
  CHECK(config.tls->min_version == TlsVersion::kTls12);
  CHECK(config.basic_auth_users.empty());
}

TEST_CASE("files without TLS settings mean plain HTTP", "[web_config]") {
  for (const char* yaml :
       {"", "# nothing\n", "tls_server_config:\n", "tls_server_config: {}\n",
        "basic_auth_users:\n", "tls_server_config: {min_version: TLS13}\n"}) {
    INFO(yaml);
    const WebConfig config = ParseWebConfig(yaml);
    CHECK_FALSE(config.tls.has_value());
    CHECK(config.basic_auth_users.empty());
  }
}

TEST_CASE("unknown settings are refused, like the toolkit's strict decoding",
          "[web_config]") {
  CHECK(ErrorOf("tls_config: {}\n") == "unknown setting tls_config");
  CHECK(ErrorOf("tls_server_config: {cert_file: a, key_file: b, "
                "certfile: c}\n") ==
        "unknown setting tls_server_config.certfile");
  CHECK(ErrorOf("http_server_config: {http3: true}\n") ==
        "unknown setting http_server_config.http3");
}

TEST_CASE("settings of newer toolkits are refused unless empty",
          "[web_config]") {
  for (const char* yaml :
       {"tls_server_config: {client_allowed_sans: [scraper]}\n",
        "tls_server_config: {cert: '-----BEGIN CERTIFICATE-----'}\n",
        "rate_limit: {interval: 1s, burst: 5}\n"}) {
    INFO(yaml);
    CHECK_THAT(ErrorOf(yaml), test_matchers::Contains("is not supported"));
  }
}

TEST_CASE("cipher suites by Go's names, curves, versions", "[web_config]") {
  const WebConfig config = ParseWebConfig(R"(
tls_server_config:
  cert_file: a
  key_file: b
  cipher_suites:
  - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
  - TLS_AES_128_GCM_SHA256
  - TLS_RSA_WITH_AES_128_CBC_SHA
  prefer_server_cipher_suites: false
  curve_preferences: [CurveP521, X25519]
  min_version: TLS10
  max_version: TLS12
)");
  REQUIRE(config.tls.has_value());
  CHECK(config.tls->cipher_suites ==
        std::vector<std::string>{"ECDHE-RSA-AES128-GCM-SHA256", "AES128-SHA"});
  CHECK_FALSE(config.tls->prefer_server_cipher_suites);
  CHECK(config.tls->curves == std::vector<std::string>{"P-521", "X25519"});
  CHECK(config.tls->min_version == TlsVersion::kTls10);
  CHECK(config.tls->max_version == TlsVersion::kTls12);
  const std::string files = "tls_server_config: {cert_file: a, key_file: b, ";
  CHECK_THAT(
      ErrorOf(files + "cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]}\n"),
      test_matchers::Contains("unknown cipher TLS_RSA_WITH_RC4_128_SHA"));
  CHECK_THAT(ErrorOf(files + "curve_preferences: [CurveP999]}\n"),
             test_matchers::Contains("unknown curve CurveP999"));
  CHECK_THAT(ErrorOf(files + "min_version: TLS111}\n"),
             test_matchers::Contains("unknown TLS version 'TLS111'"));
  // Without an HTTP/2 suite the toolkit refuses the list unless http2 is off.
  CHECK_THAT(
      ErrorOf(files + "cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]}\n"),
      test_matchers::Contains("HTTP/2-required"));
  CHECK(ErrorOf(files + "cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]}\n" +
                "http_server_config: {http2: false}\n") == "no error");
}

TEST_CASE("extra headers: the toolkit's five, with its values",
          "[web_config]") {
  const WebConfig config = ParseWebConfig(R"(
http_server_config:
  headers:
    X-Frame-Options: deny
    Strict-Transport-Security: max-age=31536000; includeSubDomains
    X-Content-Type-Options: nosniff
)");
  CHECK(config.headers.size() == 3);
  CHECK_THAT(ErrorOf("http_server_config: {headers: {X-Frame-Options: allow}}"),
             test_matchers::Contains("invalid value for X-Frame-Options"));
  CHECK_THAT(ErrorOf("http_server_config: {headers: {Server: x}}"),
             test_matchers::Contains("\"Server\" can not be configured"));
}

TEST_CASE("YAML errors say where", "[web_config]") {
  CHECK_THAT(ErrorOf("tls_server_config:\n  cert_file: [a\n"),
             test_matchers::StartsWith("not valid YAML: line "));
  CHECK(ErrorOf("- a\n- b\n") == "the web config must be a mapping");
  CHECK(ErrorOf("tls_server_config: yes\n") ==
        "tls_server_config must be a mapping");
  CHECK(ErrorOf("tls_server_config: {cert_file: [a], key_file: b}\n") ==
        "tls_server_config.cert_file must be a string");
  CHECK(ErrorOf("http_server_config: {http2: maybe}\n") ==
        "http_server_config.http2 must be true or false");
  CHECK(ErrorOf("basic_auth_users: {a: x}\nbasic_auth_users: {}\n") ==
        "basic_auth_users is set twice");
  CHECK(ErrorOf("basic_auth_users: {a: x, a: y}\n") ==
        "basic_auth_users.a is set twice");
}

TEST_CASE("bad bcrypt hashes are refused without echoing them",
          "[web_config]") {
  const std::string error = ErrorOf("basic_auth_users:\n  alice: s3cret\n");
  CHECK_THAT(error, test_matchers::StartsWith(
                        "basic_auth_users.alice is not a bcrypt hash"));
  CHECK_THAT(error, !test_matchers::Contains("s3cret"));
  CHECK_THAT(ErrorOf("basic_auth_users:\n  alice:\n"),
             test_matchers::Contains("is not a bcrypt hash"));
  CHECK_THAT(ErrorOf(std::string("basic_auth_users:\n  'a:b': ") + kAliceHash),
             test_matchers::Contains("cannot contain ':'"));
}

TEST_CASE("bcrypt hash forms", "[web_config]") {
  CHECK(IsBcryptHash(kAliceHash));
  std::string hash = kAliceHash;
  for (const char* prefix : {"$2a$", "$2b$", "$2y$"}) {
    CHECK(IsBcryptHash(prefix + hash.substr(4)));
  }
  CHECK_FALSE(IsBcryptHash("$2x$" + hash.substr(4)));
  CHECK_FALSE(IsBcryptHash("$2y$03$" + hash.substr(7)));  // cost below 4
  CHECK_FALSE(IsBcryptHash("$2y$32$" + hash.substr(7)));
  CHECK_FALSE(IsBcryptHash(hash.substr(0, 59)));
  CHECK_FALSE(IsBcryptHash(hash.substr(0, 59) + "!"));
  CHECK_FALSE(IsBcryptHash("$6$rounds=5000$salt$hash"));
}

TEST_CASE("client authentication policies", "[web_config]") {
  const std::string files = "tls_server_config: {cert_file: a, key_file: b, ";
  CHECK(ParseWebConfig(files + "client_auth_type: VerifyClientCertIfGiven, "
                               "client_ca_file: ca}\n")
            .tls->client_auth == ClientAuth::kVerifyClientCertIfGiven);
  CHECK(ParseWebConfig(files + "client_auth_type: RequireAnyClientCert}\n")
            .tls->client_auth == ClientAuth::kRequireAnyClientCert);
  CHECK(ParseWebConfig(files + "client_auth_type: RequireClientCert}\n")
            .tls->client_auth == ClientAuth::kRequireAnyClientCert);
  CHECK(ParseWebConfig(files + "client_auth_type: RequestClientCert}\n")
            .tls->client_auth == ClientAuth::kRequestClientCert);
  // Without client_ca_file: the system's trust store, as Go does.
  const WebConfig system =
      ParseWebConfig(files + "client_auth_type: RequireAndVerifyClientCert}\n");
  CHECK(system.tls->client_auth == ClientAuth::kRequireAndVerifyClientCert);
  CHECK(system.tls->client_ca_file.empty());
  CHECK_THAT(ErrorOf(files + "client_auth_type: Always}\n"),
             test_matchers::Contains("unknown value 'Always'"));
  CHECK_THAT(ErrorOf(files + "client_ca_file: ca}\n"),
             test_matchers::Contains("would not be checked"));
  CHECK(ErrorOf("tls_server_config: {cert_file: a}\n") ==
        "tls_server_config needs both cert_file and key_file");
}

TEST_CASE("odd YAML only ever throws WebConfigError", "[web_config]") {
  for (const char* yaml :
       {"[", "{", "\t", "*alias", "&a [*a]", "? [a, b]\n: c\n", "!!binary x",
        "a: &x {b: *x}", "basic_auth_users: [a, b]\n", "%YAML 9.9\n---\n",
        "tls_server_config: {? [x]: y}\n", "\xff\xfe"}) {
    INFO(yaml);
    try {
      ParseWebConfig(yaml);
    } catch (const WebConfigError&) {
    }
  }
}

// A scratch directory for files that LoadWebConfig reads.
struct TempDir {
  std::string path;
  TempDir() {
    char pattern[] = "/tmp/lme-web-config.XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    path = pattern;
  }
  ~TempDir() { CHECK(std::system(("rm -rf " + path).c_str()) == 0); }
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(path + "/" + name) << text;
    return path + "/" + name;
  }
};

TEST_CASE("loading: files are found next to the config file", "[web_config]") {
  TempDir dir;
  dir.Write("server.crt", "cert");
  dir.Write("server.key", "key");
  const std::string file =
      dir.Write("web.yml",
                "tls_server_config: {cert_file: server.crt, key_file: "
                "server.key}\n");
  const WebConfig config = LoadWebConfig(file);
  REQUIRE(config.tls.has_value());
  CHECK(config.tls->cert_file == dir.path + "/server.crt");
}

TEST_CASE("loading: missing files are named", "[web_config]") {
  TempDir dir;
  dir.Write("server.crt", "cert");
  const std::string file =
      dir.Write("web.yml",
                "tls_server_config: {cert_file: server.crt, key_file: "
                "server.key}\n");
  CHECK_THROWS_WITH(LoadWebConfig(file),
                    "tls_server_config.key_file " + dir.path +
                        "/server.key: No such file or directory");
  CHECK_THROWS_WITH(
      LoadWebConfig(dir.path + "/absent.yml"),
      "cannot read " + dir.path + "/absent.yml: No such file or directory");
  CHECK_THROWS_WITH(LoadWebConfig(dir.Write("bad.yml", "a: [")),
                    test_matchers::StartsWith("not valid YAML"));
}

TEST_CASE("the web config flag and its environment variable", "[web_config]") {
  CHECK(ParseCommandLine({}, "v").options->web_config_file.empty());
  CHECK(ParseCommandLine({"--web.config.file", "/etc/web.yml"}, "v")
            .options->web_config_file == "/etc/web.yml");
  setenv("LIBVIRT_EXPORTER_WEB_CONFIG_FILE", "/env/web.yml", 1);
  const ParseResult from_env = ParseCommandLine({}, "v");
  const ParseResult from_flag =
      ParseCommandLine({"--web.config.file=/flag.yml"}, "v");
  unsetenv("LIBVIRT_EXPORTER_WEB_CONFIG_FILE");
  CHECK(from_env.options->web_config_file == "/env/web.yml");
  CHECK(from_flag.options->web_config_file == "/flag.yml");
}

}  // namespace
}  // namespace lme
