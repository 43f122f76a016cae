// Socket activation without libsystemd: the protocol is two environment
// variables (sd_listen_fds(3)): LISTEN_PID, the process they are for, and
// LISTEN_FDS, how many sockets it inherited from file descriptor 3 on.
#pragma once

#include <sys/types.h>

#include <vector>

namespace lme {

// The inherited descriptors, from the two variables' values (null when
// unset) and this process's id. Throws std::runtime_error naming what is
// missing or wrong (not for this process, not a count).
std::vector<int> SystemdListenFds(const char* listen_pid,
                                  const char* listen_fds, pid_t self);

// The same from the environment, which it then clears, as sd_listen_fds(1)
// does, so that no child takes the sockets for its own; marks them
// close-on-exec.
std::vector<int> TakeSystemdListenFds();

}  // namespace lme
