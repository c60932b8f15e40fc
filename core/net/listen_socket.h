// Listening TCP sockets bound on the main thread before workers start: one per worker on the same
// port with SO_REUSEPORT, so the kernel spreads connections over the workers' loops. Also the
// forward input's UDP heartbeat socket on the same port.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/common/status.h"

namespace firelane::net {

struct BoundTcp {
  std::vector<int> fds;  // one non-blocking listening socket per worker; the caller owns them
  std::string host;      // the address bound, IPv6 without brackets
  uint16_t port = 0;     // the port bound (the kernel's pick when 0 was asked)
  bool ipv6 = false;
  // "HOST:PORT" with brackets around IPv6 hosts, for the listening log line.
  std::string endpoint() const;
};

// Binds `workers` sockets on listen:port. With port 0 the first socket gets a free port and the others
// bind that one. On error every socket opened so far is closed.
Result<BoundTcp> bindReusePortTcp(const std::string& listen, int port, unsigned workers);

// Shutdown: accepts every connection already waiting in the backlog of the non-blocking listening
// socket `listenFd` (at most `limit`) and hands each new non-blocking fd to `take`, which owns it.
// A client whose connect() completed may have written its events into such a connection; closing the
// listener without this would reset it and lose them.
void acceptBacklog(int listenFd, const std::function<void(int fd)>& take, int limit = 1024);

// One non-blocking UDP socket bound on listen:port (no SO_REUSEADDR/SO_REUSEPORT: a port already
// taken is an error, EADDRINUSE in the message). The caller owns the fd.
Result<int> bindUdp(const std::string& listen, uint16_t port);

}  // namespace firelane::net
