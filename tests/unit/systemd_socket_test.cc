#include "web/systemd_socket.h"

#include <stdexcept>

#include "catch_compat.h"

namespace lme {
namespace {

TEST_CASE("socket activation: descriptors from 3 on, for this process only",
          "[systemd]") {
  CHECK(SystemdListenFds("42", "1", 42) == std::vector<int>{3});
  CHECK(SystemdListenFds("42", "3", 42) == std::vector<int>{3, 4, 5});
  CHECK_THROWS_WITH(SystemdListenFds(nullptr, nullptr, 42),
                    test_matchers::Contains("LISTEN_PID and LISTEN_FDS"));
  CHECK_THROWS_WITH(SystemdListenFds("41", "1", 42),
                    test_matchers::Contains("is not this process"));
  for (const char* bad : {"0", "-1", "x", "", "1x", "99999"}) {
    INFO(bad);
    CHECK_THROWS_WITH(SystemdListenFds("42", bad, 42),
                      test_matchers::Contains("not a number of sockets"));
  }
}

}  // namespace
}  // namespace lme
