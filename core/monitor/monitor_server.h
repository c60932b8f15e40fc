// The monitoring HTTP server ([SERVICE] HTTP_Server): Fluent Bit's endpoints (/, /api/v1/uptime,
// /api/v1/health, /api/v1/metrics, /api/v1/metrics/prometheus, /metrics, /api/v1/storage) served on
// the main thread's loop with http-parser. It only reads counters, so workers never wait for it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <uv.h>
#include <vector>

#include "core/common/status.h"
#include "core/monitor/metrics.h"
#include "core/plugin/service.h"

namespace firelane::monitor {

// What the server asks of the engine; called on the main loop thread.
struct MonitorSources {
  std::function<Snapshot()> snapshot;
};

class MonitorServer {
 public:
  MonitorServer(uv_loop_t* loop, const ServiceConfig& service, MonitorSources sources);
  ~MonitorServer();
  MonitorServer(const MonitorServer&) = delete;
  MonitorServer& operator=(const MonitorServer&) = delete;

  // Binds HTTP_Listen:HTTP_Port and logs "[http_server] serving http://HOST:PORT" (the bound port,
  // so HTTP_Port 0 works for tests). An error fails start-up.
  Status start();
  // Closes the listener, the health timer and every connection; `closed` runs after the last
  // uv_close callback.
  void close(std::function<void()> closed);

  uint16_t port() const { return port_; }

  // Routing, pure: the answer for one request (exposed for unit tests).
  struct Answer {
    int status = 200;
    std::string contentType;
    std::string body;
  };
  Answer answer(std::string_view method, std::string_view path);

 private:
  class Conn;
  void onConnection();
  void onTick();
  void handleClosed();

  uv_loop_t* loop_;
  const ServiceConfig& service_;
  MonitorSources sources_;
  HealthTracker health_;
  uv_tcp_t* listener_ = nullptr;  // heap: freed in uv_close's callback
  uv_timer_t* tick_ = nullptr;
  std::vector<Conn*> conns_;
  uint64_t startedMs_ = 0;
  uint16_t port_ = 0;
  size_t handlesOpen_ = 0;
  bool closing_ = false;
  std::function<void()> closed_;
  friend class Conn;
};

}  // namespace firelane::monitor
