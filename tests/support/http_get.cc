// Blocking one-shot HTTP/1.1 requests for tests (poll-based deadline, no library).
#include "support/http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <thread>

namespace firelane::testsupport {

namespace {
using Clock = std::chrono::steady_clock;

int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}
}  // namespace

std::optional<std::string> httpRaw(uint16_t port, const std::string& bytes, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      ::close(fd);
      return std::nullopt;
    }
    off += static_cast<size_t>(n);
  }
  std::string out;
  char buf[8192];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int ms = remainingMs(deadline);
    if (ms == 0 || ::poll(&p, 1, ms) <= 0) {
      ::close(fd);
      return std::nullopt;
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      ::close(fd);
      return out.empty() ? std::nullopt : std::optional<std::string>(out);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

std::optional<HttpReply> pollGet(uint16_t port, const std::string& path,
                                 const std::function<bool(const HttpReply&)>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::optional<HttpReply> r;
  while (std::chrono::steady_clock::now() < deadline) {
    r = httpGet(port, path);
    if (r && pred(*r)) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling interval of a bounded wait
  }
  return r;
}

std::optional<HttpReply> httpRequest(const std::string& host, uint16_t port, const std::string& method,
                                     const std::string& path, std::chrono::milliseconds timeout) {
  auto raw = httpRaw(port, method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n",
                     timeout);
  if (!raw) return std::nullopt;
  auto headEnd = raw->find("\r\n\r\n");
  if (raw->compare(0, 9, "HTTP/1.1 ") != 0 || headEnd == std::string::npos) return std::nullopt;
  HttpReply r;
  r.status = std::atoi(raw->c_str() + 9);
  size_t pos = raw->find("\r\n") + 2;
  while (pos < headEnd) {
    size_t eol = raw->find("\r\n", pos);
    std::string line = raw->substr(pos, eol - pos);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      size_t v = colon + 1;
      while (v < line.size() && line[v] == ' ') ++v;
      r.headers[name] = line.substr(v);
    }
    pos = eol + 2;
  }
  r.body = raw->substr(headEnd + 4);
  if (auto it = r.headers.find("content-length"); it != r.headers.end() && method != "HEAD") {
    if (r.body.size() != static_cast<size_t>(std::stoul(it->second))) return std::nullopt;
  }
  return r;
}

}  // namespace firelane::testsupport
