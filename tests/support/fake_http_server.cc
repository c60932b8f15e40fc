// The small scripted HTTP/1.1 test server (see fake_http_server.h).
#include "support/fake_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace firelane::testsupport {
namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool writeAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

}  // namespace

FakeHttpServer::FakeHttpServer(std::map<std::string, ScriptedReply> routes) : routes_(std::move(routes)) {
  listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (listenFd_ < 0 || ::bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listenFd_, 64) != 0 || ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (listenFd_ >= 0) ::close(listenFd_);
    throw std::runtime_error(std::string("fake http server: ") + std::strerror(errno));
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { acceptLoop(); });
}

FakeHttpServer::~FakeHttpServer() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }
  cv_.notify_all();
  ::shutdown(listenFd_, SHUT_RDWR);
  acceptor_.join();
  ::close(listenFd_);
  for (auto& t : workers_) t.join();
}

void FakeHttpServer::script(std::vector<ScriptedReply> replies) {
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& r : replies) script_.push_back(std::move(r));
}

void FakeHttpServer::setRoute(const std::string& path, ScriptedReply reply) {
  std::lock_guard<std::mutex> lk(mu_);
  routes_[path] = std::move(reply);
}

std::vector<HttpRequestSeen> FakeHttpServer::requests() const {
  std::lock_guard<std::mutex> lk(mu_);
  return requests_;
}

size_t FakeHttpServer::requestCount() const {
  std::lock_guard<std::mutex> lk(mu_);
  return requests_.size();
}

bool FakeHttpServer::waitForRequests(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lk(mu_);
  return cv_.wait_for(lk, timeout, [&] { return requests_.size() >= n; });
}

void FakeHttpServer::acceptLoop() {
  for (;;) {
    int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // shut down
    }
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    fds_.push_back(fd);
    workers_.emplace_back([this, fd] {
      serve(fd);
      std::lock_guard<std::mutex> lk2(mu_);
      std::erase(fds_, fd);
      ::close(fd);
    });
  }
}

ScriptedReply FakeHttpServer::replyFor(const std::string& path) {
  if (!script_.empty()) {
    ScriptedReply r = std::move(script_.front());
    script_.pop_front();
    return r;
  }
  auto it = routes_.find(path);
  if (it != routes_.end()) return it->second;
  return ScriptedReply{404, "not found", "text/plain"};
}

void FakeHttpServer::serve(int fd) {
  std::string buf;
  char chunk[4096];
  for (;;) {
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.size() > 65536) return;
      ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // peer closed, or stop() shut the socket down
      buf.append(chunk, static_cast<size_t>(n));
    }
    std::string head = buf.substr(0, end);
    buf.erase(0, end + 4);
    HttpRequestSeen req;
    size_t lineEnd = head.find("\r\n");
    std::string first = head.substr(0, lineEnd);
    size_t sp1 = first.find(' '), sp2 = first.rfind(' ');
    if (sp1 == std::string::npos || sp2 == sp1) {
      req.violation = "bad request line";
    } else {
      req.method = first.substr(0, sp1);
      req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
      if (first.substr(sp2 + 1) != "HTTP/1.1") req.violation = "not HTTP/1.1";
    }
    size_t pos = lineEnd == std::string::npos ? head.size() : lineEnd + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string line = head.substr(pos, e - pos);
      size_t colon = line.find(':');
      if (colon == std::string::npos) {
        req.violation = "bad header line";
      } else {
        std::string v = line.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.erase(0, 1);
        req.headers[lower(line.substr(0, colon))] = v;
      }
      pos = e + 2;
    }
    // What the ECS agent's endpoint would refuse or never see from a well-behaved client.
    if (req.violation.empty() && !req.headers.count("host")) req.violation = "no Host header";
    if (req.violation.empty() && req.method != "GET") req.violation = "method " + req.method + " (GET only)";
    if (req.violation.empty() && req.headers.count("content-length") && req.headers["content-length"] != "0")
      req.violation = "GET with a body";
    ScriptedReply reply;
    {
      std::unique_lock<std::mutex> lk(mu_);
      reply = req.violation.empty() ? replyFor(req.target) : ScriptedReply{400, req.violation, "text/plain"};
      requests_.push_back(req);
      cv_.notify_all();
      if (reply.delay.count() > 0 && cv_.wait_for(lk, reply.delay, [&] { return stopping_; })) return;
    }
    if (reply.drop) {
      ::shutdown(fd, SHUT_RDWR);
      return;
    }
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " + reason(reply.status) +
                      "\r\nContent-Type: " + reply.contentType + "\r\nContent-Length: " +
                      std::to_string(reply.body.size()) + "\r\n\r\n" + reply.body;
    if (!writeAll(fd, out)) return;
  }
}

}  // namespace firelane::testsupport
