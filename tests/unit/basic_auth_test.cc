#include "web/basic_auth.h"

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "catch_compat.h"

namespace lme {
namespace {

using Users = std::map<std::string, std::string>;

// Made by other implementations, so the check is not only against itself:
// htpasswd -nbBC 4 alice 'correct horse'; htpasswd -nbBC 4 bob 'pa:ss wörd';
// Python's crypt.crypt('s3cret', crypt.mksalt(METHOD_BLOWFISH, rounds=16)).
constexpr const char* kAliceHash =
    "$2y$04$JP6IVPhM7xqtDYvKFfkJTOc/VQWV/rTqA2XudFHeNOjkQhFusJS42";
constexpr const char* kBobHash =
    "$2y$04$qo/ZOJQUuJs53WwOtzQJ8e1PbOmU/s0bpzIJ5mz1vELkwSmuyRM6C";
constexpr const char* kCarolHash2b =
    "$2b$04$2gICwpoDggCwzec4o0DfRO/Ug4gwge0yoUvOJ14cCl1w.Oaf//ESW";
constexpr const char* kCarolHash2a =
    "$2a$04$2gICwpoDggCwzec4o0DfRO/Ug4gwge0yoUvOJ14cCl1w.Oaf//ESW";

// base64 of "alice:correct horse", "bob:pa:ss wörd" (UTF-8), "carol:s3cret"
constexpr const char* kAlice = "Basic YWxpY2U6Y29ycmVjdCBob3JzZQ==";
constexpr const char* kBob = "Basic Ym9iOnBhOnNzIHfDtnJk";
constexpr const char* kCarol = "Basic Y2Fyb2w6czNjcmV0";

TEST_CASE("the Authorization header is decoded", "[basic_auth]") {
  auto credentials = ParseBasicAuthorization(kAlice);
  REQUIRE(credentials.has_value());
  CHECK(credentials->username == "alice");
  CHECK(credentials->password == "correct horse");
  credentials = ParseBasicAuthorization(kBob);
  REQUIRE(credentials.has_value());
  CHECK(credentials->username == "bob");
  CHECK(credentials->password ==
        "pa:ss w\xc3\xb6rd");  // split at the first ':'
  credentials = ParseBasicAuthorization("bAsIc Y2Fyb2w6");  // "carol:"
  REQUIRE(credentials.has_value());
  CHECK(credentials->password.empty());
}

TEST_CASE("malformed Authorization headers carry no credentials",
          "[basic_auth]") {
  CHECK_FALSE(ParseBasicAuthorization(nullptr));
  for (const char* header :
       {"", "Basic", "Basic ", "Bearer Y2Fyb2w6czNjcmV0",
        "Basic Y2Fyb2w6czNjcmV0=",     // length not a multiple of 4
        "Basic Y2Fyb2w6czNjcmV0====",  // too much padding
        "Basic  Y2Fyb2w6czNjcmV0",     // two spaces
        "Basic Y2Fy b2w6czNjcmV0", "Basic Y2Fyb2w6czNjc*V0",
        "Basic YWxpY2U=" /* "alice", no colon */}) {
    INFO(header);
    CHECK_FALSE(ParseBasicAuthorization(header));
  }
}

TEST_CASE("bcrypt hashes from htpasswd and Python verify", "[basic_auth]") {
  CHECK(BcryptMatches("correct horse", kAliceHash));
  CHECK_FALSE(BcryptMatches("correct horsE", kAliceHash));
  CHECK_FALSE(BcryptMatches("", kAliceHash));
  CHECK(BcryptMatches("pa:ss w\xc3\xb6rd", kBobHash));
  CHECK(BcryptMatches("s3cret", kCarolHash2b));
  CHECK(BcryptMatches("s3cret", kCarolHash2a));
  CHECK_FALSE(BcryptMatches("s3cret", "not a hash"));
}

TEST_CASE("a NUL does not let a prefix of the password match", "[basic_auth]") {
  CHECK_FALSE(BcryptMatches(std::string("s3cret\0more", 11), kCarolHash2b));
}

TEST_CASE("without users every request is allowed", "[basic_auth]") {
  BasicAuthenticator authenticator(Users{});
  CHECK(authenticator.Allows(nullptr));
  CHECK(authenticator.Allows("Basic !!"));
}

TEST_CASE("only a configured user with the right password is allowed",
          "[basic_auth]") {
  BasicAuthenticator authenticator(
      Users{{"alice", kAliceHash}, {"bob", kBobHash}, {"carol", kCarolHash2b}});
  CHECK(authenticator.Allows(kAlice));
  CHECK(authenticator.Allows(kBob));
  CHECK(authenticator.Allows(kCarol));
  CHECK_FALSE(authenticator.Allows(nullptr));
  CHECK_FALSE(authenticator.Allows("Basic YWxpY2U6Y29ycmVjdCBob3JzZg=="));
  // dave:correct horse: an unknown user with a known user's password
  CHECK_FALSE(authenticator.Allows("Basic ZGF2ZTpjb3JyZWN0IGhvcnNl"));
  // bob:correct horse: a known user with another user's password
  CHECK_FALSE(authenticator.Allows("Basic Ym9iOmNvcnJlY3QgaG9yc2U="));
}

TEST_CASE("a remembered password does not open the door to others",
          "[basic_auth]") {
  BasicAuthenticator authenticator(Users{{"alice", kAliceHash}});
  REQUIRE(authenticator.Allows(kAlice));
  CHECK(authenticator.Allows(kAlice));
  CHECK_FALSE(authenticator.Allows("Basic YWxpY2U6Y29ycmVjdCBob3JzZg=="));
  CHECK_FALSE(authenticator.Allows("Basic YWxpY2U6"));  // "alice:"
  CHECK(authenticator.Allows(kAlice));
}

TEST_CASE("concurrent checks agree", "[basic_auth]") {
  BasicAuthenticator authenticator(Users{{"alice", kAliceHash}});
  std::atomic<int> correct{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        const bool right = (t + i) % 2 == 0;
        const bool ok = authenticator.Allows(
            right ? kAlice : "Basic YWxpY2U6Y29ycmVjdCBob3JzZg==");
        (ok == right ? correct : wrong)++;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(correct == 20);
  CHECK(wrong == 0);
}

}  // namespace
}  // namespace lme
