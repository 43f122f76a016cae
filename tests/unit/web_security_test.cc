#include "web/web_security.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>

#include "catch_compat.h"
#include "raw_http.h"
#include "web/tls_context.h"

namespace lme {
namespace {

// htpasswd -nbBC 4 alice 'correct horse'
constexpr const char* kAliceHash =
    "$2y$04$JP6IVPhM7xqtDYvKFfkJTOc/VQWV/rTqA2XudFHeNOjkQhFusJS42";

// "401 Unauthorized" from "HTTP/1.0 401 Unauthorized".
std::string Status(const std::string& response) {
  const auto space = response.find(' ');
  return response.substr(space + 1, response.find("\r\n") - space - 1);
}

HttpServerOptions WithGuard(std::shared_ptr<RequestGuard> guard) {
  HttpServerOptions options;
  options.listen_addresses = {"127.0.0.1:0"};
  options.version = "1.2.3";
  options.guard = std::move(guard);
  return options;
}

BodySource UpOne() {
  auto done = std::make_shared<bool>(false);
  return [done](std::string& out) {
    if (*done) return false;
    *done = true;
    out += "up 1\n";
    return true;
  };
}

struct AuthServer {
  std::ostringstream log;
  Logger logger{LogLevel::kDebug, log};
  std::shared_ptr<WebSecurity> security = std::make_shared<WebSecurity>(
      WebConfig{std::nullopt, {{"alice", kAliceHash}}, {}}, logger);
  HttpServer server{WithGuard(security),
                    [](const ScrapeRequest&) { return UpOne(); }, logger};
  int Port() const { return server.ListeningPorts().at(0); }
};

constexpr const char* kAliceHeader =
    "Authorization: Basic YWxpY2U6Y29ycmVjdCBob3JzZQ==\r\n";

TEST_CASE("without credentials every path answers 401 with a challenge",
          "[web_security]") {
  AuthServer s;
  for (const char* path : {"/metrics", "/", "/elsewhere"}) {
    INFO(path);
    const std::string response = Request(s.Port(), "GET", path);
    CHECK(Status(response) == "401 Unauthorized");
    CHECK(response.find("\r\nWWW-Authenticate: Basic realm=") !=
          std::string::npos);
    CHECK(response.substr(response.find("\r\n\r\n")) ==
          "\r\n\r\nUnauthorized\n");
  }
  const std::string head = Request(s.Port(), "HEAD", "/metrics");
  CHECK(Status(head) == "401 Unauthorized");
  CHECK(head.substr(head.find("\r\n\r\n")) == "\r\n\r\n");
}

TEST_CASE("wrong credentials answer 401, right ones are served",
          "[web_security]") {
  AuthServer s;
  CHECK(Status(Request(s.Port(), "GET", "/metrics",
                       "Authorization: Basic YWxpY2U6d3Jvbmc=\r\n")) ==
        "401 Unauthorized");
  const std::string response =
      Request(s.Port(), "GET", "/metrics", kAliceHeader);
  CHECK(Status(response) == "200 OK");
  CHECK(response.substr(response.find("\r\n\r\n")) == "\r\n\r\nup 1\n");
  CHECK(Status(Request(s.Port(), "GET", "/", kAliceHeader)) == "200 OK");
  CHECK(Status(Request(s.Port(), "GET", "/elsewhere", kAliceHeader)) ==
        "404 Not Found");
}

TEST_CASE("no web config: plain HTTP, every request allowed",
          "[web_security]") {
  std::ostringstream log;
  Logger logger(LogLevel::kInfo, log);
  WebSecurity security("", logger);
  CHECK_FALSE(security.Tls());
  CHECK_FALSE(security.BasicAuth());
  CHECK(security.TlsContext() == nullptr);
  CHECK(security.Authorize(nullptr, false) == RequestGuard::Verdict::kAllow);
}

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

KeyPtr NewKey() { return KeyPtr(EVP_EC_gen("P-256"), &EVP_PKEY_free); }

X509Ptr SelfSigned(EVP_PKEY* key) {
  X509Ptr certificate(X509_new(), &X509_free);
  X509_set_version(certificate.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(certificate.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(certificate.get()), 3600);
  X509_NAME* name = X509_get_subject_name(certificate.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("test"), -1,
                             -1, 0);
  X509_set_issuer_name(certificate.get(), name);
  X509_set_pubkey(certificate.get(), key);
  REQUIRE(X509_sign(certificate.get(), key, EVP_sha256()) > 0);
  return certificate;
}

// Key and certificate files in a scratch directory.
struct TlsFiles {
  std::string dir;
  TlsFiles() {
    char pattern[] = "/tmp/lme-tls-test.XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    dir = pattern;
  }
  ~TlsFiles() { CHECK(std::system(("rm -rf " + dir).c_str()) == 0); }

  std::string WriteKey(const std::string& name, EVP_PKEY* key,
                       const char* password = nullptr) const {
    std::FILE* file = std::fopen((dir + "/" + name).c_str(), "w");
    REQUIRE(file != nullptr);
    const EVP_CIPHER* cipher = password ? EVP_aes_256_cbc() : nullptr;
    REQUIRE(PEM_write_PrivateKey(file, key, cipher, nullptr, 0, nullptr,
                                 const_cast<char*>(password)) == 1);
    std::fclose(file);
    return dir + "/" + name;
  }
  std::string WriteCertificate(const std::string& name, X509* cert) const {
    std::FILE* file = std::fopen((dir + "/" + name).c_str(), "w");
    REQUIRE(file != nullptr);
    REQUIRE(PEM_write_X509(file, cert) == 1);
    std::fclose(file);
    return dir + "/" + name;
  }
  std::string WriteText(const std::string& name,
                        const std::string& text) const {
    std::ofstream(dir + "/" + name) << text;
    return dir + "/" + name;
  }
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

TEST_CASE("a TLS context from a key, a certificate and a client CA",
          "[web_security]") {
  TlsFiles files;
  const KeyPtr key = NewKey();
  const X509Ptr certificate = SelfSigned(key.get());
  TlsServerConfig config;
  config.cert_file = files.WriteCertificate("server.crt", certificate.get());
  config.key_file = files.WriteKey("server.key", key.get());
  config.client_auth = ClientAuth::kRequireAndVerifyClientCert;
  config.client_ca_file = config.cert_file;
  config.min_version = TlsVersion::kTls13;
  const auto context = MakeTlsContext(config);
  REQUIRE(context != nullptr);
  SSL_CTX* native = context->native_handle();
  CHECK(SSL_CTX_get_min_proto_version(native) == TLS1_3_VERSION);
  CHECK(SSL_CTX_get_verify_mode(native) ==
        (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT));
}

TEST_CASE("one file may hold both the key and the certificate",
          "[web_security]") {
  TlsFiles files;
  const KeyPtr key = NewKey();
  const X509Ptr certificate = SelfSigned(key.get());
  const std::string combined =
      ReadAll(files.WriteKey("server.key", key.get())) +
      ReadAll(files.WriteCertificate("server.crt", certificate.get()));
  TlsServerConfig config;
  config.cert_file = config.key_file = files.WriteText("server.pem", combined);
  const auto context = MakeTlsContext(config);
  CHECK(SSL_CTX_get_verify_mode(context->native_handle()) == SSL_VERIFY_NONE);
  CHECK(SSL_CTX_get_min_proto_version(context->native_handle()) ==
        TLS1_2_VERSION);
}

TEST_CASE("bad TLS files stop the start with a reason", "[web_security]") {
  TlsFiles files;
  const KeyPtr key = NewKey();
  const KeyPtr other_key = NewKey();
  const X509Ptr certificate = SelfSigned(key.get());
  TlsServerConfig config;
  config.cert_file = files.WriteCertificate("server.crt", certificate.get());
  config.key_file = files.WriteKey("other.key", other_key.get());
  CHECK_THROWS_WITH(
      MakeTlsContext(config),
      test_matchers::Contains("does not belong to the certificate"));
  config.key_file = files.WriteKey("locked.key", key.get(), "password");
  CHECK_THROWS_WITH(MakeTlsContext(config),
                    test_matchers::Contains("no unencrypted PEM private key"));
  config.key_file = files.WriteKey("server.key", key.get());
  config.cert_file = files.WriteText("garbage.crt", "not a certificate\n");
  CHECK_THROWS_WITH(MakeTlsContext(config),
                    test_matchers::EndsWith("no PEM certificate"));
  config.cert_file =
      files.WriteText("broken.crt",
                      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END "
                      "CERTIFICATE-----\n");
  CHECK_THROWS_WITH(MakeTlsContext(config),
                    test_matchers::EndsWith("malformed PEM certificate"));
}

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos;
       at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

const char* AliceAuthorization() {
  return "Basic YWxpY2U6Y29ycmVjdCBob3JzZQ==";
}

TEST_CASE("users added and removed take effect on the next request",
          "[web_security]") {
  TlsFiles files;
  const std::string config =
      files.WriteText("web.yml", std::string("basic_auth_users:\n  alice: ") +
                                     kAliceHash + "\n");
  std::ostringstream log;
  Logger logger(LogLevel::kInfo, log);
  WebSecurity security(config, logger);
  CHECK(security.Authorize(AliceAuthorization(), true) ==
        RequestGuard::Verdict::kAllow);
  // Remembered: no bcrypt needed the second time.
  CHECK(security.Authorize(AliceAuthorization(), false) ==
        RequestGuard::Verdict::kAllow);

  files.WriteText("web.yml", std::string("basic_auth_users:\n  carol: ") +
                                 kAliceHash + "\n");
  CHECK(security.Authorize(AliceAuthorization(), true) ==
        RequestGuard::Verdict::kDeny);
  CHECK(Count(log.str(), "msg=\"reloaded the web config file\"") == 1);

  // An invalid file: the last good one stays, the error is logged once.
  files.WriteText("web.yml", "basic_auth_users: [\n");
  for (int i = 0; i < 3; ++i) {
    CHECK(security.Authorize(AliceAuthorization(), true) ==
          RequestGuard::Verdict::kDeny);
  }
  CHECK(Count(log.str(), "cannot reload the web config file") == 1);
  CHECK(security.BasicAuth());

  files.WriteText("web.yml", std::string("basic_auth_users:\n  alice: ") +
                                 kAliceHash + "\n");
  CHECK(security.Authorize(AliceAuthorization(), true) ==
        RequestGuard::Verdict::kAllow);
  // Without users every request is served again.
  files.WriteText("web.yml", "");
  CHECK(security.Authorize(nullptr, false) == RequestGuard::Verdict::kAllow);
  CHECK_FALSE(security.BasicAuth());
}

std::string CertificateSubject(boost::asio::ssl::context& context) {
  X509* certificate = SSL_CTX_get0_certificate(context.native_handle());
  REQUIRE(certificate != nullptr);
  char name[256];
  X509_NAME_oneline(X509_get_subject_name(certificate), name, sizeof name);
  return name;
}

X509Ptr SelfSignedAs(EVP_PKEY* key, const char* common_name) {
  X509Ptr certificate = SelfSigned(key);
  X509_NAME* name = X509_NAME_new();
  X509_NAME_add_entry_by_txt(
      name, "CN", MBSTRING_ASC,
      reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509_set_subject_name(certificate.get(), name);
  X509_set_issuer_name(certificate.get(), name);
  X509_NAME_free(name);
  REQUIRE(X509_sign(certificate.get(), key, EVP_sha256()) > 0);
  return certificate;
}

TEST_CASE("a rotated certificate is served on the next connection",
          "[web_security]") {
  TlsFiles files;
  const KeyPtr key = NewKey();
  files.WriteCertificate("server.crt", SelfSignedAs(key.get(), "first").get());
  files.WriteKey("server.key", key.get());
  const std::string config = files.WriteText(
      "web.yml",
      "tls_server_config: {cert_file: server.crt, key_file: server.key}\n");
  std::ostringstream log;
  Logger logger(LogLevel::kInfo, log);
  WebSecurity security(config, logger);
  const auto first = security.TlsContext();
  CHECK(CertificateSubject(*first) == "/CN=first");
  CHECK(security.TlsContext() == first);  // unchanged files: not read again

  const KeyPtr new_key = NewKey();
  files.WriteKey("server.key", new_key.get());
  files.WriteCertificate("server.crt",
                         SelfSignedAs(new_key.get(), "second").get());
  const auto second = security.TlsContext();
  CHECK(second != first);
  CHECK(CertificateSubject(*second) == "/CN=second");

  // A key that does not match: the last good certificate stays.
  files.WriteKey("server.key", key.get());
  CHECK(security.TlsContext() == second);
  CHECK(Count(log.str(), "does not belong to the certificate") == 1);

  // Turning TLS off needs a restart.
  files.WriteText("web.yml", "");
  CHECK(security.Tls());
  CHECK(security.TlsContext() == second);
  CHECK(Count(log.str(), "needs a restart") == 1);
}

// Seconds until the server closes fd, sending `first` before waiting.
double SecondsUntilClosed(int port, const std::string& first,
                          std::string& received) {
  const int fd = ConnectLoopback(port);
  REQUIRE(write(fd, first.data(), first.size()) ==
          static_cast<ssize_t>(first.size()));
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  const auto start = std::chrono::steady_clock::now();
  ReadUntilClosed(fd, received);
  close(fd);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

TEST_CASE("a TLS port: plain HTTP gets 400, a stalled handshake is closed",
          "[web_security]") {
  TlsFiles files;
  const KeyPtr key = NewKey();
  const X509Ptr certificate = SelfSigned(key.get());
  TlsServerConfig tls;
  tls.cert_file = files.WriteCertificate("server.crt", certificate.get());
  tls.key_file = files.WriteKey("server.key", key.get());
  std::ostringstream log;
  Logger logger(LogLevel::kInfo, log);
  HttpServerOptions options =
      WithGuard(std::make_shared<WebSecurity>(WebConfig{tls, {}, {}}, logger));
  options.request_timeout = std::chrono::milliseconds(300);
  HttpServer server(
      options, [](const ScrapeRequest&) { return UpOne(); }, logger);
  const int port = server.ListeningPorts().at(0);

  std::string answer;
  SecondsUntilClosed(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", answer);
  CHECK(answer ==
        "HTTP/1.0 400 Bad Request\r\n\r\n"
        "Client sent an HTTP request to an HTTPS server.\n");

  // The first bytes of a ClientHello, then nothing.
  std::string nothing;
  CHECK(SecondsUntilClosed(port, std::string("\x16\x03\x01", 3), nothing) < 3);
  CHECK(nothing.empty());
}

}  // namespace
}  // namespace lme
