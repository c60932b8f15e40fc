// The shared HTTP client against the fake Datadog intake, on a libuv loop run by the test thread:
// h2 multiplexing and SETTINGS_MAX_CONCURRENT_STREAMS, ALPN fallback to HTTP/1.1, h2c, TLS
// verification, client certificates, CONNECT proxies, timeouts, refused connections, max age.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>

#include "core/http/http_client.h"
#include "support/connect_proxy.h"
#include "support/fake_intake.h"

using namespace firelane;
using namespace firelane::testsupport;
using namespace std::chrono_literals;

namespace {

constexpr auto kWait = 10000ms;

// A loop owned by the test thread. A repeating timer keeps uv_run(ONCE) returning so conditions are
// re-checked at least every 5 ms.
class TestLoop {
 public:
  TestLoop() {
    uv_loop_init(&loop_);
    uv_timer_init(&loop_, &wake_);
    uv_timer_start(&wake_, [](uv_timer_t*) {}, 5, 5);
  }
  ~TestLoop() {
    uv_close(reinterpret_cast<uv_handle_t*>(&wake_), nullptr);
    for (int i = 0; i < 1000 && uv_run(&loop_, UV_RUN_NOWAIT) != 0; ++i) {
    }
    uv_loop_close(&loop_);
  }
  uv_loop_t* get() { return &loop_; }
  // Runs the loop until `done()` holds; false at the deadline.
  bool runUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = kWait) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      uv_run(&loop_, UV_RUN_ONCE);
    }
    return true;
  }
  // Runs the loop for `span` of loop time (for timeouts that must elapse).
  void runFor(std::chrono::milliseconds span) {
    uv_update_time(&loop_);
    uint64_t until = uv_now(&loop_) + static_cast<uint64_t>(span.count());
    runUntil([&] { return uv_now(&loop_) >= until; }, span + kWait);
  }

 private:
  uv_loop_t loop_;
  uv_timer_t wake_;
};

http::UpstreamOptions plainUpstream(const FakeIntake& intake, http::Http2Mode mode) {
  http::UpstreamOptions o;
  o.host = "127.0.0.1";
  o.port = intake.port();
  o.tls = false;
  o.http2 = mode;
  return o;
}

http::UpstreamOptions tlsUpstream(const FakeIntake& intake, http::Http2Mode mode = http::Http2Mode::Auto) {
  http::UpstreamOptions o = plainUpstream(intake, mode);
  o.tls = true;
  o.tlsOptions.caFile = intake.caFile();
  return o;
}

http::Request logsRequest(const std::string& message = "hello", const std::string& key = "test-api-key") {
  http::Request r;
  r.method = "POST";
  r.path = "/api/v2/logs";
  r.headers = {{"DD-API-KEY", key}, {"Content-Type", "application/json"}};
  r.body = R"([{"message":")" + message + R"("}])";
  return r;
}

// A client on a test loop, closed (and its handles run down) on destruction.
struct ClientFixture {
  TestLoop loop;
  std::unique_ptr<http::Client> client;
  std::vector<http::Response> responses;

  explicit ClientFixture(const http::UpstreamOptions& o) {
    std::shared_ptr<net::TlsContext> tls;
    if (o.tls) {
      auto made = http::Client::makeTlsContext(o);
      INFO((made.ok() ? std::string() : made.message()));
      REQUIRE(made.ok());
      tls = *made;
    }
    client = std::make_unique<http::Client>(loop.get(), o, tls);
  }
  ~ClientFixture() {
    bool closed = false;
    client->close([&] { closed = true; });
    loop.runUntil([&] { return closed; });
  }
  void send(http::Request r) {
    client->send(std::move(r), [this](http::Response&& resp) { responses.push_back(std::move(resp)); });
  }
  // Sends `n` requests and runs the loop until all are answered (REQUIREs it).
  void sendAndWait(size_t n) {
    size_t target = responses.size() + n;
    for (size_t i = 0; i < n; ++i) send(logsRequest("event " + std::to_string(i)));
    REQUIRE(loop.runUntil([&] { return responses.size() >= target; }));
  }
  size_t countStatus(int status) const {
    size_t n = 0;
    for (const auto& r : responses) n += r.status == status;
    return n;
  }
};

// A TCP port with a bound socket that does not listen: connecting to it is refused, and nothing
// else can take the port while the object lives.
struct RefusingPort {
  int fd = -1;
  uint16_t port = 0;
  RefusingPort() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~RefusingPort() { ::close(fd); }
};

// A listener that never accepts: the kernel completes TCP handshakes, and then nothing is said.
struct SilentPort : RefusingPort {
  SilentPort() { REQUIRE(::listen(fd, 16) == 0); }
};

}  // namespace

TEST_CASE("http client: h2c prior knowledge multiplexes many streams on one connection", "[http][h2]") {
  FakeIntake intake;
  intake.start();
  intake.setDelay(100ms);  // keep streams open so they overlap
  auto o = plainUpstream(intake, http::Http2Mode::PriorKnowledge);
  o.maxConnections = 4;
  ClientFixture f(o);
  f.sendAndWait(50);
  CHECK(f.countStatus(202) == 50);
  for (const auto& r : f.responses) CHECK(r.http2);
  auto st = intake.stats();
  CHECK(st.h2Connections == 1);
  CHECK(st.h1Connections == 0);
  CHECK(st.maxStreamsPerConnection == 50);
  CHECK(st.maxConcurrentStreams > 10);
  CHECK(intake.eventCount() == 50);
  CHECK(f.client->counters().h2Connections.get() == 1);
}

TEST_CASE("http client: h2 respects the server's SETTINGS_MAX_CONCURRENT_STREAMS", "[http][h2]") {
  FakeIntakeOptions io;
  io.h2MaxConcurrentStreams = 5;
  FakeIntake intake(io);
  intake.start();
  intake.setDelay(50ms);
  auto o = plainUpstream(intake, http::Http2Mode::PriorKnowledge);
  o.maxConnections = 1;
  ClientFixture f(o);
  f.sendAndWait(40);
  for (const auto& r : f.responses) {
    INFO(r.error);
    CHECK(r.status == 202);
  }
  auto st = intake.stats();
  CHECK(st.h2Connections == 1);
  CHECK(st.maxConcurrentStreams == 5);
  CHECK(st.maxStreamsPerConnection == 40);
}

TEST_CASE("http client: h2 over TLS by ALPN with many streams per connection", "[http][h2][tls]") {
  FakeIntakeOptions io;
  io.tls = true;
  FakeIntake intake(io);
  intake.start();
  intake.setDelay(50ms);
  ClientFixture f(tlsUpstream(intake));
  f.sendAndWait(30);
  CHECK(f.countStatus(202) == 30);
  for (const auto& r : f.responses) CHECK(r.http2);
  auto st = intake.stats();
  CHECK(st.h2Connections == 1);
  CHECK(st.maxStreamsPerConnection == 30);
  CHECK(st.maxConcurrentStreams > 1);
  auto reqs = intake.requests();
  REQUIRE(reqs.size() == 30);
  for (const auto& r : reqs) {
    CHECK(r.tls);
    CHECK(r.protocol == IntakeProtocol::Http2);
  }
}

TEST_CASE("http client: falls back to HTTP/1.1 keep-alive when ALPN offers only http/1.1", "[http][tls]") {
  FakeIntakeOptions io;
  io.tls = true;
  io.alpn = {"http/1.1"};
  FakeIntake intake(io);
  intake.start();
  intake.setDelay(20ms);
  auto o = tlsUpstream(intake);
  o.maxConnections = 2;
  ClientFixture f(o);
  f.sendAndWait(10);
  CHECK(f.countStatus(202) == 10);
  for (const auto& r : f.responses) CHECK_FALSE(r.http2);
  auto st = intake.stats();
  CHECK(st.h2Connections == 0);
  CHECK(st.h1Requests == 10);
  // Keep-alive: at most max_connections connections carried the ten requests.
  CHECK(st.connections >= 1);
  CHECK(st.connections <= 2);
  CHECK(f.client->counters().h1Connections.get() == st.connections);
}

TEST_CASE("http client: plain HTTP/1.1 with http2 off", "[http]") {
  FakeIntake intake;
  intake.start();
  auto o = plainUpstream(intake, http::Http2Mode::Off);
  o.maxConnections = 1;
  ClientFixture f(o);
  f.sendAndWait(5);
  CHECK(f.countStatus(202) == 5);
  auto st = intake.stats();
  CHECK(st.connections == 1);  // one keep-alive connection, one request at a time
  CHECK(st.h1Requests == 5);
  auto reqs = intake.requests();
  REQUIRE(reqs.size() == 5);
  CHECK(reqs[0].headers.at("host") == "127.0.0.1:" + std::to_string(intake.port()));
  CHECK(reqs[0].headers.at("content-length") == std::to_string(logsRequest("event 0").body.size()));
}

TEST_CASE("http client: non-2xx statuses and bodies come back as responses", "[http]") {
  FakeIntake intake;
  intake.start();
  intake.failNext(1, Fault::withStatus(429, 7));
  ClientFixture f(plainUpstream(intake, http::Http2Mode::PriorKnowledge));
  f.send(logsRequest("a", "wrong-key"));
  REQUIRE(f.loop.runUntil([&] { return f.responses.size() == 1; }));
  CHECK(f.responses[0].status == 429);
  REQUIRE(f.responses[0].header("Retry-After"));
  CHECK(*f.responses[0].header("retry-after") == "7");
  f.send(logsRequest("a", "wrong-key"));
  REQUIRE(f.loop.runUntil([&] { return f.responses.size() == 2; }));
  CHECK(f.responses[1].status == 403);
  CHECK(f.responses[1].body.find("DD-API-KEY invalid") != std::string::npos);
}

TEST_CASE("http client: TLS verification fails against an unknown CA and succeeds with tls.ca_file",
          "[http][tls]") {
  FakeIntakeOptions io;
  io.tls = true;
  FakeIntake intake(io);
  intake.start();
  SECTION("unknown CA") {
    auto o = tlsUpstream(intake);
    o.tlsOptions.caFile = intake.pki().unknownCaFile();
    ClientFixture f(o);
    f.sendAndWait(1);
    CHECK(f.responses[0].status == 0);
    CHECK(f.responses[0].error.find("certificate verify failed") != std::string::npos);
    CHECK(intake.stats().requests == 0);
  }
  SECTION("system store (the test CA is not in it)") {
    auto o = tlsUpstream(intake);
    o.tlsOptions.caFile.clear();
    ClientFixture f(o);
    f.sendAndWait(1);
    CHECK(f.responses[0].status == 0);
    CHECK(f.responses[0].error.find("certificate verify failed") != std::string::npos);
  }
  SECTION("tls.ca_file") {
    ClientFixture f(tlsUpstream(intake));
    f.sendAndWait(1);
    CHECK(f.responses[0].status == 202);
  }
  SECTION("tls.verify off accepts any certificate") {
    auto o = tlsUpstream(intake);
    o.tlsOptions.caFile = intake.pki().unknownCaFile();
    o.tlsOptions.verify = false;
    ClientFixture f(o);
    f.sendAndWait(1);
    CHECK(f.responses[0].status == 202);
  }
  SECTION("tls.vhost names the certificate to expect") {
    auto o = tlsUpstream(intake);
    o.tlsOptions.vhost = "localhost";  // in the server certificate
    {
      ClientFixture f(o);
      f.sendAndWait(1);
      CHECK(f.responses[0].status == 202);
    }
    o.tlsOptions.vhost = "intake.example.com";  // not in it
    ClientFixture g(o);
    g.sendAndWait(1);
    CHECK(g.responses[0].status == 0);
    CHECK(g.responses[0].error.find("certificate verify failed") != std::string::npos);
  }
}

TEST_CASE("http client: client certificates for mutual TLS", "[http][tls]") {
  FakeIntakeOptions io;
  io.tls = true;
  io.requireClientCert = true;
  FakeIntake intake(io);
  intake.start();
  SECTION("with the client certificate") {
    auto o = tlsUpstream(intake);
    o.tlsOptions.crtFile = intake.pki().client().certFile;
    o.tlsOptions.keyFile = intake.pki().client().keyFile;
    ClientFixture f(o);
    f.sendAndWait(3);
    CHECK(f.countStatus(202) == 3);
  }
  SECTION("without one the server refuses") {
    ClientFixture f(tlsUpstream(intake));
    f.sendAndWait(1);
    CHECK(f.responses[0].status == 0);
    CHECK_FALSE(f.responses[0].error.empty());
    CHECK(intake.stats().requests == 0);
  }
  SECTION("with a certificate from another CA the server refuses") {
    auto o = tlsUpstream(intake);
    o.tlsOptions.crtFile = intake.pki().unknownClient().certFile;
    o.tlsOptions.keyFile = intake.pki().unknownClient().keyFile;
    ClientFixture f(o);
    f.sendAndWait(1);
    CHECK(f.responses[0].status == 0);
    CHECK(intake.stats().requests == 0);
  }
}

TEST_CASE("http client: requests go through an HTTP CONNECT proxy", "[http][proxy]") {
  ConnectProxy proxy;
  proxy.start();
  SECTION("h2c") {
    FakeIntake intake;
    intake.start();
    auto o = plainUpstream(intake, http::Http2Mode::PriorKnowledge);
    o.proxyHost = "127.0.0.1";
    o.proxyPort = proxy.port();
    ClientFixture f(o);
    f.sendAndWait(10);
    CHECK(f.countStatus(202) == 10);
    REQUIRE(proxy.requests().size() == 1);
    CHECK(proxy.requests()[0] == "CONNECT 127.0.0.1:" + std::to_string(intake.port()) + " HTTP/1.1");
    CHECK(proxy.tunnels() == 1);
  }
  SECTION("TLS with h2 through the tunnel") {
    FakeIntakeOptions io;
    io.tls = true;
    FakeIntake intake(io);
    intake.start();
    auto o = tlsUpstream(intake);
    o.proxyHost = "127.0.0.1";
    o.proxyPort = proxy.port();
    ClientFixture f(o);
    f.sendAndWait(5);
    CHECK(f.countStatus(202) == 5);
    for (const auto& r : f.responses) CHECK(r.http2);
    CHECK(proxy.tunnels() == 1);
    CHECK(intake.stats().h2Connections == 1);
  }
  SECTION("a refused CONNECT fails the request with the proxy's status") {
    FakeIntake intake;
    intake.start();
    proxy.refuseWith(403);
    auto o = plainUpstream(intake, http::Http2Mode::Off);
    o.proxyHost = "127.0.0.1";
    o.proxyPort = proxy.port();
    ClientFixture f(o);
    f.sendAndWait(1);
    CHECK(f.responses[0].status == 0);
    CHECK(f.responses[0].error == "proxy refused CONNECT with status 403");
    CHECK(intake.stats().connections == 0);
  }
}

TEST_CASE("http client: a response that takes too long fails with a timeout", "[http][timeout]") {
  FakeIntake intake;
  intake.start();
  intake.setDelay(5000ms);
  auto mode = GENERATE(http::Http2Mode::Off, http::Http2Mode::PriorKnowledge);
  auto o = plainUpstream(intake, mode);
  o.responseTimeout = 0.3;
  ClientFixture f(o);
  auto start = std::chrono::steady_clock::now();
  f.sendAndWait(1);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(f.responses[0].status == 0);
  CHECK(f.responses[0].error == "response timed out");
  CHECK(took >= 290ms);  // the loop clock counts whole milliseconds
  CHECK(took < 4000ms);
}

TEST_CASE("http client: a refused connection fails the request with status 0", "[http]") {
  RefusingPort refusing;
  http::UpstreamOptions o;
  o.host = "127.0.0.1";
  o.port = refusing.port;
  o.tls = false;
  ClientFixture f(o);
  f.sendAndWait(3);
  for (const auto& r : f.responses) {
    CHECK(r.status == 0);
    CHECK(r.error.find("connect to 127.0.0.1:" + std::to_string(refusing.port)) == 0);
    CHECK(r.error.find("connection refused") != std::string::npos);
  }
  CHECK(f.client->counters().transportErrors.get() >= 1);
}

TEST_CASE("http client: a connection past its max age is replaced by a new one", "[http]") {
  FakeIntake intake;
  intake.start();
  auto mode = GENERATE(http::Http2Mode::Off, http::Http2Mode::PriorKnowledge);
  auto o = plainUpstream(intake, mode);
  o.maxConnections = 1;
  o.maxAge = 0.2;
  ClientFixture f(o);
  f.sendAndWait(2);
  CHECK(intake.stats().connections == 1);
  f.loop.runFor(400ms);
  f.sendAndWait(2);
  CHECK(f.countStatus(202) == 4);
  CHECK(intake.stats().connections == 2);
  CHECK(f.client->counters().connectionsOpened.get() == 2);
  // The old connection was closed, not kept next to the new one.
  CHECK(intake.waitFor([](const FakeIntakeStats& s) { return s.activeConnections == 1; }, kWait));
}

TEST_CASE("http client: the host is resolved again once dnsRefresh has passed", "[http][dns]") {
  FakeIntake intake;
  intake.start();
  auto refresh = GENERATE(0.1, 60.0);
  auto o = plainUpstream(intake, http::Http2Mode::Off);
  o.maxConnections = 1;
  o.maxAge = 0.2;  // every new request after 0.2 s needs a new connection
  o.dnsRefresh = refresh;
  ClientFixture f(o);
  f.sendAndWait(1);
  CHECK(f.client->counters().dnsResolutions.get() == 1);
  f.loop.runFor(400ms);
  f.sendAndWait(1);
  CHECK(f.countStatus(202) == 2);
  CHECK(f.client->counters().connectionsOpened.get() == 2);
  // A fresh look-up only when the cached address is older than dnsRefresh.
  CHECK(f.client->counters().dnsResolutions.get() == (refresh < 0.4 ? 2u : 1u));
}

TEST_CASE("http client: idle connections are closed after the idle timeout", "[http]") {
  FakeIntake intake;
  intake.start();
  auto o = plainUpstream(intake, http::Http2Mode::PriorKnowledge);
  o.idleTimeout = 0.2;
  ClientFixture f(o);
  f.sendAndWait(1);
  CHECK(f.client->connectionCount() == 1);
  REQUIRE(f.loop.runUntil([&] { return f.client->connectionCount() == 0; }));
  CHECK(intake.waitFor([](const FakeIntakeStats& s) { return s.activeConnections == 0; }, kWait));
  f.sendAndWait(1);
  CHECK(f.responses[1].status == 202);
  CHECK(intake.stats().connections == 2);
}

TEST_CASE("http client: a reset connection fails its requests and the next ones reconnect", "[http]") {
  FakeIntake intake;
  intake.start();
  auto mode = GENERATE(http::Http2Mode::Off, http::Http2Mode::PriorKnowledge);
  intake.failNext(1, Fault::tcpReset());
  ClientFixture f(plainUpstream(intake, mode));
  f.sendAndWait(1);
  CHECK(f.responses[0].status == 0);
  CHECK_FALSE(f.responses[0].error.empty());
  f.sendAndWait(3);
  CHECK(f.countStatus(202) == 3);
}

TEST_CASE("http client: an h2 stream reset fails only that request", "[http][h2]") {
  FakeIntake intake;
  intake.start();
  intake.failNext(1, Fault::streamReset());
  auto o = plainUpstream(intake, http::Http2Mode::PriorKnowledge);
  o.maxConnections = 1;
  ClientFixture f(o);
  f.sendAndWait(5);
  CHECK(f.countStatus(202) == 4);
  CHECK(f.countStatus(0) == 1);
  CHECK(intake.stats().connections == 1);
}

TEST_CASE("http client: parseProxy accepts http://host:port only", "[http][proxy]") {
  std::string host;
  uint16_t port = 0;
  REQUIRE(http::parseProxy("http://10.0.0.1:3128", host, port).ok());
  CHECK(host == "10.0.0.1");
  CHECK(port == 3128);
  REQUIRE(http::parseProxy("http://proxy.local/", host, port).ok());
  CHECK(host == "proxy.local");
  CHECK(port == 80);
  REQUIRE(http::parseProxy("http://[::1]:8080", host, port).ok());
  CHECK(host == "::1");
  CHECK(port == 8080);
  CHECK_FALSE(http::parseProxy("https://proxy:443", host, port).ok());
  CHECK_FALSE(http::parseProxy("http://proxy:99999", host, port).ok());
}

TEST_CASE("http client: h2 bodies larger than the peer's flow-control window are sent whole", "[http][h2]") {
  FakeIntakeOptions io;
  io.h2InitialWindowSize = 4096;  // per stream, below the 65535 default: the client must wait for it
  FakeIntake intake(io);
  intake.start();
  auto o = plainUpstream(intake, http::Http2Mode::PriorKnowledge);
  o.maxConnections = 1;
  ClientFixture f(o);
  // 8 concurrent 300 KB bodies also exhaust the connection window (65535 by default).
  for (int i = 0; i < 8; ++i) f.send(logsRequest(std::string(300 * 1024, static_cast<char>('a' + i))));
  REQUIRE(f.loop.runUntil([&] { return f.responses.size() == 8; }));
  for (const auto& r : f.responses) {
    INFO(r.error);
    CHECK(r.status == 202);
  }
  auto reqs = intake.requests();
  REQUIRE(reqs.size() == 8);
  for (const auto& r : reqs) CHECK(r.bodyBytes == logsRequest(std::string(300 * 1024, 'x')).body.size());
  CHECK(intake.stats().connections == 1);
}

TEST_CASE("http client: HTTP/1.1 bodies over 64 KiB go out in full", "[http]") {
  FakeIntake intake;
  intake.start();
  ClientFixture f(plainUpstream(intake, http::Http2Mode::Off));
  f.send(logsRequest(std::string(1 << 20, 'z')));
  REQUIRE(f.loop.runUntil([&] { return f.responses.size() == 1; }));
  CHECK(f.responses[0].status == 202);
  REQUIRE(intake.requests().size() == 1);
  CHECK(intake.requests()[0].bodyBytes == logsRequest(std::string(1 << 20, 'z')).body.size());
}

TEST_CASE("http client: close fails queued requests and runs the closed callback", "[http]") {
  RefusingPort refusing;  // nothing answers: requests stay queued while connecting
  TestLoop loop;
  http::UpstreamOptions o;
  o.host = "127.0.0.1";
  o.port = refusing.port;
  o.tls = false;
  auto client = std::make_unique<http::Client>(loop.get(), o, nullptr);
  std::vector<http::Response> got;
  for (int i = 0; i < 3; ++i) client->send(logsRequest(), [&](http::Response&& r) { got.push_back(std::move(r)); });
  bool closed = false;
  client->close([&] { closed = true; });
  REQUIRE(loop.runUntil([&] { return closed; }));
  REQUIRE(got.size() == 3);
  for (const auto& r : got) {
    CHECK(r.status == 0);
    CHECK(r.error == "client closing");
  }
  // After close, send() answers at once.
  client->send(logsRequest(), [&](http::Response&& r) { got.push_back(std::move(r)); });
  CHECK(got.size() == 4);
}

TEST_CASE("http client: an h2 server that never sends SETTINGS fails the request at the connect timeout",
          "[http][h2][timeout]") {
  SilentPort silent;
  http::UpstreamOptions o;
  o.host = "127.0.0.1";
  o.port = silent.port;
  o.tls = false;
  o.http2 = http::Http2Mode::PriorKnowledge;
  o.connectTimeout = 0.3;
  ClientFixture f(o);
  f.sendAndWait(2);
  for (const auto& r : f.responses) {
    CHECK(r.status == 0);
    CHECK(r.error == "no HTTP/2 SETTINGS from the server in time");
  }
  CHECK(f.client->counters().connectionsOpened.get() == 1);  // no reconnect loop
}

TEST_CASE("http client: a TLS server that never answers the handshake times out", "[http][tls][timeout]") {
  SilentPort silent;
  http::UpstreamOptions o;
  o.host = "127.0.0.1";
  o.port = silent.port;
  o.tls = true;
  o.connectTimeout = 0.3;
  ClientFixture f(o);
  f.sendAndWait(1);
  CHECK(f.responses[0].status == 0);
  CHECK(f.responses[0].error == "TLS handshake timed out");
}
