// SO_REUSEPORT listening sockets for the TCP inputs, and the forward input's UDP heartbeat socket.
#include "core/net/listen_socket.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

namespace firelane::net {
namespace {

std::string errnoText(const std::string& what) { return what + ": " + std::strerror(errno); }

uint16_t portOf(const sockaddr_storage& a) {
  return a.ss_family == AF_INET6 ? ntohs(reinterpret_cast<const sockaddr_in6*>(&a)->sin6_port)
                                 : ntohs(reinterpret_cast<const sockaddr_in*>(&a)->sin_port);
}

}  // namespace

std::string BoundTcp::endpoint() const {
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<BoundTcp> bindReusePortTcp(const std::string& listen, int port, unsigned workers) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(listen.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) return Status::error("cannot resolve Listen '" + listen + "': " + gai_strerror(rc));
  sockaddr_storage addr{};
  socklen_t addrLen = static_cast<socklen_t>(res->ai_addrlen);
  std::memcpy(&addr, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);

  BoundTcp out;
  out.ipv6 = addr.ss_family == AF_INET6;
  auto fail = [&](const std::string& what) {
    Status s = Status::error(errnoText(what));
    for (int fd : out.fds) ::close(fd);
    return s;
  };
  for (unsigned w = 0; w < std::max(1u, workers); ++w) {
    int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail("socket");
    out.fds.push_back(fd);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) return fail("SO_REUSEPORT");
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), addrLen) != 0)
      return fail("bind " + listen + ":" + std::to_string(port));
    if (::listen(fd, 1024) != 0) return fail("listen");
    if (w > 0) continue;
    // Port 0: every further worker binds the port the kernel picked for the first.
    sockaddr_storage bound{};
    socklen_t len = sizeof(bound);
    getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
    out.port = portOf(bound);
    if (out.ipv6)
      reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(out.port);
    else
      reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(out.port);
    char host[INET6_ADDRSTRLEN] = "?";
    if (out.ipv6)
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&bound)->sin6_addr, host, sizeof(host));
    else
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&bound)->sin_addr, host, sizeof(host));
    out.host = host;
  }
  return out;
}

Result<int> bindUdp(const std::string& listen, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(listen.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) return Status::error("cannot resolve Listen '" + listen + "': " + gai_strerror(rc));
  int fd = ::socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(res);
    return Status::error(errnoText("udp socket"));
  }
  if (::bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
    Status s = Status::error(errnoText("bind udp " + listen + ":" + service));
    ::close(fd);
    freeaddrinfo(res);
    return s;
  }
  freeaddrinfo(res);
  return fd;
}

void acceptBacklog(int listenFd, const std::function<void(int fd)>& take, int limit) {
  for (int taken = 0; taken < limit;) {
    int fd = ::accept4(listenFd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN: the backlog is empty (or the listener failed: nothing to take)
    }
    ++taken;
    take(fd);
  }
}

}  // namespace firelane::net
