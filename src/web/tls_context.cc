#include "web/tls_context.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace lme {
namespace {

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

// Encrypted keys fail to load instead of prompting on a terminal.
int NoPassword(char*, int, int, void*) { return 0; }

std::string OpenSslError() {
  const unsigned long error = ERR_get_error();
  ERR_clear_error();
  if (error == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(error, text, sizeof text);
  return text;
}

BioPtr OpenFile(const std::string& name, const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"), &BIO_free);
  if (!bio) {
    throw WebConfigError(name + " " + path + ": " + OpenSslError());
  }
  return bio;
}

// Reading stops at the first object that is not a certificate; only the
// end of the data is a normal way for it to stop.
bool EndedCleanly() {
  const unsigned long error = ERR_peek_last_error();
  ERR_clear_error();
  return ERR_GET_LIB(error) == ERR_LIB_PEM &&
         ERR_GET_REASON(error) == PEM_R_NO_START_LINE;
}

std::vector<X509Ptr> ReadCertificates(const std::string& name,
                                      const std::string& path) {
  const BioPtr bio = OpenFile(name, path);
  std::vector<X509Ptr> certificates;
  while (X509* certificate =
             PEM_read_bio_X509(bio.get(), nullptr, &NoPassword, nullptr)) {
    certificates.emplace_back(certificate, &X509_free);
  }
  if (!EndedCleanly()) {
    throw WebConfigError(name + " " + path + ": malformed PEM certificate");
  }
  if (certificates.empty()) {
    throw WebConfigError(name + " " + path + ": no PEM certificate");
  }
  return certificates;
}

KeyPtr ReadPrivateKey(const std::string& name, const std::string& path) {
  const BioPtr bio = OpenFile(name, path);
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, &NoPassword, nullptr),
             &EVP_PKEY_free);
  if (!key) {
    throw WebConfigError(name + " " + path +
                         ": no unencrypted PEM private key (" + OpenSslError() +
                         ")");
  }
  return key;
}

void Check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string(what) + ": " + OpenSslError());
}

void UseKeyAndChain(SSL_CTX* context, const TlsServerConfig& config) {
  auto chain =
      ReadCertificates("tls_server_config.cert_file", config.cert_file);
  const KeyPtr key =
      ReadPrivateKey("tls_server_config.key_file", config.key_file);
  if (X509_check_private_key(chain.front().get(), key.get()) != 1) {
    ERR_clear_error();
    throw WebConfigError("tls_server_config.key_file " + config.key_file +
                         " does not belong to the certificate in " +
                         config.cert_file);
  }
  Check(SSL_CTX_use_certificate(context, chain.front().get()) == 1,
        "cannot use the certificate");
  Check(SSL_CTX_use_PrivateKey(context, key.get()) == 1,
        "cannot use the private key");
  for (std::size_t i = 1; i < chain.size(); ++i) {
    // add1: the context takes its own reference.
    Check(SSL_CTX_add1_chain_cert(context, chain[i].get()) == 1,
          "cannot add an intermediate certificate");
  }
}

int VerifyMode(ClientAuth client_auth) {
  switch (client_auth) {
    case ClientAuth::kRequestClientCert:
    case ClientAuth::kVerifyClientCertIfGiven: return SSL_VERIFY_PEER;
    case ClientAuth::kRequireAnyClientCert:
    case ClientAuth::kRequireAndVerifyClientCert:
      return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    case ClientAuth::kNoClientCert: break;
  }
  return SSL_VERIFY_NONE;
}

bool Verifies(ClientAuth client_auth) {
  return client_auth == ClientAuth::kVerifyClientCertIfGiven ||
         client_auth == ClientAuth::kRequireAndVerifyClientCert;
}

// RequestClientCert and RequireAnyClientCert take any certificate, as Go
// does: the chain is not checked.
int AcceptAnyCertificate(int, X509_STORE_CTX*) { return 1; }

void VerifyClients(SSL_CTX* context, const TlsServerConfig& config) {
  SSL_CTX_set_verify(
      context, VerifyMode(config.client_auth),
      Verifies(config.client_auth) ? nullptr : &AcceptAnyCertificate);
  if (config.client_auth == ClientAuth::kNoClientCert) return;
  if (!config.client_ca_file.empty()) {
    // Client certificates must chain to client_ca_file, not to any CA of
    // the system's store.
    const auto authorities = ReadCertificates(
        "tls_server_config.client_ca_file", config.client_ca_file);
    X509_STORE* store = SSL_CTX_get_cert_store(context);
    for (const auto& authority : authorities) {
      Check(X509_STORE_add_cert(store, authority.get()) == 1,
            "cannot trust client_ca_file");
    }
  } else if (Verifies(config.client_auth)) {
    // Go verifies against the system's roots when no CA file is named.
    Check(SSL_CTX_set_default_verify_paths(context) == 1,
          "cannot load the system's trusted certificates");
  }
  // Sessions resumed with a client certificate need an id context.
  static const unsigned char kSessionContext[] = "libvirt-memory-exporter";
  Check(SSL_CTX_set_session_id_context(context, kSessionContext,
                                       sizeof kSessionContext - 1) == 1,
        "cannot set the session id context");
}

int ProtocolVersion(TlsVersion version) {
  switch (version) {
    case TlsVersion::kTls10: return TLS1_VERSION;
    case TlsVersion::kTls11: return TLS1_1_VERSION;
    case TlsVersion::kTls12: return TLS1_2_VERSION;
    case TlsVersion::kTls13: break;
  }
  return TLS1_3_VERSION;
}

std::string Joined(const std::vector<std::string>& names) {
  std::string joined;
  for (const auto& name : names) joined += (joined.empty() ? "" : ":") + name;
  return joined;
}

void ChooseVersionsAndSuites(SSL_CTX* context, const TlsServerConfig& config) {
  Check(SSL_CTX_set_min_proto_version(context,
                                      ProtocolVersion(config.min_version)) == 1,
        "cannot set min_version");
  Check(SSL_CTX_set_max_proto_version(context,
                                      ProtocolVersion(config.max_version)) == 1,
        "cannot set max_version");
  std::string suites = Joined(config.cipher_suites);
  if (suites.empty()) {
    // Go's defaults with forward secrecy and AEAD for TLS 1.2; TLS 1.3
    // suites are all of that kind. TLS 1.0 and 1.1 have no AEAD suite: when
    // the file allows them, Go's CBC suites for them too.
    suites = "ECDHE+AESGCM:ECDHE+CHACHA20";
    if (config.min_version < TlsVersion::kTls12) suites += ":ECDHE+AES+SHA1";
  }
  if (config.min_version < TlsVersion::kTls12) {
    // OpenSSL 3 refuses TLS 1.0 and 1.1 below security level 0; the file
    // asked for them.
    SSL_CTX_set_security_level(context, 0);
  }
  Check(SSL_CTX_set_cipher_list(context, suites.c_str()) == 1,
        "cannot set the cipher suites");
  if (!config.curves.empty()) {
    Check(SSL_CTX_set1_groups_list(context, Joined(config.curves).c_str()) == 1,
          "cannot set curve_preferences");
  }
  if (config.prefer_server_cipher_suites) {
    SSL_CTX_set_options(context, SSL_OP_CIPHER_SERVER_PREFERENCE);
  }
}

}  // namespace

std::shared_ptr<boost::asio::ssl::context> MakeTlsContext(
    const TlsServerConfig& config) {
  namespace ssl = boost::asio::ssl;
  auto tls = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* context = tls->native_handle();
  SSL_CTX_set_options(context, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  ChooseVersionsAndSuites(context, config);
  UseKeyAndChain(context, config);
  VerifyClients(context, config);
  return tls;
}

}  // namespace lme
