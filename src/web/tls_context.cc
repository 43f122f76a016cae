#include "web/tls_listener.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "web/tls_openssl_shims.h"

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

// The key, then the leaf certificate and its intermediates: the order
// CivetWeb's ssl_certificate reads. Re-encoded from what OpenSSL parsed, so
// a file given as both cert_file and key_file is not written twice.
std::string JoinedPem(const TlsServerConfig& config) {
  const auto chain =
      ReadCertificates("tls_server_config.cert_file", config.cert_file);
  const KeyPtr key =
      ReadPrivateKey("tls_server_config.key_file", config.key_file);
  if (X509_check_private_key(chain.front().get(), key.get()) != 1) {
    ERR_clear_error();
    throw WebConfigError("tls_server_config.key_file " + config.key_file +
                         " does not belong to the certificate in " +
                         config.cert_file);
  }
  const BioPtr out(BIO_new(BIO_s_secmem()), &BIO_free);  // wiped when freed
  bool ok = out && PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr,
                                            nullptr, 0, nullptr, nullptr) == 1;
  for (const auto& certificate : chain) {
    ok = ok && PEM_write_bio_X509(out.get(), certificate.get()) == 1;
  }
  if (!ok) throw std::runtime_error("cannot encode PEM: " + OpenSslError());
  char* data = nullptr;
  const long size = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// An in-memory file: the key never touches a disk, and the exporter needs
// no writable directory.
int MemoryFile(std::string& contents) {
  const int fd = memfd_create("libvirt-memory-exporter-tls.pem", MFD_CLOEXEC);
  std::size_t written = 0;
  while (fd >= 0 && written < contents.size()) {
    const ssize_t n =
        write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  const std::string reason = std::strerror(errno);
  OPENSSL_cleanse(contents.data(), contents.size());
  if (fd >= 0 && written == contents.size()) return fd;
  if (fd >= 0) close(fd);
  throw std::runtime_error("cannot stage the TLS key in memory: " + reason);
}

const char* VerifyPeer(ClientAuth client_auth) {
  switch (client_auth) {
    case ClientAuth::kVerifyClientCertIfGiven: return "optional";
    case ClientAuth::kRequireAndVerifyClientCert: return "yes";
    case ClientAuth::kNoClientCert: break;
  }
  return "no";
}

CivetSettings SettingsFor(const TlsServerConfig& config,
                          const std::string& pem_path) {
  CivetSettings settings = {
      {"ssl_certificate", pem_path},
      // CivetWeb's scale: 4 refuses anything older than TLS 1.2, 5 than 1.3.
      {"ssl_protocol_version",
       config.min_version == TlsVersion::kTls13 ? "5" : "4"},
      // TLS 1.2 suites with forward secrecy and AEAD only, close to Go's
      // defaults; TLS 1.3 suites are all of that kind.
      {"ssl_cipher_list", "ECDHE+AESGCM:ECDHE+CHACHA20"},
      // Client certificates must chain to client_ca_file, not to any CA of
      // the system's store, which CivetWeb would otherwise add.
      {"ssl_default_verify_paths", "no"},
      {"ssl_verify_peer", VerifyPeer(config.client_auth)},
      // Headers and body leave as two TLS records; with Nagle's algorithm
      // the second waits for the client's delayed ACK, some 40 ms a request.
      {"tcp_nodelay", "1"}};
  if (config.client_auth != ClientAuth::kNoClientCert) {
    settings.emplace_back("ssl_ca_file", config.client_ca_file);
  }
  return settings;
}

}  // namespace

TlsListener::TlsListener(const TlsServerConfig& config) {
  if (config.client_auth != ClientAuth::kNoClientCert) {
    ReadCertificates("tls_server_config.client_ca_file", config.client_ca_file);
  }
  std::string pem = JoinedPem(config);
  PrepareCivetwebTls();
  pem_fd_ = MemoryFile(pem);
  settings_ = SettingsFor(config, "/proc/self/fd/" + std::to_string(pem_fd_));
}

TlsListener::~TlsListener() {
  if (pem_fd_ >= 0) close(pem_fd_);
}

}  // namespace lme
