// A tiny HTTP CONNECT proxy for tests: listens on 127.0.0.1:0, answers CONNECT to 127.0.0.1 / ::1 /
// localhost targets with 200 and relays bytes both ways; records every CONNECT it saw.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace firelane::testsupport {

class ConnectProxy {
 public:
  ConnectProxy();
  ~ConnectProxy();  // stop()
  ConnectProxy(const ConnectProxy&) = delete;
  ConnectProxy& operator=(const ConnectProxy&) = delete;

  // Binds 127.0.0.1:0 and starts accepting. Throws std::runtime_error on failure.
  void start();
  // Closes the listener and every tunnel; joins all threads.
  void stop();
  uint16_t port() const { return port_; }

  // Answer every CONNECT with this status instead of tunnelling (0 = tunnel normally).
  void refuseWith(int status) { refuseStatus_ = status; }

  // The request lines ("CONNECT host:port HTTP/1.1") seen so far, and the tunnels opened.
  std::vector<std::string> requests() const;
  size_t tunnels() const { return tunnels_.load(); }
  // True once `n` CONNECT requests were seen.
  bool waitForRequests(size_t n, std::chrono::milliseconds timeout) const;

 private:
  void acceptLoop();
  void serve(int client);

  int listenFd_ = -1;
  int wakeFd_ = -1;  // eventfd: stop() wakes every thread
  uint16_t port_ = 0;
  std::thread acceptor_;
  std::atomic<int> refuseStatus_{0};
  std::atomic<size_t> tunnels_{0};
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::vector<std::string> requests_;
  std::vector<std::thread> threads_;
};

}  // namespace firelane::testsupport
