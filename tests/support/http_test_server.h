// A small threaded HTTP/1.1 server for fakes of JSON/REST services (CloudWatch Logs, ECS credentials,
// IMDS, STS): 127.0.0.1 port 0, keep-alive, one thread per connection, a handler per request, and
// transport faults (reset / close without answering) chosen by the handler.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

struct ssl_ctx_st;

namespace firelane::testsupport {

class TestPki;

struct HttpRequestIn {
  std::string method;
  std::string target;  // path and query as sent
  std::vector<std::pair<std::string, std::string>> headers;  // as received (name case kept)
  std::string body;
  // The value of the first header named `name` (case-insensitive), or "".
  std::string header(const std::string& name) const;
  bool hasHeader(const std::string& name) const;
};

struct HttpReply {
  enum class Action { Respond, Reset, Close };
  Action action = Action::Respond;
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  static HttpReply json(int status, std::string body) {
    HttpReply r;
    r.status = status;
    r.headers.push_back({"Content-Type", "application/json"});
    r.body = std::move(body);
    return r;
  }
  static HttpReply reset() {
    HttpReply r;
    r.action = Action::Reset;
    return r;
  }
};

// Called on the connection's thread; may block briefly. Must not throw.
using HttpHandler = std::function<HttpReply(const HttpRequestIn&)>;

class HttpTestServer {
 public:
  explicit HttpTestServer(HttpHandler handler);
  ~HttpTestServer();  // stop()
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;

  // Serve TLS only (HTTP/1.1, ALPN "http/1.1") with the PKI's server certificate (127.0.0.1 and
  // localhost). Call before start(); `pki` must outlive the server.
  void enableTls(const TestPki& pki);
  // Binds 127.0.0.1:0 and starts accepting. Throws std::runtime_error on failure.
  void start();
  // Stops accepting, closes every connection, joins every thread.
  void stop();
  uint16_t port() const { return port_; }
  std::string url() const { return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_); }
  uint64_t tlsHandshakes() const { return handshakes_.load(); }
  uint64_t requests() const { return requests_.load(); }
  uint64_t badRequests() const { return badRequests_.load(); }  // unparseable HTTP

 private:
  void acceptLoop();
  void serve(int fd);

  HttpHandler handler_;
  ssl_ctx_st* tls_ = nullptr;
  std::atomic<uint64_t> handshakes_{0};
  int listenFd_ = -1;
  int wakeFd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> badRequests_{0};
  std::thread acceptThread_;
  std::mutex mu_;
  std::vector<std::thread> connThreads_;
  std::vector<int> connFds_;
};

}  // namespace firelane::testsupport
