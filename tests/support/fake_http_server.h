// A small HTTP/1.1 server on 127.0.0.1:0 for tests that fetch JSON (the ECS task metadata endpoint):
// scripted answers (status, body, delay, or dropping the connection), strict request checks, and
// recording of every request. Thread per connection, blocking I/O; waits are bounded.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace firelane::testsupport {

struct ScriptedReply {
  int status = 200;
  std::string body;
  std::string contentType = "application/json";
  std::chrono::milliseconds delay{0};  // before answering (a slow server)
  bool drop = false;                   // close without answering (a dead endpoint)
};

struct HttpRequestSeen {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lowercased names
  std::string violation;                       // non-empty: what was wrong with the request (answered 400)
};

class FakeHttpServer {
 public:
  // `routes`: path -> default reply; unknown paths get 404. Throws std::runtime_error when it cannot bind.
  explicit FakeHttpServer(std::map<std::string, ScriptedReply> routes);
  ~FakeHttpServer();  // stops: closes the listener and every connection, joins all threads
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  uint16_t port() const { return port_; }
  std::string baseUrl() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The next requests (any path) get these replies in order, before the routes' defaults.
  void script(std::vector<ScriptedReply> replies);
  void setRoute(const std::string& path, ScriptedReply reply);

  std::vector<HttpRequestSeen> requests() const;
  size_t requestCount() const;
  // True once at least `n` requests were read, within `timeout`.
  bool waitForRequests(size_t n, std::chrono::milliseconds timeout) const;

 private:
  void acceptLoop();
  void serve(int fd);
  ScriptedReply replyFor(const std::string& path);

  int listenFd_ = -1;
  uint16_t port_ = 0;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool stopping_ = false;
  std::map<std::string, ScriptedReply> routes_;
  std::deque<ScriptedReply> script_;
  std::vector<HttpRequestSeen> requests_;
  std::vector<int> fds_;
  std::thread acceptor_;
  std::vector<std::thread> workers_;
};

}  // namespace firelane::testsupport
