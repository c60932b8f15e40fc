// Self-test of the fake Datadog intake, driven by a small independent client (HTTP/1.1 parsed with
// http-parser, h2 / h2c with an nghttp2 client session, TLS + ALPN with OpenSSL).
#include "support/fake_intake.h"

#include <arpa/inet.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <map>
#include <thread>

#include "support/forward_client.h"

namespace firelane::testsupport {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// A small blocking client.

struct Request {
  std::string method = "POST";
  std::string path = "/api/v2/logs";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct Response {
  int status = 0;  // 0: no answer (connection closed / reset, stream reset)
  std::map<std::string, std::string> headers;
  std::string body;
  uint32_t streamError = 0;  // h2 RST_STREAM code
  bool reset = false;        // read failed with ECONNRESET
};

struct ClientTls {
  std::string caFile;
  std::vector<std::string> alpn;  // empty: no ALPN extension
  const CertKey* clientCert = nullptr;
};

std::string deflateZlib(std::string_view data) {
  uLongf size = compressBound(data.size());
  std::string out(size, '\0');
  REQUIRE(compress2(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(data.data()),
                    data.size(), 6) == Z_OK);
  out.resize(size);
  return out;
}

std::string zstd(std::string_view data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
  REQUIRE(!ZSTD_isError(n));
  out.resize(n);
  return out;
}

// A valid intake request: `events` as a JSON array, compressed with `encoding`.
Request logs(const json& events, const std::string& encoding = "identity", const std::string& key = "test-api-key") {
  Request r;
  std::string text = events.dump();
  if (encoding == "gzip") {
    r.body = gzip(text);
  } else if (encoding == "deflate") {
    r.body = deflateZlib(text);
  } else if (encoding == "zstd") {
    r.body = zstd(text);
  } else {
    r.body = text;
  }
  r.headers = {{"DD-API-KEY", key}, {"Content-Type", "application/json"}};
  if (encoding != "identity") r.headers.emplace_back("Content-Encoding", encoding);
  return r;
}

json batch(size_t n, const std::string& prefix = "m") {
  json a = json::array();
  for (size_t i = 0; i < n; ++i) a.push_back({{"message", prefix + std::to_string(i)}, {"ddsource", "test"}});
  return a;
}

class Client {
 public:
  static std::unique_ptr<Client> connect(uint16_t port, const ClientTls* tls = nullptr, std::string* error = nullptr) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      if (error != nullptr) *error = std::strerror(errno);
      ::close(fd);
      return nullptr;
    }
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::unique_ptr<Client> c(new Client(fd));
    if (tls != nullptr && !c->handshake(*tls, error)) return nullptr;
    return c;
  }
  ~Client() {
    if (h2_ != nullptr) nghttp2_session_del(h2_);
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    ::close(fd_);
  }

  const std::string& alpn() const { return alpn_; }

  bool write(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ssl_ != nullptr ? SSL_write(ssl_, data.data(), static_cast<int>(data.size()))
                                  : ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // >0 bytes, 0 EOF, -1 error (reset_ set on ECONNRESET).
  ssize_t read(char* buf, size_t n) {
    if (ssl_ != nullptr) {
      int rc = SSL_read(ssl_, buf, static_cast<int>(n));
      if (rc > 0) return rc;
      int err = SSL_get_error(ssl_, rc);
      if (err == SSL_ERROR_ZERO_RETURN) return 0;
      if (err == SSL_ERROR_SYSCALL && errno == ECONNRESET) reset_ = true;
      if (err == SSL_ERROR_SYSCALL && errno == 0) return 0;  // EOF without close_notify
      ERR_clear_error();
      return -1;
    }
    ssize_t rc = ::recv(fd_, buf, n, 0);
    if (rc < 0 && errno == ECONNRESET) reset_ = true;
    return rc;
  }

  // --- HTTP/1.1 ---
  Response h1(const Request& r) {
    std::string head = r.method + " " + r.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [k, v] : r.headers) head += k + ": " + v + "\r\n";
    head += "Content-Length: " + std::to_string(r.body.size()) + "\r\n\r\n";
    if (!write(head + r.body)) return Response{};
    return readH1();
  }
  Response readH1() {
    reset_ = false;
    Reader reader;
    http_parser_init(&reader.parser, HTTP_RESPONSE);
    reader.parser.data = &reader;
    http_parser_settings s{};
    s.on_header_field = [](http_parser* p, const char* at, size_t n) {
      auto* rd = static_cast<Reader*>(p->data);
      if (rd->inValue) rd->flush();
      rd->field.append(at, n);
      return 0;
    };
    s.on_header_value = [](http_parser* p, const char* at, size_t n) {
      auto* rd = static_cast<Reader*>(p->data);
      rd->inValue = true;
      rd->value.append(at, n);
      return 0;
    };
    s.on_headers_complete = [](http_parser* p) {
      static_cast<Reader*>(p->data)->flush();
      return 0;
    };
    s.on_body = [](http_parser* p, const char* at, size_t n) {
      static_cast<Reader*>(p->data)->response.body.append(at, n);
      return 0;
    };
    s.on_message_complete = [](http_parser* p) {
      auto* rd = static_cast<Reader*>(p->data);
      rd->response.status = static_cast<int>(p->status_code);
      if (p->status_code == 100) {  // interim: keep reading
        rd->response = Response{};
        return 0;
      }
      rd->done = true;
      http_parser_pause(p, 1);
      return 0;
    };
    char buf[65536];
    while (!reader.done) {
      std::string_view data = leftover_;
      if (data.empty()) {
        ssize_t n = read(buf, sizeof(buf));
        if (n <= 0) {
          Response closed;
          closed.reset = reset_;
          return closed;
        }
        data = std::string_view(buf, static_cast<size_t>(n));
      }
      size_t used = http_parser_execute(&reader.parser, &s, data.data(), data.size());
      leftover_ = std::string(data.substr(used));
      if (!reader.done && HTTP_PARSER_ERRNO(&reader.parser) != HPE_OK) return Response{};
    }
    return reader.response;
  }

  // --- HTTP/2: all requests on concurrent streams of this connection ---
  std::vector<Response> h2(const std::vector<Request>& requests) {
    if (h2_ == nullptr) {
      nghttp2_session_callbacks* cbs = nullptr;
      nghttp2_session_callbacks_new(&cbs);
      nghttp2_session_callbacks_set_on_header_callback(
          cbs, [](nghttp2_session*, const nghttp2_frame* f, const uint8_t* n, size_t nl, const uint8_t* v, size_t vl,
                  uint8_t, void* user) {
            auto* c = static_cast<Client*>(user);
            auto it = c->streams_.find(f->hd.stream_id);
            if (it == c->streams_.end()) return 0;
            std::string name(reinterpret_cast<const char*>(n), nl);
            std::string value(reinterpret_cast<const char*>(v), vl);
            if (name == ":status") {
              it->second->response.status = std::stoi(value);
            } else {
              it->second->response.headers[name] = value;
            }
            return 0;
          });
      nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
          cbs, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* user) {
            auto* c = static_cast<Client*>(user);
            auto it = c->streams_.find(id);
            if (it != c->streams_.end()) it->second->response.body.append(reinterpret_cast<const char*>(data), len);
            return 0;
          });
      nghttp2_session_callbacks_set_on_stream_close_callback(
          cbs, [](nghttp2_session*, int32_t id, uint32_t code, void* user) {
            auto* c = static_cast<Client*>(user);
            auto it = c->streams_.find(id);
            if (it != c->streams_.end()) {
              it->second->response.streamError = code;
              it->second->closed = true;
            }
            return 0;
          });
      nghttp2_session_client_new(&h2_, cbs, this);
      nghttp2_session_callbacks_del(cbs);
      nghttp2_submit_settings(h2_, NGHTTP2_FLAG_NONE, nullptr, 0);
    }
    std::vector<std::unique_ptr<H2Stream>> mine;
    for (const auto& r : requests) {
      auto st = std::make_unique<H2Stream>();
      st->body = r.body;
      std::string length = std::to_string(r.body.size());
      std::vector<std::pair<std::string, std::string>> hs = {
          {":method", r.method}, {":scheme", ssl_ != nullptr ? "https" : "http"}, {":authority", "127.0.0.1"},
          {":path", r.path}, {"content-length", length}};
      for (const auto& [k, v] : r.headers) hs.emplace_back(lower(k), v);
      std::vector<nghttp2_nv> nva;
      for (auto& [k, v] : hs) {
        nva.push_back(nghttp2_nv{reinterpret_cast<uint8_t*>(k.data()), reinterpret_cast<uint8_t*>(v.data()),
                                 k.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
      }
      nghttp2_data_provider provider{};
      provider.source.ptr = st.get();
      provider.read_callback = [](nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                                  nghttp2_data_source* source, void*) -> ssize_t {
        auto* s = static_cast<H2Stream*>(source->ptr);
        size_t n = std::min(length, s->body.size() - s->offset);
        std::memcpy(buf, s->body.data() + s->offset, n);
        s->offset += n;
        if (s->offset == s->body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
        return static_cast<ssize_t>(n);
      };
      int32_t id = nghttp2_submit_request(h2_, nullptr, nva.data(), nva.size(), &provider, nullptr);
      REQUIRE(id > 0);
      streams_[id] = st.get();
      mine.push_back(std::move(st));
    }
    auto allClosed = [&] {
      return std::all_of(mine.begin(), mine.end(), [](const auto& s) { return s->closed; });
    };
    char buf[65536];
    while (!allClosed()) {
      const uint8_t* data = nullptr;
      ssize_t n;
      while ((n = nghttp2_session_mem_send(h2_, &data)) > 0) {
        if (!write(std::string_view(reinterpret_cast<const char*>(data), static_cast<size_t>(n)))) break;
      }
      if (allClosed()) break;
      ssize_t got = read(buf, sizeof(buf));
      if (got <= 0) break;
      if (nghttp2_session_mem_recv(h2_, reinterpret_cast<uint8_t*>(buf), static_cast<size_t>(got)) < 0) break;
    }
    std::vector<Response> out;
    for (auto& st : mine) out.push_back(st->response);
    for (auto it = streams_.begin(); it != streams_.end();) {
      it = it->second->closed ? streams_.erase(it) : std::next(it);
    }
    return out;
  }

  // Reads until EOF or error: true when the server closed (or reset) the connection.
  bool waitClosed() {
    char buf[4096];
    while (true) {
      ssize_t n = read(buf, sizeof(buf));
      if (n == 0) return true;
      if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
    }
  }
  bool wasReset() const { return reset_; }

 private:
  struct Reader {
    http_parser parser{};
    Response response;
    std::string field, value;
    bool inValue = false;
    bool done = false;
    void flush() {
      if (!inValue) return;
      response.headers[lower(field)] = value;
      field.clear();
      value.clear();
      inValue = false;
    }
  };
  struct H2Stream {
    std::string body;
    size_t offset = 0;
    Response response;
    bool closed = false;
  };

  static std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }

  explicit Client(int fd) : fd_(fd) {}

  bool handshake(const ClientTls& tls, std::string* error) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_load_verify_locations(ctx_, tls.caFile.c_str(), nullptr) != 1) {
      if (error != nullptr) *error = "cannot load CA";
      return false;
    }
    if (tls.clientCert != nullptr) {
      SSL_CTX_use_certificate_file(ctx_, tls.clientCert->certFile.c_str(), SSL_FILETYPE_PEM);
      SSL_CTX_use_PrivateKey_file(ctx_, tls.clientCert->keyFile.c_str(), SSL_FILETYPE_PEM);
    }
    if (!tls.alpn.empty()) {
      std::string wire;
      for (const auto& p : tls.alpn) wire += static_cast<char>(p.size()) + p;
      SSL_CTX_set_alpn_protos(ctx_, reinterpret_cast<const unsigned char*>(wire.data()),
                              static_cast<unsigned int>(wire.size()));
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1");
    ERR_clear_error();
    if (SSL_connect(ssl_) != 1) {
      if (error != nullptr) {
        char buf[256] = {0};
        ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
        *error = buf;
      }
      ERR_clear_error();
      return false;
    }
    // TLS 1.3: a rejected client certificate is only reported on the first read.
    const unsigned char* proto = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl_, &proto, &len);
    alpn_.assign(reinterpret_cast<const char*>(proto), len);
    return true;
  }

  int fd_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string alpn_;
  std::string leftover_;
  bool reset_ = false;
  nghttp2_session* h2_ = nullptr;
  std::map<int32_t, H2Stream*> streams_;
};

std::unique_ptr<Client> connectOrFail(uint16_t port, const ClientTls* tls = nullptr) {
  std::string error;
  auto c = Client::connect(port, tls, &error);
  INFO(error);
  REQUIRE(c != nullptr);
  return c;
}

// Opens a client for `protocol` ("h1", "h2c", "h1-tls", "h2-tls") against a started intake.
std::unique_ptr<Client> clientFor(FakeIntake& intake, const std::string& protocol) {
  if (protocol == "h1" || protocol == "h2c") return connectOrFail(intake.port());
  ClientTls tls{intake.caFile(), {protocol == "h2-tls" ? "h2" : "http/1.1"}, nullptr};
  return connectOrFail(intake.port(), &tls);
}

Response send(Client& c, const std::string& protocol, const Request& r) {
  if (protocol == "h2c" || protocol == "h2-tls") return c.h2({r}).at(0);
  return c.h1(r);
}

using K = IntakeViolation::Kind;

}  // namespace

// ---------------------------------------------------------------------------------------------

TEST_CASE("fake intake: HTTP/1.1 keep-alive, every Content-Encoding, events recorded", "[fake]") {
  FakeIntake intake;
  intake.start();
  REQUIRE(intake.port() != 0);
  auto c = connectOrFail(intake.port());
  size_t expected = 0;
  for (std::string enc : {"identity", "gzip", "deflate", "zstd"}) {
    auto r = c->h1(logs(batch(3, enc + "-"), enc));
    CHECK(r.status == 202);
    CHECK(r.body == "{}");
    CHECK(r.headers["content-type"] == "application/json");
    expected += 3;
  }
  REQUIRE(intake.waitForEvents(expected, Millis(2000)));
  auto events = intake.events();
  REQUIRE(events.size() == 12);
  CHECK(events[0]["message"] == "identity-0");
  CHECK(events[11]["message"] == "zstd-2");
  auto s = intake.stats();
  CHECK(s.connections == 1);
  CHECK(s.h1Connections == 1);
  CHECK(s.requests == 4);
  CHECK(s.h1Requests == 4);
  CHECK(s.status(202) == 4);
  CHECK(s.violations == 0);
  auto reqs = intake.requests();
  REQUIRE(reqs.size() == 4);
  CHECK(reqs[1].headers["content-encoding"] == "gzip");
  CHECK(reqs[1].headers["dd-api-key"] == "test-api-key");
  CHECK(reqs[1].events == 3);
  CHECK(reqs[1].connectionId == reqs[3].connectionId);
  CHECK_FALSE(intake.waitForEvents(13, Millis(50)));
}

TEST_CASE("fake intake: chunked bodies, Expect: 100-continue, Connection: close", "[fake]") {
  FakeIntake intake;
  intake.start();
  auto c = connectOrFail(intake.port());
  std::string body = batch(2).dump();
  std::string half1 = body.substr(0, 10), half2 = body.substr(10);
  char len1[16], len2[16];
  std::snprintf(len1, sizeof(len1), "%zx", half1.size());
  std::snprintf(len2, sizeof(len2), "%zx", half2.size());
  REQUIRE(c->write("POST /api/v2/logs HTTP/1.1\r\nHost: x\r\nDD-API-KEY: test-api-key\r\n"
                   "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
                   std::string(len1) + "\r\n" + half1 + "\r\n" + len2 + "\r\n" + half2 + "\r\n0\r\n\r\n"));
  CHECK(c->readH1().status == 202);
  // Expect: 100-continue gets the interim answer, then the final one (the reader skips the 100).
  Request r = logs(batch(1));
  r.headers.emplace_back("Expect", "100-continue");
  CHECK(c->h1(r).status == 202);
  Request last = logs(batch(1));
  last.headers.emplace_back("Connection", "close");
  auto resp = c->h1(last);
  CHECK(resp.status == 202);
  CHECK(resp.headers["connection"] == "close");
  CHECK(c->waitClosed());
  CHECK(intake.waitForEvents(4, Millis(2000)));
}

TEST_CASE("fake intake: request checks answer like the real intake and record violations", "[fake]") {
  FakeIntake intake;
  intake.start();
  auto c = connectOrFail(intake.port());
  struct Case {
    const char* name;
    Request request;
    int status;
    K kind;
  };
  std::vector<Case> cases;
  {
    Request r = logs(batch(1));
    r.method = "PUT";
    cases.push_back({"method", r, 405, K::Method});
  }
  {
    Request r = logs(batch(1));
    r.path = "/v1/input";
    cases.push_back({"path", r, 404, K::Path});
  }
  {
    Request r = logs(batch(1));
    r.headers.erase(r.headers.begin());
    cases.push_back({"no key", r, 401, K::ApiKeyMissing});
  }
  cases.push_back({"bad key", logs(batch(1), "identity", "wrong"), 403, K::ApiKeyInvalid});
  {
    Request r = logs(batch(1));
    r.headers[1].second = "text/plain";
    cases.push_back({"content type", r, 400, K::ContentType});
  }
  {
    Request r = logs(batch(1));
    r.headers.emplace_back("Content-Encoding", "br");
    cases.push_back({"encoding", r, 400, K::ContentEncoding});
  }
  {
    Request r = logs(batch(1), "gzip");
    r.body[r.body.size() / 2] ^= 0x55;
    r.body.resize(r.body.size() - 4);
    cases.push_back({"corrupt gzip", r, 400, K::BodyDecode});
  }
  {
    Request r = logs(batch(1), "zstd");
    r.body.resize(r.body.size() - 3);
    cases.push_back({"truncated zstd", r, 400, K::BodyDecode});
  }
  {
    Request r = logs(batch(1));
    r.body = "{\"message\":\"not an array\"}";
    cases.push_back({"object body", r, 400, K::BodyJson});
  }
  {
    Request r = logs(batch(1));
    r.body = "[{\"message\":\"x\"}, 3]";
    cases.push_back({"array of non-objects", r, 400, K::BodyJson});
  }
  {
    Request r = logs(batch(1));
    r.body = "[{\"message\":";
    cases.push_back({"not JSON", r, 400, K::BodyJson});
  }
  cases.push_back({"1001 entries", logs(batch(1001)), 400, K::TooManyEntries});
  {
    json big = json::array({{{"message", std::string(5'000'001, 'x')}}});
    cases.push_back({"over 5 MB", logs(big, "gzip"), 413, K::PayloadTooLarge});
  }
  for (const auto& tc : cases) {
    SECTION(tc.name) {
      auto r = c->h1(tc.request);
      CHECK(r.status == tc.status);
      CHECK(json::parse(r.body, nullptr, false).contains("errors"));
      CHECK(intake.violationCount(tc.kind) == 1);
      auto v = intake.violations();
      REQUIRE(v.size() == 1);
      CHECK(v[0].status == tc.status);
      CHECK(intake.eventCount() == 0);
      CHECK(intake.stats().status(tc.status) == 1);
      // The connection survives a rejected request.
      CHECK(c->h1(logs(batch(1))).status == 202);
      CHECK(intake.eventCount() == 1);
    }
  }
}

TEST_CASE("fake intake: accepted-with-violation cases and limits", "[fake]") {
  FakeIntake intake;
  intake.start();
  auto c = connectOrFail(intake.port());
  SECTION("exactly 1000 entries pass") {
    CHECK(c->h1(logs(batch(1000), "gzip")).status == 202);
    CHECK(intake.eventCount() == 1000);
    CHECK(intake.violations().empty());
  }
  SECTION("a log over 1 MB is accepted and recorded as a violation") {
    json a = json::array({{{"message", std::string(1'000'100, 'y')}}, {{"message", "small"}}});
    CHECK(c->h1(logs(a, "zstd")).status == 202);
    CHECK(intake.eventCount() == 2);
    CHECK(intake.violationCount(K::LogTooLarge) == 1);
    CHECK(intake.violations()[0].detail.find("entry 0") != std::string::npos);
  }
  SECTION("an empty array is accepted and recorded") {
    CHECK(c->h1(logs(json::array())).status == 202);
    CHECK(intake.violationCount(K::EmptyArray) == 1);
  }
  SECTION("unparseable HTTP gets 400 and the connection closes") {
    REQUIRE(c->write("GARBAGE\x01 / HTTP/1.1\r\n\r\n"));
    CHECK(c->readH1().status == 400);
    CHECK(c->waitClosed());
    CHECK(intake.violationCount(K::BadHttp) == 1);
  }
}

TEST_CASE("fake intake: TLS with ALPN", "[fake]") {
  auto pki = std::make_shared<TestPki>();
  SECTION("h2,http/1.1 offered: h2 negotiated, the CA file verifies 127.0.0.1") {
    FakeIntakeOptions o;
    o.tls = true;
    o.pki = pki;
    FakeIntake intake(o);
    intake.start();
    CHECK(intake.caFile() == pki->caFile());
    ClientTls tls{intake.caFile(), {"h2", "http/1.1"}, nullptr};
    auto c = connectOrFail(intake.port(), &tls);
    CHECK(c->alpn() == "h2");
    auto rs = c->h2({logs(batch(2), "gzip")});
    CHECK(rs[0].status == 202);
    CHECK(rs[0].body == "{}");
    CHECK(intake.waitForEvents(2, Millis(2000)));
    CHECK(intake.stats().h2Connections == 1);
    CHECK(intake.requests().at(0).tls);
    // http/1.1 only from the client.
    ClientTls h1{intake.caFile(), {"http/1.1"}, nullptr};
    auto c1 = connectOrFail(intake.port(), &h1);
    CHECK(c1->alpn() == "http/1.1");
    CHECK(c1->h1(logs(batch(1))).status == 202);
    // No ALPN at all: HTTP/1.1.
    ClientTls none{intake.caFile(), {}, nullptr};
    auto c2 = connectOrFail(intake.port(), &none);
    CHECK(c2->alpn().empty());
    CHECK(c2->h1(logs(batch(1))).status == 202);
    CHECK(intake.stats().h1Connections == 2);
  }
  SECTION("server offers only http/1.1: a client offering h2,http/1.1 falls back") {
    FakeIntakeOptions o;
    o.tls = true;
    o.pki = pki;
    o.alpn = {"http/1.1"};
    FakeIntake intake(o);
    intake.start();
    ClientTls tls{intake.caFile(), {"h2", "http/1.1"}, nullptr};
    auto c = connectOrFail(intake.port(), &tls);
    CHECK(c->alpn() == "http/1.1");
    CHECK(c->h1(logs(batch(1))).status == 202);
  }
  SECTION("server offers only h2: an http/1.1-only client fails the handshake") {
    FakeIntakeOptions o;
    o.tls = true;
    o.pki = pki;
    o.alpn = {"h2"};
    FakeIntake intake(o);
    intake.start();
    ClientTls tls{intake.caFile(), {"http/1.1"}, nullptr};
    CHECK(Client::connect(intake.port(), &tls) == nullptr);
    ClientTls h2{intake.caFile(), {"h2"}, nullptr};
    auto c = connectOrFail(intake.port(), &h2);
    CHECK(c->h2({logs(batch(1))})[0].status == 202);
    CHECK(intake.waitFor([](const FakeIntakeStats& s) { return s.tlsHandshakeFailures == 1; }, Millis(2000)));
  }
  SECTION("a client trusting the unknown CA rejects the server") {
    FakeIntakeOptions o;
    o.tls = true;
    o.pki = pki;
    FakeIntake intake(o);
    intake.start();
    ClientTls tls{pki->unknownCaFile(), {"h2", "http/1.1"}, nullptr};
    std::string error;
    CHECK(Client::connect(intake.port(), &tls, &error) == nullptr);
    CHECK(error.find("certificate verify failed") != std::string::npos);
  }
  SECTION("mTLS: only a client certificate from the test CA is accepted") {
    FakeIntakeOptions o;
    o.tls = true;
    o.pki = pki;
    o.requireClientCert = true;
    FakeIntake intake(o);
    intake.start();
    ClientTls good{intake.caFile(), {"http/1.1"}, &pki->client()};
    auto c = connectOrFail(intake.port(), &good);
    CHECK(c->h1(logs(batch(1))).status == 202);
    // TLS 1.3 reports a rejected (or missing) client certificate after the client's handshake.
    for (const CertKey* cert : {static_cast<const CertKey*>(nullptr), &pki->unknownClient()}) {
      ClientTls bad{intake.caFile(), {"http/1.1"}, cert};
      auto b = Client::connect(intake.port(), &bad);
      if (b != nullptr) CHECK(b->h1(logs(batch(1))).status == 0);
    }
    CHECK(intake.eventCount() == 1);
    CHECK(intake.waitFor([](const FakeIntakeStats& s) { return s.tlsHandshakeFailures == 2; }, Millis(2000)));
  }
}

TEST_CASE("fake intake: h2c prior knowledge with many concurrent streams", "[fake]") {
  FakeIntake intake;
  intake.start();
  auto c = connectOrFail(intake.port());
  std::vector<Request> reqs;
  for (int i = 0; i < 50; ++i) reqs.push_back(logs(batch(2, "s" + std::to_string(i) + "-"), "gzip"));
  reqs.push_back(logs(batch(1), "identity", "bad-key"));
  auto rs = c->h2(reqs);
  REQUIRE(rs.size() == 51);
  for (int i = 0; i < 50; ++i) CHECK(rs[i].status == 202);
  CHECK(rs[50].status == 403);
  // A second batch on the same connection, with a body bigger than the initial stream window.
  json big = json::array();
  for (int i = 0; i < 300; ++i) big.push_back({{"message", std::string(1000, 'a' + i % 26)}});
  auto rs2 = c->h2({logs(big), logs(big, "zstd")});
  CHECK(rs2[0].status == 202);
  CHECK(rs2[1].status == 202);
  REQUIRE(intake.waitForEvents(700, Millis(2000)));
  auto s = intake.stats();
  CHECK(s.connections == 1);
  CHECK(s.h2Connections == 1);
  CHECK(s.h2Requests == 53);
  CHECK(s.maxStreamsPerConnection == 53);
  CHECK(s.maxConcurrentStreams > 1);
  CHECK(s.maxConcurrentStreams <= 100);
  auto requests = intake.requests();
  CHECK(requests[0].protocol == IntakeProtocol::Http2);
  CHECK(requests[0].streamId % 2 == 1);
  CHECK(requests[0].headers.count(":path") == 0);
}

TEST_CASE("fake intake: injected statuses, Retry-After, and no recording of failed requests", "[fake]") {
  for (std::string protocol : {"h1", "h2c", "h1-tls", "h2-tls"}) {
    DYNAMIC_SECTION(protocol) {
      FakeIntakeOptions o;
      o.tls = protocol.find("tls") != std::string::npos;
      FakeIntake intake(o);
      intake.start();
      auto c = clientFor(intake, protocol);
      intake.failNext(2, Fault::withStatus(503));
      intake.failNext(1, Fault::withStatus(429, 7));
      CHECK(send(*c, protocol, logs(batch(1, "a"))).status == 503);
      CHECK(send(*c, protocol, logs(batch(1, "b"))).status == 503);
      auto r = send(*c, protocol, logs(batch(1, "c")));
      CHECK(r.status == 429);
      CHECK(r.headers["retry-after"] == "7");
      CHECK(send(*c, protocol, logs(batch(1, "d"))).status == 202);
      REQUIRE(intake.waitForEvents(1, Millis(1000)));
      auto events = intake.events();
      REQUIRE(events.size() == 1);
      CHECK(events[0]["message"] == "d0");
      auto s = intake.stats();
      CHECK(s.faults == 3);
      CHECK(s.status(503) == 2);
      CHECK(s.status(429) == 1);
      CHECK(s.violations == 0);
      CHECK(intake.requests()[0].faulted);
    }
  }
}

TEST_CASE("fake intake: a seeded fraction of failures is reproducible", "[fake]") {
  auto run = [](uint64_t seed) {
    FakeIntake intake;
    intake.start();
    intake.failFraction(0.3, Fault::withStatus(500), seed);
    auto c = connectOrFail(intake.port());
    std::vector<int> statuses;
    for (int i = 0; i < 100; ++i) statuses.push_back(c->h1(logs(batch(1))).status);
    auto s = intake.stats();
    CHECK(s.status(500) + s.status(202) == 100);
    CHECK(s.events == s.status(202));
    return statuses;
  };
  auto a = run(42), b = run(42), other = run(43);
  CHECK(a == b);
  CHECK(a != other);
  auto failures = std::count(a.begin(), a.end(), 500);
  CHECK(failures > 10);
  CHECK(failures < 50);
}

TEST_CASE("fake intake: TCP reset, close after read, stream reset", "[fake]") {
  SECTION("reset on HTTP/1.1") {
    FakeIntake intake;
    intake.start();
    intake.failNext(1, Fault::tcpReset());
    auto c = connectOrFail(intake.port());
    auto r = c->h1(logs(batch(1)));
    CHECK(r.status == 0);
    CHECK(r.reset);
    auto c2 = connectOrFail(intake.port());
    CHECK(c2->h1(logs(batch(1))).status == 202);
    CHECK(intake.eventCount() == 1);
    CHECK(intake.stats().faults == 1);
  }
  SECTION("reset on h2 kills every stream of the connection") {
    FakeIntake intake;
    intake.start();
    intake.failNext(1, Fault::tcpReset());
    auto c = connectOrFail(intake.port());
    auto rs = c->h2({logs(batch(1)), logs(batch(1))});
    CHECK(rs[0].status == 0);
    CHECK(intake.eventCount() <= 1);
  }
  SECTION("close after read") {
    FakeIntake intake;
    intake.start();
    intake.failNext(1, Fault::closeAfterRead());
    auto c = connectOrFail(intake.port());
    auto r = c->h1(logs(batch(1)));
    CHECK(r.status == 0);
    CHECK_FALSE(r.reset);
    CHECK(intake.eventCount() == 0);
    CHECK(intake.waitFor([](const FakeIntakeStats& s) { return s.activeConnections == 0; }, Millis(2000)));
  }
  SECTION("stream reset on h2 leaves the other streams alone") {
    FakeIntake intake;
    intake.start();
    auto c = connectOrFail(intake.port());
    intake.failNext(1, Fault::streamReset());
    auto rs = c->h2({logs(batch(1, "x")), logs(batch(1, "y"))});
    CHECK(rs[0].status == 0);
    CHECK(rs[0].streamError == NGHTTP2_INTERNAL_ERROR);
    CHECK(rs[1].status == 202);
    CHECK(c->h2({logs(batch(1, "z"))})[0].status == 202);
    CHECK(intake.eventCount() == 2);
  }
}

TEST_CASE("fake intake: delayed answers", "[fake]") {
  FakeIntake intake;
  intake.start();
  intake.setDelay(Millis(200));
  SECTION("HTTP/1.1") {
    auto c = connectOrFail(intake.port());
    auto start = Clock::now();
    CHECK(c->h1(logs(batch(1))).status == 202);
    CHECK(Clock::now() - start >= Millis(200));
    intake.setDelay(Millis(0));
    start = Clock::now();
    CHECK(c->h1(logs(batch(1))).status == 202);
    CHECK(Clock::now() - start < Millis(150));
  }
  SECTION("h2 streams are delayed concurrently") {
    auto c = connectOrFail(intake.port());
    std::vector<Request> reqs(10, logs(batch(1)));
    auto start = Clock::now();
    auto rs = c->h2(reqs);
    auto took = Clock::now() - start;
    for (const auto& r : rs) CHECK(r.status == 202);
    CHECK(took >= Millis(200));
    CHECK(took < Millis(1000));
  }
  SECTION("a client that gives up before the answer is due is not recorded") {
    {
      auto c = connectOrFail(intake.port());
      REQUIRE(c->write("POST /api/v2/logs HTTP/1.1\r\nDD-API-KEY: test-api-key\r\n"
                       "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n[]"));
      REQUIRE(intake.waitForRequests(1, Millis(1000)));
    }
    CHECK(intake.waitFor([](const FakeIntakeStats& s) { return s.activeConnections == 0; }, Millis(1000)));
    CHECK(intake.stats().responses == 0);
    CHECK(intake.violations().empty());
  }
}

TEST_CASE("fake intake: capacity limit answers 429 above K requests in service and not at or below K",
          "[fake][capacity]") {
  constexpr size_t K = 4;
  FakeIntakeOptions o;
  o.maxConcurrentRequests = K;
  // Long enough that every stream of one h2 write is read while the first is still in service.
  o.serviceTime = Millis(1000);
  FakeIntake intake(o);
  intake.start();
  auto c = connectOrFail(intake.port());

  // K at once: all served, none refused, all in service together.
  auto start = Clock::now();
  auto rs = c->h2(std::vector<Request>(K, logs(batch(1))));
  REQUIRE(rs.size() == K);
  for (const auto& r : rs) CHECK(r.status == 202);
  CHECK(Clock::now() - start >= Millis(1000));  // the service time
  auto s = intake.stats();
  CHECK(s.overCapacity == 0);
  CHECK(s.maxInService == K);

  // K + 2 at once: the slots were given back with the answers, so K are served again and the 2 that
  // arrive while K are in service are refused at once, without Retry-After.
  rs = c->h2(std::vector<Request>(K + 2, logs(batch(1))));
  REQUIRE(rs.size() == K + 2);
  size_t ok = 0, refused = 0;
  for (const auto& r : rs) {
    if (r.status == 202) ++ok;
    if (r.status == 429) {
      ++refused;
      CHECK(r.headers.count("retry-after") == 0);
    }
  }
  CHECK(ok == K);
  CHECK(refused == 2);
  s = intake.stats();
  CHECK(s.overCapacity == 2);
  CHECK(s.status(429) == 2);
  CHECK(s.maxInService == K);
  CHECK(s.events == 2 * K);  // refused requests are not recorded
  CHECK(s.faults == 0);
  CHECK(s.violations == 0);

  // A client that leaves while its requests are in service frees their slots.
  {
    auto gone = connectOrFail(intake.port());
    std::string body = "[{\"message\":\"x\"}]";
    std::string req = "POST /api/v2/logs HTTP/1.1\r\nDD-API-KEY: test-api-key\r\nContent-Type: application/json\r\n"
                      "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    std::string pipelined;
    for (size_t i = 0; i < K; ++i) pipelined += req;
    REQUIRE(gone->write(pipelined));
    REQUIRE(intake.waitForRequests(2 * K + 2 + K, Millis(2000)));
  }
  REQUIRE(intake.waitFor([](const FakeIntakeStats& st) { return st.activeConnections == 1; }, Millis(2000)));
  rs = c->h2(std::vector<Request>(K, logs(batch(1))));
  for (const auto& r : rs) CHECK(r.status == 202);
  CHECK(intake.stats().overCapacity == 2);
}

TEST_CASE("fake intake: outage refuses connections and comes back on the same port", "[fake]") {
  FakeIntake intake;
  intake.start();
  uint16_t port = intake.port();
  auto c = connectOrFail(port);
  CHECK(c->h1(logs(batch(1))).status == 202);
  intake.stopListening();
  CHECK_FALSE(intake.listening());
  std::string error;
  CHECK(Client::connect(port, nullptr, &error) == nullptr);
  CHECK(error == std::strerror(ECONNREFUSED));
  CHECK(c->h1(logs(batch(1))).status == 0);  // the open connection was dropped
  intake.resumeListening();
  CHECK(intake.listening());
  CHECK(intake.port() == port);
  auto c2 = connectOrFail(port);
  CHECK(c2->h1(logs(batch(1))).status == 202);
  CHECK(intake.eventCount() == 2);
}

TEST_CASE("fake intake: throughput on keep-alive connections", "[fake]") {
  FakeIntakeOptions o;
  o.recordEvents = false;
  o.recordRequests = false;
  FakeIntake intake(o);
  intake.start();
  constexpr int kThreads = 4, kPerThread = 500;
  auto start = Clock::now();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  std::string body = gzip(batch(20).dump());
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      auto c = Client::connect(intake.port());
      if (c == nullptr) return;
      Request r;
      r.headers = {{"DD-API-KEY", "test-api-key"}, {"Content-Type", "application/json"}, {"Content-Encoding", "gzip"}};
      r.body = body;
      for (int i = 0; i < kPerThread; ++i) ok += c->h1(r).status == 202;
    });
  }
  for (auto& t : threads) t.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  CHECK(ok == kThreads * kPerThread);
  CHECK(intake.eventCount() == 20u * kThreads * kPerThread);
  CHECK(intake.events().empty());
  WARN("fake intake: " << static_cast<int>(ok / seconds) << " requests/s");
}

}  // namespace firelane::testsupport
