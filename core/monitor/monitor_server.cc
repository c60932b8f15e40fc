// MonitorServer: a small HTTP/1.1 server (http-parser) on the main loop with bounded connections,
// request sizes and idle time.
#include "core/monitor/monitor_server.h"

#include <http_parser.h>

#include <algorithm>
#include <cstring>

#include "core/codec/json_writer.h"
#include "core/common/log.h"

namespace firelane::monitor {

namespace {
constexpr size_t kMaxConnections = 64;
constexpr size_t kMaxRequestBytes = 16 * 1024;  // headers of one request; more -> 431 and close
constexpr uint64_t kIdleMs = 30'000;

const char* reasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    default: return "Unknown";
  }
}
}  // namespace

// One client connection. Owned by the server's list; deleted in its handle's close callback.
class MonitorServer::Conn {
 public:
  explicit Conn(MonitorServer& server) : server_(server) {
    uv_tcp_init(server.loop_, &tcp_);
    tcp_.data = this;
    http_parser_init(&parser_, HTTP_REQUEST);
    parser_.data = this;
    http_parser_settings_init(&settings_);
    settings_.on_message_begin = [](http_parser* p) {
      auto* c = static_cast<Conn*>(p->data);
      c->url_.clear();
      c->requestBytes_ = 0;
      return 0;
    };
    // Request line and headers count against kMaxRequestBytes; past it the parse stops (431).
    settings_.on_url = [](http_parser* p, const char* at, size_t len) {
      auto* c = static_cast<Conn*>(p->data);
      if (!c->countHeaderBytes(len)) return 1;
      c->url_.append(at, len);
      return 0;
    };
    settings_.on_header_field = [](http_parser* p, const char*, size_t len) {
      return static_cast<Conn*>(p->data)->countHeaderBytes(len) ? 0 : 1;
    };
    settings_.on_header_value = settings_.on_header_field;
    settings_.on_message_complete = [](http_parser* p) {
      static_cast<Conn*>(p->data)->respond();
      return 0;
    };
    lastActiveMs_ = uv_now(server.loop_);
  }

  bool countHeaderBytes(size_t n) {
    requestBytes_ += n;
    if (requestBytes_ <= kMaxRequestBytes) return true;
    tooLarge_ = true;
    return false;
  }

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }
  bool idleSince(uint64_t now) const { return now - lastActiveMs_ > kIdleMs; }

  void startReading() {
    uv_read_start(
        stream(),
        [](uv_handle_t* h, size_t, uv_buf_t* buf) {
          auto* c = static_cast<Conn*>(h->data);
          buf->base = c->readBuf_;
          buf->len = sizeof c->readBuf_;
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) { static_cast<Conn*>(s->data)->onRead(n, buf); });
  }

  void close() {
    if (closing_) return;
    closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), [](uv_handle_t* h) {
      auto* c = static_cast<Conn*>(h->data);
      MonitorServer& server = c->server_;
      auto& list = server.conns_;
      list.erase(std::remove(list.begin(), list.end(), c), list.end());
      delete c;
      server.handleClosed();
    });
  }

 private:
  void onRead(ssize_t n, const uv_buf_t* buf) {
    if (n < 0) {
      close();
      return;
    }
    if (n == 0) return;
    lastActiveMs_ = uv_now(server_.loop_);
    if (finishing_) {
      // Lingering close: drop what the client still sends so that closing does not reset the
      // connection before it read our answer; bounded by kMaxRequestBytes and the idle timeout.
      discarded_ += static_cast<size_t>(n);
      if (discarded_ > 64 * kMaxRequestBytes) close();
      return;
    }
    size_t used = http_parser_execute(&parser_, &settings_, buf->base, static_cast<size_t>(n));
    if (closing_) return;
    if (tooLarge_) {
      writeAnswer(Answer{431, "text/plain", "request too large\n"}, false, false);
    } else if (parser_.http_errno != HPE_OK || used != static_cast<size_t>(n)) {
      if (parser_.upgrade) {
        close();
        return;
      }
      writeAnswer(Answer{400, "text/plain", "bad request\n"}, false, false);
    }
  }

  void respond() {
    std::string_view method = http_method_str(static_cast<http_method>(parser_.method));
    std::string_view path = url_;
    if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
    bool head = method == "HEAD";
    Answer a = server_.answer(head ? "GET" : method, path);
    writeAnswer(a, http_should_keep_alive(&parser_) != 0, head);
  }

  void writeAnswer(const Answer& a, bool keepAlive, bool head) {
    if (closing_ || finishing_) return;
    auto* req = new WriteReq;
    req->data.reserve(a.body.size() + 160);
    req->data += "HTTP/1.1 " + std::to_string(a.status) + " " + reasonPhrase(a.status) + "\r\n";
    req->data += "Server: firelane/" FIRELANE_VERSION "\r\n";
    req->data += "Content-Type: " + a.contentType + "\r\n";
    req->data += "Content-Length: " + std::to_string(a.body.size()) + "\r\n";
    req->data += keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
    if (!head) req->data += a.body;
    req->closeAfter = !keepAlive;
    req->conn = this;
    uv_buf_t b = uv_buf_init(req->data.data(), static_cast<unsigned>(req->data.size()));
    req->req.data = req;
    int rc = uv_write(&req->req, stream(), &b, 1, [](uv_write_t* w, int status) {
      auto* r = static_cast<WriteReq*>(w->data);
      Conn* c = r->conn;
      bool closeAfter = r->closeAfter;
      delete r;
      if (status < 0) c->close();
      else if (closeAfter && !c->closing_) c->finish();
    });
    if (rc < 0) {
      delete req;
      close();
      return;
    }
    if (!keepAlive) finishing_ = true;
  }

  // After the last answer: half-close and wait for the client's EOF (or the idle timeout).
  void finish() {
    auto* req = new uv_shutdown_t;
    req->data = this;
    if (uv_shutdown(req, stream(), [](uv_shutdown_t* r, int) { delete r; }) != 0) {
      delete req;
      close();
    }
  }

  struct WriteReq {
    uv_write_t req;
    std::string data;
    Conn* conn = nullptr;
    bool closeAfter = false;
  };

  MonitorServer& server_;
  uv_tcp_t tcp_;
  http_parser parser_;
  http_parser_settings settings_;
  std::string url_;
  size_t requestBytes_ = 0;  // request line + header bytes of the current request
  bool tooLarge_ = false;
  uint64_t lastActiveMs_ = 0;
  bool closing_ = false;
  bool finishing_ = false;  // last answer written; reading only to see the client's EOF
  size_t discarded_ = 0;
  char readBuf_[4096];
};

MonitorServer::MonitorServer(uv_loop_t* loop, const ServiceConfig& service, MonitorSources sources)
    : loop_(loop), service_(service), sources_(std::move(sources)), health_(service) {}

MonitorServer::~MonitorServer() = default;

Status MonitorServer::start() {
  startedMs_ = uv_now(loop_);
  sockaddr_storage addr{};
  int rc = uv_ip4_addr(service_.httpListen.c_str(), service_.httpPort, reinterpret_cast<sockaddr_in*>(&addr));
  if (rc != 0) rc = uv_ip6_addr(service_.httpListen.c_str(), service_.httpPort, reinterpret_cast<sockaddr_in6*>(&addr));
  if (rc != 0) return Status::error("[http_server] invalid HTTP_Listen address '" + service_.httpListen + "'");
  listener_ = new uv_tcp_t;
  uv_tcp_init(loop_, listener_);
  listener_->data = this;
  ++handlesOpen_;
  rc = uv_tcp_bind(listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener_), 128, [](uv_stream_t* s, int status) {
      if (status == 0) static_cast<MonitorServer*>(s->data)->onConnection();
    });
  }
  if (rc != 0) {
    return Status::error("[http_server] cannot listen on " + service_.httpListen + ":" +
                         std::to_string(service_.httpPort) + ": " + uv_strerror(rc));
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(listener_, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  tick_ = new uv_timer_t;
  uv_timer_init(loop_, tick_);
  tick_->data = this;
  ++handlesOpen_;
  onTick();
  uv_timer_start(tick_, [](uv_timer_t* t) { static_cast<MonitorServer*>(t->data)->onTick(); }, 1000, 1000);
  const bool v6 = service_.httpListen.find(':') != std::string::npos;
  FL_INFO("[http_server] serving http://%s%s%s:%u", v6 ? "[" : "", service_.httpListen.c_str(), v6 ? "]" : "",
          static_cast<unsigned>(port_));
  return {};
}

void MonitorServer::onConnection() {
  auto* c = new Conn(*this);
  ++handlesOpen_;
  conns_.push_back(c);
  if (uv_accept(reinterpret_cast<uv_stream_t*>(listener_), c->stream()) != 0 || closing_ ||
      conns_.size() > kMaxConnections) {
    c->close();
    return;
  }
  c->startReading();
}

void MonitorServer::onTick() {
  uint64_t now = uv_now(loop_);
  if (sources_.snapshot) {
    Snapshot s = sources_.snapshot();
    health_.sample(now / 1000, s.outputErrors(), s.outputRetriesFailed());
  }
  std::vector<Conn*> idle;
  for (Conn* c : conns_)
    if (c->idleSince(now)) idle.push_back(c);
  for (Conn* c : idle) c->close();
}

MonitorServer::Answer MonitorServer::answer(std::string_view method, std::string_view path) {
  if (method != "GET") return {405, "text/plain", "method not allowed\n"};
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const uint64_t uptime = (uv_now(loop_) - startedMs_) / 1000;
  if (path == "/") {
    return {200, "application/json",
            "{\"fluent-bit\":{\"version\":\"" FIRELANE_VERSION
            "\",\"edition\":\"firelane\",\"flags\":[\"FLB_HAVE_METRICS\",\"FLB_HAVE_HTTP_SERVER\","
            "\"FLB_HAVE_TLS\"]},\"firelane\":{\"version\":\"" FIRELANE_VERSION "\"}}"};
  }
  if (path == "/api/v1/uptime") return {200, "application/json", renderUptime(uptime)};
  if (path == "/api/v1/health") {
    if (sources_.snapshot) {
      Snapshot s = sources_.snapshot();
      health_.sample(uv_now(loop_) / 1000, s.outputErrors(), s.outputRetriesFailed());
    }
    return health_.healthy() ? Answer{200, "text/plain", "ok\n"} : Answer{500, "text/plain", "error\n"};
  }
  Snapshot s = sources_.snapshot ? sources_.snapshot() : Snapshot{};
  if (path == "/api/v1/metrics") return {200, "application/json", renderJson(s)};
  if (path == "/api/v1/metrics/prometheus" || path == "/metrics")
    return {200, "text/plain; version=0.0.4", renderPrometheus(s, static_cast<double>(uptime))};
  if (path == "/api/v1/storage") return {200, "application/json", renderStorage(s)};
  return {404, "text/plain", "not found\n"};
}

void MonitorServer::close(std::function<void()> closed) {
  closed_ = std::move(closed);
  if (closing_) return;
  closing_ = true;
  if (handlesOpen_ == 0) {
    if (closed_) closed_();
    return;
  }
  if (tick_) uv_close(reinterpret_cast<uv_handle_t*>(tick_), [](uv_handle_t* h) {
      auto* self = static_cast<MonitorServer*>(h->data);
      delete reinterpret_cast<uv_timer_t*>(h);
      self->handleClosed();
    });
  if (listener_) uv_close(reinterpret_cast<uv_handle_t*>(listener_), [](uv_handle_t* h) {
      auto* self = static_cast<MonitorServer*>(h->data);
      delete reinterpret_cast<uv_tcp_t*>(h);
      self->handleClosed();
    });
  std::vector<Conn*> all = conns_;
  for (Conn* c : all) c->close();
}

void MonitorServer::handleClosed() {
  if (--handlesOpen_ == 0 && closing_ && closed_) {
    auto done = std::move(closed_);
    done();
  }
}

}  // namespace firelane::monitor
