// The HTTP client every HTTP output uses: a pool of connections per upstream on one worker loop,
// TLS (OpenSSL, verify on), ALPN h2/http1.1, one nghttp2 session per h2 connection with many
// concurrent streams, HTTP/1.1 keep-alive (one request in flight per connection, parsed by
// Debian's http-parser), HTTP CONNECT proxies, timeouts, connection max age and DNS refresh.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <uv.h>
#include <vector>

#include "core/common/counter.h"
#include "core/common/status.h"
#include "core/net/tls.h"

namespace firelane::http {

enum class Http2Mode {
  Auto,            // TLS: offer ALPN h2,http/1.1 and use what the server picks; plain: HTTP/1.1
  Off,             // HTTP/1.1 only
  PriorKnowledge,  // h2 without negotiation (h2c on plain TCP)
};

struct UpstreamOptions {
  std::string host;
  uint16_t port = 443;
  bool tls = true;
  net::TlsOptions tlsOptions;  // alpn is filled in from `http2`
  Http2Mode http2 = Http2Mode::Auto;
  unsigned maxConnections = 2;
  unsigned maxStreamsPerConnection = 100;  // also bounded by the server's SETTINGS
  double connectTimeout = 10;              // seconds, TCP connect + proxy + TLS handshake
  double responseTimeout = 60;             // seconds from sending a request to its full response
  double idleTimeout = 30;                 // close connections unused this long
  double maxAge = 300;                     // stop using a connection this old (0 = never)
  double dnsRefresh = 60;                  // re-resolve the host after this long
  std::string proxyHost;                   // HTTP CONNECT proxy (empty = direct)
  uint16_t proxyPort = 0;
  size_t maxResponseBody = 1 << 20;        // longer response bodies are cut (status still counts)
};

// Parses "http://host:port" (the `proxy` option). Only http:// proxies are supported.
Status parseProxy(std::string_view url, std::string& host, uint16_t& port);

struct Header {
  std::string name;
  std::string value;
};

struct Request {
  std::string method = "POST";
  std::string path = "/";
  std::vector<Header> headers;  // Host and Content-Length are added by the client
  std::string body;
};

struct Response {
  int status = 0;         // 0: no HTTP response (transport error, timeout); see `error`
  std::string error;      // transport error text (never contains request headers)
  std::vector<Header> headers;
  std::string body;
  bool http2 = false;
  // Case-insensitive header lookup.
  std::optional<std::string_view> header(std::string_view name) const;
};

using ResponseCallback = std::function<void(Response&&)>;

struct ClientCounters {
  Counter requests;
  Counter responses;
  Counter transportErrors;
  Counter connectionsOpened;
  Counter connectionsOpen;  // gauge
  Counter h2Streams;        // gauge: streams in flight
  Counter h2Connections;    // connections that negotiated h2 (cumulative)
  Counter h1Connections;
  Counter dnsResolutions;   // completed look-ups of the upstream (or proxy) host
};

class Connection;

// One upstream's pool on one loop. Loop-thread only. Requests queue until a connection (or h2
// stream) is free; a failed connection attempt fails the queued requests so that the engine's
// retry/backoff takes over during outages.
class Client {
 public:
  // `tls` is required when options.tls; share one context across workers.
  Client(uv_loop_t* loop, UpstreamOptions options, std::shared_ptr<net::TlsContext> tls);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // `done` runs exactly once on the loop thread, never from inside send() (except after close()).
  void send(Request&& request, ResponseCallback done);
  // Fails what is queued, closes every connection; `closed` runs when all handles are closed.
  void close(std::function<void()> closed);

  const UpstreamOptions& options() const { return options_; }
  const ClientCounters& counters() const { return counters_; }
  size_t connectionCount() const { return connections_.size(); }

  // Builds a TlsContext for these options (ALPN from http2 mode).
  static Result<std::shared_ptr<net::TlsContext>> makeTlsContext(const UpstreamOptions& options);

  // Test seam (the HTTP fuzz target): takes an already connected stream socket, e.g. one end of a
  // socketpair, as a new connection of the pool instead of resolving and connecting. Everything
  // after the connect (proxy CONNECT, TLS, h2 or HTTP/1.1, responses, timeouts) is the normal
  // path. On error the fd stays the caller's.
  Status adoptConnectedSocket(int fd);

 private:
  friend class Connection;
  struct Pending;
  void dispatch();
  void scheduleDispatch();
  void onTick();
  void connectionFailed(Connection* c, const std::string& why, bool everReady);
  void connectionClosed(Connection* c);
  void deliver(std::unique_ptr<Pending> p, Response&& r);
  uint64_t now() const { return uv_now(loop_); }

  uv_loop_t* loop_;
  UpstreamOptions options_;
  std::shared_ptr<net::TlsContext> tls_;
  ClientCounters counters_;
  std::vector<std::unique_ptr<Pending>> queue_;
  std::vector<std::unique_ptr<Connection>> connections_;
  uv_timer_t* tick_ = nullptr;
  uv_idle_t* kick_ = nullptr;  // runs dispatch outside callers' stacks
  bool kicked_ = false;
  bool closing_ = false;
  size_t handlesOpen_ = 0;
  std::function<void()> closed_;
  // What the last connection spoke (Auto mode learns from ALPN how many connections to open).
  enum class Negotiated { Unknown, Http1, Http2 } negotiated_ = Negotiated::Unknown;
  // DNS cache
  std::vector<uint8_t> addr_;  // sockaddr bytes of the last resolution
  uint64_t resolvedAt_ = 0;
  std::shared_ptr<bool> alive_;
};

}  // namespace firelane::http
