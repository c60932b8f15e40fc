// libFuzzer target for the HTTP client's response handling: the input is what a server sends on one
// connection of a real http::Client (one end of a socketpair adopted through the client's test
// seam), over HTTP/1.1 (http-parser), h2c prior knowledge (nghttp2 and the client's callbacks) or
// behind an HTTP CONNECT proxy. Every request must complete exactly once with a sane response, and
// closing the client must release every handle.
//
// Input: byte 0 = flags, bytes 1-2 = split (little-endian), then the server's bytes: the first
// `split` bytes are sent once the request went out (h2: as soon as the connection is up, so that
// the server's SETTINGS can let the request out), the rest after that, then end of stream.
//   bit 0: h2c prior knowledge (else HTTP/1.1)   bit 1: through a CONNECT proxy
//   bit 2: two requests                          bit 3: GET without a body (else POST)
//   bit 4: response bodies cut at 16 bytes
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <string>

#include "core/common/log.h"
#include "core/http/http_client.h"
#include "tests/fuzz/fuzz_util.h"

namespace firelane::fuzz {
namespace {

// Non-blocking read of whatever the client wrote so far (its requests; discarded).
void drain(int fd) {
  char buf[16384];
  for (int i = 0; i < 64; ++i) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) return;
  }
}

void writeAll(int fd, const uint8_t* p, size_t n, uv_loop_t* loop) {
  // The client may be writing to us at the same time: keep draining so neither side blocks.
  for (int rounds = 0; n > 0 && rounds < 10000; ++rounds) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);  // the client may have closed its end already
    if (w > 0) {
      p += w;
      n -= static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return;  // the client hung up
    drain(fd);
    uv_run(loop, UV_RUN_NOWAIT);
  }
}

void step(uv_loop_t* loop, int fd) {
  for (int i = 0; i < 8; ++i) {
    uv_run(loop, UV_RUN_NOWAIT);
    drain(fd);
  }
}

}  // namespace

int httpOneInput(const uint8_t* data, size_t size) {
  httpExchange(data, size);
  return 0;
}

std::vector<HttpOutcome> httpExchange(const uint8_t* data, size_t size) {
  log::setLevel(log::Level::Off);
  // As the engine does: a peer that closed its end is an error code on write, not a signal.
  static const bool ignored = std::signal(SIGPIPE, SIG_IGN) != SIG_ERR;
  (void)ignored;
  std::vector<HttpOutcome> outcomes;
  if (size < 3 || size > 256 * 1024) return outcomes;
  const uint8_t flags = data[0];
  size_t split = std::min<size_t>(data[1] | (data[2] << 8), size - 3);
  const uint8_t* server = data + 3;
  const size_t serverLen = size - 3;

  uv_loop_t loop;
  if (uv_loop_init(&loop) != 0) return outcomes;
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) __builtin_trap();
  ::fcntl(sv[1], F_SETFL, O_NONBLOCK);

  http::UpstreamOptions o;
  o.host = "127.0.0.1";
  o.port = 1;  // if the client ever reconnects, it is refused at once (loopback only)
  o.tls = false;
  o.http2 = (flags & 1) ? http::Http2Mode::PriorKnowledge : http::Http2Mode::Off;
  if (flags & 2) {
    o.proxyHost = "127.0.0.1";
    o.proxyPort = 1;
  }
  o.maxConnections = 1;
  o.maxResponseBody = (flags & 16) ? 16 : (1 << 20);
  const size_t bodyCap = o.maxResponseBody;
  const int requests = (flags & 4) ? 2 : 1;

  int completed = 0;
  bool closed = false;
  {
    http::Client client(&loop, o, nullptr);
    if (!client.adoptConnectedSocket(sv[0])) __builtin_trap();
    for (int i = 0; i < requests; ++i) {
      http::Request req;
      req.method = (flags & 8) ? "GET" : "POST";
      req.path = "/api/v2/logs";
      req.headers.push_back({"Content-Type", "application/json"});
      if (!(flags & 8)) req.body = "[{\"message\":\"hello\"}]";
      client.send(std::move(req), [&completed, &outcomes, bodyCap](http::Response&& r) {
        ++completed;
        if (r.status < 0 || r.status > 999) __builtin_trap();
        if (r.status == 0 && r.error.empty()) __builtin_trap();
        if (r.body.size() > bodyCap || r.headers.size() > 100) __builtin_trap();
        auto retryAfter = r.header("retry-after");
        outcomes.push_back({r.status, r.error, r.body, std::string(retryAfter.value_or("")), r.http2});
      });
    }
    step(&loop, sv[1]);
    writeAll(sv[1], server, split, &loop);
    step(&loop, sv[1]);
    writeAll(sv[1], server + split, serverLen - split, &loop);
    step(&loop, sv[1]);
    ::shutdown(sv[1], SHUT_WR);
    for (int i = 0; i < 1000 && completed < requests; ++i) {
      uv_run(&loop, UV_RUN_NOWAIT);
      drain(sv[1]);
      if (i > 100) uv_run(&loop, UV_RUN_ONCE);  // a reconnect to the refused port may be on its way
    }
    if (completed != requests) __builtin_trap();  // a request never completed: it would stall a flush
    client.close([&closed] { closed = true; });
    uv_run(&loop, UV_RUN_DEFAULT);
    if (!closed) __builtin_trap();
  }
  ::close(sv[1]);
  if (uv_loop_close(&loop) != 0) __builtin_trap();  // a handle or request outlived the client
  if (completed != requests) __builtin_trap();       // and never more than once
  return outcomes;
}

}  // namespace firelane::fuzz

FIRELANE_FUZZ_ENTRY(firelane::fuzz::httpOneInput)
