#include "web/basic_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <utility>

namespace lme {
namespace {

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Strict standard base64 with padding, as Go's net/http reads basic auth.
std::optional<std::string> DecodeBase64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  while (padding < 2 && padding < text.size() &&
         text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  std::string out;
  unsigned bits = 0;
  int pending = 0;
  for (char c : text.substr(0, text.size() - padding)) {
    const int value = Base64Value(c);
    if (value < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<unsigned>(value);
    pending += 6;
    if (pending >= 8) {
      pending -= 8;
      out += static_cast<char>((bits >> pending) & 0xff);
    }
  }
  return out;
}

bool StartsWithBasic(std::string_view header) {
  constexpr std::string_view kScheme = "basic ";
  if (header.size() < kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    const char c = header[i];
    if ((c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c) != kScheme[i]) return false;
  }
  return true;
}

}  // namespace

std::optional<BasicCredentials> ParseBasicAuthorization(const char* header) {
  if (header == nullptr || !StartsWithBasic(header)) return std::nullopt;
  const auto decoded = DecodeBase64(std::string_view(header).substr(6));
  if (!decoded) return std::nullopt;
  const auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return BasicCredentials{decoded->substr(0, colon),
                          decoded->substr(colon + 1)};
}

bool BcryptMatches(const std::string& password, const std::string& hash) {
  // crypt_rn reads a C string: a NUL would cut the password short and let a
  // mere prefix of it match.
  if (password.find('\0') != std::string::npos) return false;
  const auto data = std::make_unique<crypt_data>();
  const char* result = crypt_rn(password.c_str(), hash.c_str(), data.get(),
                                static_cast<int>(sizeof *data));
  const bool matches = result != nullptr &&
                       std::strlen(result) == hash.size() &&
                       CRYPTO_memcmp(result, hash.data(), hash.size()) == 0;
  OPENSSL_cleanse(data.get(), sizeof *data);  // holds the key schedule
  return matches;
}

BasicAuthenticator::BasicAuthenticator(std::map<std::string, std::string> users)
    : users_(std::move(users)) {
  // A per-process salt, so remembered fingerprints cannot be looked up in
  // precomputed tables.
  if (RAND_bytes(salt_.data(), static_cast<int>(salt_.size())) != 1) {
    throw std::runtime_error("cannot get random bytes from OpenSSL");
  }
}

bool BasicAuthenticator::Allows(const char* authorization_header) {
  if (users_.empty()) return true;
  const auto credentials = ParseBasicAuthorization(authorization_header);
  if (!credentials) return false;
  const auto user = users_.find(credentials->username);
  const Digest digest = Fingerprint(credentials->password);
  if (user != users_.end() && Remembered(user->first, digest)) return true;
  // An unknown user costs one bcrypt too, so that response times do not tell
  // which usernames exist.
  const bool known = user != users_.end();
  const std::string& hash = known ? user->second : users_.begin()->second;
  if (!BcryptMatches(credentials->password, hash) || !known) return false;
  Remember(user->first, digest);
  return true;
}

std::optional<bool> BasicAuthenticator::AllowsWithoutBcrypt(
    const char* authorization_header) {
  if (users_.empty()) return true;
  const auto credentials = ParseBasicAuthorization(authorization_header);
  if (!credentials) return false;
  const auto user = users_.find(credentials->username);
  if (user != users_.end() &&
      Remembered(user->first, Fingerprint(credentials->password))) {
    return true;
  }
  return std::nullopt;
}

BasicAuthenticator::Digest BasicAuthenticator::Fingerprint(
    const std::string& password) const {
  std::string input(reinterpret_cast<const char*>(salt_.data()), salt_.size());
  input += password;
  Digest digest{};
  unsigned int size = 0;
  const bool ok = EVP_Digest(input.data(), input.size(), digest.data(), &size,
                             EVP_sha256(), nullptr) == 1;
  OPENSSL_cleanse(input.data(), input.size());
  if (!ok || size != digest.size()) {
    throw std::runtime_error("SHA-256 failed in OpenSSL");
  }
  return digest;
}

bool BasicAuthenticator::Remembered(const std::string& user,
                                    const Digest& digest) {
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto entry = verified_.find(user);
  return entry != verified_.end() &&
         CRYPTO_memcmp(entry->second.data(), digest.data(), digest.size()) == 0;
}

// One entry per configured user at most, so the cache cannot grow with
// what clients send.
void BasicAuthenticator::Remember(const std::string& user,
                                  const Digest& digest) {
  const std::lock_guard<std::mutex> lock(mutex_);
  verified_[user] = digest;
}

}  // namespace lme
