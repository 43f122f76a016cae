#include "web/systemd_socket.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace lme {
namespace {

constexpr int kFirstFd = 3;  // SD_LISTEN_FDS_START

// A whole decimal number, or -1.
long Number(const char* text) {
  if (text == nullptr || *text == '\0') return -1;
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (*end != '\0' || errno != 0 || value < 0) return -1;
  return value;
}

}  // namespace

std::vector<int> SystemdListenFds(const char* listen_pid,
                                  const char* listen_fds, pid_t self) {
  if (listen_pid == nullptr || listen_fds == nullptr) {
    throw std::runtime_error(
        "--web.systemd-socket: no sockets from systemd (LISTEN_PID and "
        "LISTEN_FDS are not set; start the exporter through its .socket "
        "unit)");
  }
  if (Number(listen_pid) != self) {
    throw std::runtime_error(
        "--web.systemd-socket: LISTEN_PID " + std::string(listen_pid) +
        " is not this process (" + std::to_string(self) + ")");
  }
  const long count = Number(listen_fds);
  if (count <= 0 || count > 1024) {
    throw std::runtime_error("--web.systemd-socket: LISTEN_FDS '" +
                             std::string(listen_fds) +
                             "' is not a number of sockets");
  }
  std::vector<int> fds;
  for (long i = 0; i < count; ++i)
    fds.push_back(kFirstFd + static_cast<int>(i));
  return fds;
}

std::vector<int> TakeSystemdListenFds() {
  std::vector<int> fds = SystemdListenFds(std::getenv("LISTEN_PID"),
                                          std::getenv("LISTEN_FDS"), getpid());
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  for (int fd : fds) fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fds;
}

}  // namespace lme
