// The test CONNECT proxy: one thread per client connection, poll()-driven relay.
#include "support/connect_proxy.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace firelane::testsupport {
namespace {

bool writeAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Connects to host:port when the host is a loopback name (tests never leave the machine).
int connectLoopback(const std::string& host, const std::string& port) {
  if (host != "127.0.0.1" && host != "::1" && host != "localhost") return -1;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || !res) return -1;
  int fd = -1;
  for (addrinfo* a = res; a; a = a->ai_next) {
    fd = ::socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  return fd;
}

}  // namespace

ConnectProxy::ConnectProxy() = default;
ConnectProxy::~ConnectProxy() { stop(); }

void ConnectProxy::start() {
  listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listenFd_ < 0) throw std::runtime_error("proxy: socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(listenFd_, 64) != 0)
    throw std::runtime_error("proxy: bind/listen failed");
  socklen_t len = sizeof(addr);
  ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  wakeFd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  acceptor_ = std::thread([this] { acceptLoop(); });
}

void ConnectProxy::stop() {
  if (wakeFd_ < 0) return;
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wakeFd_, &one, sizeof(one));  // level-triggered: wakes every poll
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
  ::close(listenFd_);
  ::close(wakeFd_);
  listenFd_ = wakeFd_ = -1;
}

std::vector<std::string> ConnectProxy::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

bool ConnectProxy::waitForRequests(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

void ConnectProxy::acceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listenFd_, POLLIN, 0}, {wakeFd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    int c = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    std::lock_guard lock(mutex_);
    threads_.emplace_back([this, c] { serve(c); });
  }
}

void ConnectProxy::serve(int client) {
  // Read the request head (bounded).
  std::string head;
  char buf[16384];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 8192) {
    pollfd fds[2] = {{client, POLLIN, 0}, {wakeFd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 || fds[1].revents) {
      ::close(client);
      return;
    }
    ssize_t n = ::recv(client, buf, sizeof(buf), 0);
    if (n <= 0) {
      ::close(client);
      return;
    }
    head.append(buf, static_cast<size_t>(n));
  }
  size_t end = head.find("\r\n\r\n");
  std::string line = head.substr(0, head.find("\r\n"));
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(line);
  }
  changed_.notify_all();
  std::string rest = end == std::string::npos ? std::string() : head.substr(end + 4);
  int upstream = -1;
  int refuse = refuseStatus_.load();
  if (refuse == 0 && line.rfind("CONNECT ", 0) == 0) {
    std::string target = line.substr(8, line.find(' ', 8) - 8);
    size_t colon = target.rfind(':');
    if (colon != std::string::npos) {
      std::string host = target.substr(0, colon);
      if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
      upstream = connectLoopback(host, target.substr(colon + 1));
    }
  }
  if (upstream < 0) {
    int status = refuse ? refuse : 502;
    std::string answer = "HTTP/1.1 " + std::to_string(status) + " Refused\r\nContent-Length: 0\r\n\r\n";
    writeAll(client, answer.data(), answer.size());
    ::close(client);
    return;
  }
  tunnels_++;
  static const char kOk[] = "HTTP/1.1 200 Connection Established\r\n\r\n";
  if (!writeAll(client, kOk, sizeof(kOk) - 1) || (!rest.empty() && !writeAll(upstream, rest.data(), rest.size()))) {
    ::close(client);
    ::close(upstream);
    return;
  }
  for (;;) {
    pollfd fds[3] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}, {wakeFd_, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[2].revents) break;
    bool done = false;
    for (int i = 0; i < 2 && !done; ++i) {
      if (!fds[i].revents) continue;
      ssize_t n = ::recv(fds[i].fd, buf, sizeof(buf), 0);
      if (n <= 0 || !writeAll(fds[1 - i].fd, buf, static_cast<size_t>(n))) done = true;
    }
    if (done) break;
  }
  ::close(client);
  ::close(upstream);
}

}  // namespace firelane::testsupport
