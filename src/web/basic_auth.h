// HTTP basic auth against the web config's bcrypt hashes.
#pragma once

#include <array>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace lme {

struct BasicCredentials {
  std::string username;
  std::string password;
};

// The credentials of an Authorization header value ("Basic " and base64 of
// "user:password"); empty when absent or malformed.
std::optional<BasicCredentials> ParseBasicAuthorization(const char* header);

// Whether the password matches the bcrypt hash. Costs what the hash's cost
// says: some 50-100 ms at cost 10.
bool BcryptMatches(const std::string& password, const std::string& hash);

// Decides whether a request may be served, from its Authorization header.
// Thread-safe. Remembers passwords it has verified (as a salted SHA-256, never
// in clear), so that a Prometheus scraping every few seconds pays bcrypt once
// rather than on every scrape, as the exporter-toolkit does.
class BasicAuthenticator {
 public:
  // Username -> bcrypt hash; with no users every request is allowed.
  explicit BasicAuthenticator(std::map<std::string, std::string> users);

  bool Allows(const char* authorization_header);

  // Without bcrypt: allowed (no users, or a remembered password), denied (no
  // or malformed credentials), or empty when only bcrypt can tell. Cheap
  // enough for the server's I/O threads; Allows is not.
  std::optional<bool> AllowsWithoutBcrypt(const char* authorization_header);

 private:
  using Digest = std::array<unsigned char, 32>;
  Digest Fingerprint(const std::string& password) const;
  bool Remembered(const std::string& user, const Digest& digest);
  void Remember(const std::string& user, const Digest& digest);

  const std::map<std::string, std::string> users_;
  std::array<unsigned char, 16> salt_{};
  std::mutex mutex_;
  std::map<std::string, Digest> verified_;  // guarded by mutex_
};

}  // namespace lme
