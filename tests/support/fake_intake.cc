// The fake Datadog intake: accept thread, one thread per connection (poll on the socket and a wake
// eventfd), HTTP/1.1 via http-parser, HTTP/2 via nghttp2's server session, TLS via OpenSSL.
#include "support/fake_intake.h"

#include <arpa/inet.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

namespace firelane::testsupport {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr std::string_view kLogsPath = "/api/v2/logs";
constexpr auto kIoStall = std::chrono::seconds(30);  // a write that makes no progress this long fails

std::string errnoText(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

const char* reasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
  }
}

// ---------------------------------------------------------------------------------------------
// Body decoding, bounded by the uncompressed limit.

enum class Decode { Ok, Corrupt, TooLarge };

Decode inflateBody(std::string_view in, int windowBits, size_t limit, std::string& out) {
  if (in.empty()) return Decode::Corrupt;
  z_stream z{};
  if (inflateInit2(&z, windowBits) != Z_OK) return Decode::Corrupt;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  char buf[65536];
  Decode result = Decode::Ok;
  while (true) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    int rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof(buf) - z.avail_out);
    if (out.size() > limit) {
      result = Decode::TooLarge;
      break;
    }
    if (rc == Z_STREAM_END) {
      // gzip allows several members back to back.
      if (z.avail_in > 0 && windowBits > 15) {
        inflateReset(&z);
        continue;
      }
      if (z.avail_in > 0) result = Decode::Corrupt;  // trailing garbage after a zlib stream
      break;
    }
    if (rc != Z_OK || (z.avail_in == 0 && z.avail_out != 0)) {
      result = Decode::Corrupt;  // error, or input ended before the stream did
      break;
    }
  }
  inflateEnd(&z);
  return result;
}

Decode zstdBody(std::string_view in, size_t limit, std::string& out) {
  if (in.empty()) return Decode::Corrupt;
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  char buf[65536];
  size_t last = 1;
  Decode result = Decode::Ok;
  while (input.pos < input.size || last != 0) {
    ZSTD_outBuffer output{buf, sizeof(buf), 0};
    size_t before = input.pos;
    last = ZSTD_decompressStream(ctx, &output, &input);
    if (ZSTD_isError(last)) {
      result = Decode::Corrupt;
      break;
    }
    out.append(buf, output.pos);
    if (out.size() > limit) {
      result = Decode::TooLarge;
      break;
    }
    if (last != 0 && input.pos == input.size && before == input.pos && output.pos == 0) {
      result = Decode::Corrupt;  // truncated frame
      break;
    }
  }
  ZSTD_freeDCtx(ctx);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Request checks, as the real intake does them.

struct ParsedRequest {
  IntakeProtocol protocol = IntakeProtocol::Http1;
  int32_t streamId = 0;
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // lowercased names, repeated values joined by ", "
  std::string body;
  bool bodyOverCap = false;  // the raw body exceeded the receive cap and was cut
  bool keepAlive = true;     // h1
};

struct Verdict {
  int status = 202;
  std::string detail;
  std::vector<IntakeViolation> violations;
  std::vector<json> events;
  std::vector<std::string> eventTexts;  // key order as sent (only when recordEvents)
  size_t decodedBytes = 0;
  size_t zlib6Bytes = 0;  // when options.zlibReference
  size_t entries = 0;
};

std::string header(const ParsedRequest& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? std::string() : it->second;
}

Verdict reject(IntakeViolation::Kind kind, int status, std::string detail) {
  Verdict v;
  v.status = status;
  v.detail = detail;
  v.violations.push_back(IntakeViolation{kind, status, std::move(detail)});
  return v;
}

Verdict checkRequest(const ParsedRequest& r, const FakeIntakeOptions& o) {
  using K = IntakeViolation::Kind;
  if (r.method != "POST") return reject(K::Method, 405, "method " + r.method);
  std::string_view path = r.path;
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (path != kLogsPath) return reject(K::Path, 404, "path " + r.path);
  auto key = r.headers.find("dd-api-key");
  if (key == r.headers.end()) return reject(K::ApiKeyMissing, 401, "DD-API-KEY missing");
  if (key->second != o.apiKey) return reject(K::ApiKeyInvalid, 403, "DD-API-KEY invalid");
  std::string type = lower(header(r, "content-type"));
  if (type.substr(0, type.find(';')) != "application/json") {
    return reject(K::ContentType, 400, "Content-Type '" + type + "'");
  }
  std::string encoding = lower(trim(header(r, "content-encoding")));
  if (r.bodyOverCap) return reject(K::PayloadTooLarge, 413, "body over the receive cap");
  std::string decoded;
  Decode d = Decode::Ok;
  if (encoding.empty() || encoding == "identity") {
    if (r.body.size() > o.maxPayloadBytes) d = Decode::TooLarge;
  } else if (encoding == "gzip") {
    d = inflateBody(r.body, 15 + 16, o.maxPayloadBytes, decoded);
  } else if (encoding == "deflate") {
    d = inflateBody(r.body, 15, o.maxPayloadBytes, decoded);
  } else if (encoding == "zstd") {
    d = zstdBody(r.body, o.maxPayloadBytes, decoded);
  } else {
    return reject(K::ContentEncoding, 400, "Content-Encoding '" + encoding + "'");
  }
  if (d == Decode::Corrupt) return reject(K::BodyDecode, 400, "body does not decode as " + encoding);
  if (d == Decode::TooLarge) {
    return reject(K::PayloadTooLarge, 413, "uncompressed body over " + std::to_string(o.maxPayloadBytes));
  }
  const std::string& text = (encoding.empty() || encoding == "identity") ? r.body : decoded;
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return reject(K::BodyJson, 400, "body is not JSON");
  if (!doc.is_array()) return reject(K::BodyJson, 400, "body is not a JSON array");
  for (const auto& e : doc) {
    if (!e.is_object()) return reject(K::BodyJson, 400, "array entry is not an object");
  }
  if (doc.size() > o.maxEntries) {
    return reject(K::TooManyEntries, 400, std::to_string(doc.size()) + " entries > " + std::to_string(o.maxEntries));
  }
  Verdict v;
  v.status = 202;
  v.decodedBytes = text.size();
  if (o.zlibReference) {
    uLongf bound = compressBound(static_cast<uLong>(text.size()));
    std::string z(bound, '\0');
    if (compress2(reinterpret_cast<Bytef*>(z.data()), &bound, reinterpret_cast<const Bytef*>(text.data()),
                  static_cast<uLong>(text.size()), 6) == Z_OK)
      v.zlib6Bytes = bound + 12;  // + the gzip header/trailer's extra 12 bytes over zlib's wrapper
  }
  v.entries = doc.size();
  if (doc.empty()) v.violations.push_back(IntakeViolation{K::EmptyArray, 202, "empty array"});
  // An entry cannot be larger than the whole body: only serialize when that is possible.
  if (text.size() > o.maxLogBytes) {
    for (size_t i = 0; i < doc.size(); ++i) {
      size_t size = doc[i].dump().size();
      if (size > o.maxLogBytes) {
        v.violations.push_back(IntakeViolation{
            K::LogTooLarge, 202, "entry " + std::to_string(i) + " is " + std::to_string(size) + " bytes"});
      }
    }
  }
  v.events = std::move(doc.get_ref<json::array_t&>());
  if (o.recordEvents) {
    nlohmann::ordered_json ordered = nlohmann::ordered_json::parse(text, nullptr, false);
    for (const auto& e : ordered) v.eventTexts.push_back(e.dump());
  }
  if (o.onAccepted) o.onAccepted(text);
  return v;
}

std::string errorBody(int status, const std::string& detail) {
  json body = {{"errors", json::array({{{"status", std::to_string(status)},
                                         {"title", reasonPhrase(status)},
                                         {"detail", detail}}})}};
  return body.dump();
}

void setLingerZero(int fd) {
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

}  // namespace

const char* toString(IntakeViolation::Kind kind) {
  using K = IntakeViolation::Kind;
  switch (kind) {
    case K::Method: return "method";
    case K::Path: return "path";
    case K::ApiKeyMissing: return "api_key_missing";
    case K::ApiKeyInvalid: return "api_key_invalid";
    case K::ContentType: return "content_type";
    case K::ContentEncoding: return "content_encoding";
    case K::BodyDecode: return "body_decode";
    case K::BodyJson: return "body_json";
    case K::PayloadTooLarge: return "payload_too_large";
    case K::TooManyEntries: return "too_many_entries";
    case K::LogTooLarge: return "log_too_large";
    case K::EmptyArray: return "empty_array";
    case K::BadHttp: return "bad_http";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// Shared state

class Connection;

struct FakeIntake::Impl {
  explicit Impl(const FakeIntakeOptions& o) : options(o) {}

  const FakeIntakeOptions& options;
  std::shared_ptr<const TestPki> pki;
  SSL_CTX* sslCtx = nullptr;

  // Listening: owned by the calling thread of start/stopListening/resumeListening/stop.
  std::mutex lifecycleMutex;
  int listenFd = -1;
  int acceptWake = -1;
  std::thread acceptor;
  uint16_t port = 0;
  std::atomic<bool> isListening{false};

  // Everything below is guarded by `mutex`.
  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  uint64_t nextConnectionId = 1;
  std::map<uint64_t, std::shared_ptr<Connection>> connections;
  std::deque<std::pair<size_t, Fault>> nextFaults;
  double fraction = 0;
  Fault fractionFault;
  std::mt19937_64 rng{1};
  Millis delay{0};
  std::vector<json> events;
  std::vector<std::string> eventTexts;
  std::vector<IntakeViolation> violations;
  std::vector<IntakeRequest> requests;
  FakeIntakeStats stats;
  size_t inService = 0;  // admitted requests not yet answered (options.maxConcurrentRequests)

  void acceptLoop(int listenFd, int wakeFd);
  void reapFinished();
  std::optional<Fault> takeFault() {
    std::lock_guard lock(mutex);
    if (!nextFaults.empty()) {
      Fault f = nextFaults.front().second;
      if (--nextFaults.front().first == 0) nextFaults.pop_front();
      if (f.kind == Fault::Kind::Pass) return std::nullopt;
      return f;
    }
    if (fraction > 0 && std::uniform_real_distribution<double>(0, 1)(rng) < fraction) return fractionFault;
    return std::nullopt;
  }
  Millis currentDelay() {
    std::lock_guard lock(mutex);
    return delay;
  }
  // Takes a service slot: false when maxConcurrentRequests are in service (counted as overCapacity).
  bool admit() {
    {
      std::lock_guard lock(mutex);
      const size_t cap = options.maxConcurrentRequests;
      if (cap > 0 && inService >= cap) {
        ++stats.overCapacity;
      } else {
        ++inService;
        stats.maxInService = std::max<uint64_t>(stats.maxInService, inService);
        return true;
      }
    }
    changed.notify_all();
    return false;
  }
  void release() {
    std::lock_guard lock(mutex);
    --inService;
  }
  template <typename F>
  void update(F&& f) {
    {
      std::lock_guard lock(mutex);
      f(stats);
    }
    changed.notify_all();
  }
};

// ---------------------------------------------------------------------------------------------
// One connection: transport (plain or TLS over a non-blocking socket), then HTTP/1.1 or HTTP/2.

// An admitted request's service slot, given back when its answer goes out or the request is dropped.
struct ServiceSlot {
  explicit ServiceSlot(FakeIntake::Impl& owner) : owner_(owner) {}
  ~ServiceSlot() { owner_.release(); }
  ServiceSlot(const ServiceSlot&) = delete;
  ServiceSlot& operator=(const ServiceSlot&) = delete;

 private:
  FakeIntake::Impl& owner_;
};

class Connection {
 public:
  Connection(FakeIntake::Impl& owner, int fd, uint64_t id) : owner_(owner), fd_(fd), id_(id) {
    wake_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  }
  ~Connection() {
    if (thread_.joinable()) thread_.join();
    if (wake_ >= 0) ::close(wake_);
  }

  // The registry keeps the object alive until the thread was joined.
  void start() {
    thread_ = std::thread([this] { run(); });
  }
  // Asks the thread to end the connection: with a TCP RST when `reset`, else a plain close.
  void kill(bool reset) {
    killMode_.store(reset ? 2 : 1);
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_, &one, sizeof(one));
  }
  bool finished() const { return finished_.load(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Pending {
    Clock::time_point due;
    IntakeRequest record;
    std::optional<Fault> fault;
    Verdict verdict;
    bool closeAfter = false;
    std::unique_ptr<ServiceSlot> slot;  // admitted and not yet answered
  };
  struct Stream {
    ParsedRequest request;
    std::string responseBody;
    size_t responseOffset = 0;
  };

  void run();
  bool handshake();
  void runHttp1(std::string initial);
  void runHttp2(std::string initial);
  // Waits for input or the next due answer. Returns false when the connection must end.
  bool pumpOnce(const std::function<bool(std::string_view)>& feed);
  bool processDue();
  void complete(ParsedRequest&& request);
  bool answer(Pending& p);
  bool answerHttp1(Pending& p);
  bool answerHttp2(Pending& p);
  void record(const Pending& p, int status);

  // Transport. readSome: >0 bytes, 0 EOF, -1 error, -2 nothing now.
  ssize_t readSome(char* buf, size_t n);
  bool writeAll(std::string_view data);
  bool waitFd(short events, Clock::time_point deadline);
  void finish(bool reset);

  // HTTP/1.1
  static int onMessageBegin(http_parser* p);
  static int onUrl(http_parser* p, const char* at, size_t n);
  static int onHeaderField(http_parser* p, const char* at, size_t n);
  static int onHeaderValue(http_parser* p, const char* at, size_t n);
  static int onHeadersComplete(http_parser* p);
  static int onBody(http_parser* p, const char* at, size_t n);
  static int onMessageComplete(http_parser* p);
  void flushHeader();

  // HTTP/2
  bool h2Flush();
  static int h2OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int h2OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                        const uint8_t* value, size_t valuelen, uint8_t flags, void* user);
  static int h2OnData(nghttp2_session*, uint8_t flags, int32_t streamId, const uint8_t* data, size_t len, void* user);
  static int h2OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int h2OnStreamClose(nghttp2_session*, int32_t streamId, uint32_t errorCode, void* user);
  static ssize_t h2ReadBody(nghttp2_session*, int32_t streamId, uint8_t* buf, size_t length, uint32_t* flags,
                            nghttp2_data_source* source, void* user);

  size_t bodyCap() const { return std::max<size_t>(owner_.options.maxPayloadBytes, 1 << 20) * 2; }

  FakeIntake::Impl& owner_;
  int fd_;
  int wake_ = -1;
  uint64_t id_;
  SSL* ssl_ = nullptr;
  std::thread thread_;
  std::atomic<int> killMode_{0};
  std::atomic<bool> finished_{false};
  IntakeProtocol protocol_ = IntakeProtocol::Http1;
  std::deque<Pending> pending_;
  bool closeNow_ = false;

  // HTTP/1.1 parse state
  http_parser parser_{};
  http_parser_settings settings_{};
  ParsedRequest current_;
  std::string field_;
  std::string value_;
  bool inValue_ = false;
  std::vector<ParsedRequest> completed_;

  // HTTP/2 state
  nghttp2_session* h2_ = nullptr;
  std::map<int32_t, std::unique_ptr<Stream>> streams_;
  uint64_t streamsSeen_ = 0;
};

void Connection::run() {
  bool tls = owner_.options.tls;
  std::string initial;
  bool ok = true;
  if (tls) {
    ok = handshake();
    if (ok) {
      const unsigned char* proto = nullptr;
      unsigned int len = 0;
      SSL_get0_alpn_selected(ssl_, &proto, &len);
      std::string alpn(reinterpret_cast<const char*>(proto), len);
      const auto& offered = owner_.options.alpn;
      if (alpn == "h2") {
        protocol_ = IntakeProtocol::Http2;
      } else if (alpn == "http/1.1" ||
                 (alpn.empty() && std::find(offered.begin(), offered.end(), "http/1.1") != offered.end())) {
        protocol_ = IntakeProtocol::Http1;
      } else {
        ok = false;  // no ALPN from the client and HTTP/1.1 not offered: an h2-only server hangs up
      }
    }
    if (!ok) owner_.update([](FakeIntakeStats& s) { ++s.tlsHandshakeFailures; });
  } else if (owner_.options.h2c) {
    // Read until the bytes either are the h2 preface or cannot be.
    char buf[64];
    while (ok) {
      size_t n = std::min(initial.size(), kH2Preface.size());
      if (initial.compare(0, n, kH2Preface.substr(0, n)) != 0) break;
      if (initial.size() >= kH2Preface.size()) {
        protocol_ = IntakeProtocol::Http2;
        break;
      }
      ssize_t got = readSome(buf, kH2Preface.size() - initial.size());
      if (got > 0) {
        initial.append(buf, static_cast<size_t>(got));
      } else if (got == -2) {
        if (!waitFd(POLLIN, Clock::now() + kIoStall)) ok = false;
      } else {
        ok = false;
      }
    }
  }
  if (ok) {
    owner_.update([this](FakeIntakeStats& s) {
      ++(protocol_ == IntakeProtocol::Http2 ? s.h2Connections : s.h1Connections);
    });
    if (protocol_ == IntakeProtocol::Http2) {
      runHttp2(std::move(initial));
    } else {
      runHttp1(std::move(initial));
    }
  }
  pending_.clear();  // answers never sent: their service slots are free again
  finish(killMode_.load() == 2);
}

void Connection::finish(bool reset) {
  if (h2_ != nullptr) {
    nghttp2_session_del(h2_);
    h2_ = nullptr;
  }
  if (ssl_ != nullptr) {
    if (!reset && SSL_is_init_finished(ssl_)) SSL_shutdown(ssl_);
    ERR_clear_error();
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (!reset && closeNow_) {
    // Lingering close: let the client read the last answer before unread input turns into a RST.
    ::shutdown(fd_, SHUT_WR);
    auto deadline = Clock::now() + Millis(500);
    char buf[4096];
    while (waitFd(POLLIN, deadline)) {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
    }
  }
  {
    std::lock_guard lock(owner_.mutex);
    if (reset) setLingerZero(fd_);
    ::close(fd_);
    fd_ = -1;
    --owner_.stats.activeConnections;
  }
  owner_.changed.notify_all();
  finished_.store(true);
}

bool Connection::waitFd(short events, Clock::time_point deadline) {
  while (true) {
    if (killMode_.load() != 0) return false;
    auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd fds[2] = {{fd_, events, 0}, {wake_, POLLIN, 0}};
    int rc = ::poll(fds, 2, static_cast<int>(left));
    if (rc < 0 && errno != EINTR) return false;
    if (fds[1].revents != 0) return false;
    if (fds[0].revents != 0) return true;
  }
}

bool Connection::handshake() {
  ssl_ = SSL_new(owner_.sslCtx);
  if (ssl_ == nullptr) return false;
  SSL_set_fd(ssl_, fd_);
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (true) {
    ERR_clear_error();
    int rc = SSL_accept(ssl_);
    if (rc == 1) return true;
    int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ) {
      if (!waitFd(POLLIN, deadline)) return false;
    } else if (err == SSL_ERROR_WANT_WRITE) {
      if (!waitFd(POLLOUT, deadline)) return false;
    } else {
      ERR_clear_error();
      return false;
    }
  }
}

ssize_t Connection::readSome(char* buf, size_t n) {
  if (ssl_ != nullptr) {
    ERR_clear_error();
    int rc = SSL_read(ssl_, buf, static_cast<int>(std::min<size_t>(n, INT32_MAX)));
    if (rc > 0) return rc;
    int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return -2;
    if (err == SSL_ERROR_ZERO_RETURN) return 0;
    ERR_clear_error();
    return -1;
  }
  while (true) {
    ssize_t rc = ::recv(fd_, buf, n, 0);
    if (rc >= 0) return rc;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return -2;
    return -1;
  }
}

bool Connection::writeAll(std::string_view data) {
  while (!data.empty()) {
    auto deadline = Clock::now() + kIoStall;
    if (ssl_ != nullptr) {
      ERR_clear_error();
      int rc = SSL_write(ssl_, data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 20)));
      if (rc > 0) {
        data.remove_prefix(static_cast<size_t>(rc));
        continue;
      }
      int err = SSL_get_error(ssl_, rc);
      if (err == SSL_ERROR_WANT_WRITE) {
        if (!waitFd(POLLOUT, deadline)) return false;
      } else if (err == SSL_ERROR_WANT_READ) {
        if (!waitFd(POLLIN, deadline)) return false;
      } else {
        ERR_clear_error();
        return false;
      }
      continue;
    }
    ssize_t rc = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (rc > 0) {
      data.remove_prefix(static_cast<size_t>(rc));
    } else if (rc < 0 && errno == EINTR) {
      continue;
    } else if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!waitFd(POLLOUT, deadline)) return false;
    } else {
      return false;
    }
  }
  return true;
}

bool Connection::pumpOnce(const std::function<bool(std::string_view)>& feed) {
  if (killMode_.load() != 0) return false;
  int timeout = -1;
  if (!pending_.empty()) {
    auto due = pending_.front().due;
    for (const auto& p : pending_) due = std::min(due, p.due);
    auto left = std::chrono::ceil<Millis>(due - Clock::now()).count();
    timeout = left < 0 ? 0 : static_cast<int>(left);
  }
  bool buffered = ssl_ != nullptr && SSL_pending(ssl_) > 0;
  bool readable = buffered;
  if (!buffered) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_, POLLIN, 0}};
    int rc = ::poll(fds, 2, timeout);
    if (rc < 0 && errno != EINTR) return false;
    if (fds[1].revents != 0) return false;
    readable = fds[0].revents != 0;
  }
  if (readable) {
    char buf[65536];
    while (true) {
      ssize_t n = readSome(buf, sizeof(buf));
      if (n == -2) break;
      if (n <= 0) {
        // The client is gone: answers not yet due are dropped unrecorded.
        return false;
      }
      if (!feed(std::string_view(buf, static_cast<size_t>(n)))) return false;
      if (static_cast<size_t>(n) < sizeof(buf) && (ssl_ == nullptr || SSL_pending(ssl_) == 0)) break;
    }
  }
  return processDue();
}

void Connection::complete(ParsedRequest&& request) {
  owner_.update([&](FakeIntakeStats& s) {
    ++s.requests;
    ++(request.protocol == IntakeProtocol::Http2 ? s.h2Requests : s.h1Requests);
    s.bodyBytes += request.body.size();
  });
  Pending p;
  p.due = Clock::now() + owner_.currentDelay();
  p.fault = owner_.takeFault();
  if (!p.fault) {
    if (owner_.admit()) {
      p.slot = std::make_unique<ServiceSlot>(owner_);
      p.due += owner_.options.serviceTime;
    } else {
      // Over capacity: refused at once, before the body is looked at (as a busy intake does).
      p.verdict.status = 429;
      p.verdict.detail = "over capacity: " + std::to_string(owner_.options.maxConcurrentRequests) +
                         " requests in service";
      p.due = Clock::now();
    }
  }
  p.record.protocol = request.protocol;
  p.record.tls = owner_.options.tls;
  p.record.connectionId = id_;
  p.record.streamId = request.streamId;
  p.record.method = request.method;
  p.record.path = request.path;
  p.record.bodyBytes = request.body.size();
  p.record.receivedAt = Clock::now();
  p.closeAfter = request.protocol == IntakeProtocol::Http1 && !request.keepAlive;
  if (!p.fault && p.slot) {
    p.verdict = checkRequest(request, owner_.options);
    p.record.decodedBytes = p.verdict.decodedBytes;
    owner_.update([&](FakeIntakeStats& s) {
      s.decodedBytes += p.verdict.decodedBytes;
      s.zlib6Bytes += p.verdict.zlib6Bytes;
    });
    p.record.events = p.verdict.entries;
  }
  if (owner_.options.recordRequests) p.record.headers = std::move(request.headers);
  pending_.push_back(std::move(p));
}

bool Connection::processDue() {
  auto now = Clock::now();
  // HTTP/1.1 answers go out in request order; h2 streams independently.
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->due > now) {
      if (protocol_ == IntakeProtocol::Http1) break;
      ++it;
      continue;
    }
    Pending p = std::move(*it);
    it = pending_.erase(it);
    if (!answer(p)) return false;
  }
  if (protocol_ == IntakeProtocol::Http2 && !h2Flush()) return false;
  return !closeNow_;
}

void Connection::record(const Pending& p, int status) {
  {
    std::lock_guard lock(owner_.mutex);
    auto& s = owner_.stats;
    if (status != 0) {
      ++s.responses;
      ++s.byStatus[status];
    }
    if (p.fault) {
      ++s.faults;
    } else {
      s.violations += p.verdict.violations.size();
      owner_.violations.insert(owner_.violations.end(), p.verdict.violations.begin(), p.verdict.violations.end());
      if (status == 202) {
        s.events += p.verdict.events.size();
        if (owner_.options.recordEvents) {
          owner_.events.insert(owner_.events.end(), p.verdict.events.begin(), p.verdict.events.end());
          owner_.eventTexts.insert(owner_.eventTexts.end(), p.verdict.eventTexts.begin(), p.verdict.eventTexts.end());
        }
      }
    }
    if (owner_.options.recordRequests) {
      owner_.requests.push_back(p.record);
      owner_.requests.back().status = status;
      owner_.requests.back().faulted = p.fault.has_value();
    }
  }
  owner_.changed.notify_all();
}

bool Connection::answer(Pending& p) {
  // Out of service before the answer is written: the client may send its next request at once.
  p.slot.reset();
  if (p.fault && p.fault->kind == Fault::Kind::Reset) {
    record(p, 0);
    killMode_.store(2);
    return false;
  }
  if (p.fault && (p.fault->kind == Fault::Kind::Close ||
                  (p.fault->kind == Fault::Kind::StreamReset && protocol_ == IntakeProtocol::Http1))) {
    record(p, 0);
    return false;
  }
  return protocol_ == IntakeProtocol::Http2 ? answerHttp2(p) : answerHttp1(p);
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1

int Connection::onMessageBegin(http_parser* p) {
  auto* c = static_cast<Connection*>(p->data);
  c->current_ = ParsedRequest{};
  c->field_.clear();
  c->value_.clear();
  c->inValue_ = false;
  return 0;
}

int Connection::onUrl(http_parser* p, const char* at, size_t n) {
  static_cast<Connection*>(p->data)->current_.path.append(at, n);
  return 0;
}

void Connection::flushHeader() {
  if (!inValue_) return;
  std::string name = lower(field_);
  std::string value = trim(value_);
  auto [it, inserted] = current_.headers.emplace(name, value);
  if (!inserted) it->second += ", " + value;
  field_.clear();
  value_.clear();
  inValue_ = false;
}

int Connection::onHeaderField(http_parser* p, const char* at, size_t n) {
  auto* c = static_cast<Connection*>(p->data);
  c->flushHeader();
  c->field_.append(at, n);
  return 0;
}

int Connection::onHeaderValue(http_parser* p, const char* at, size_t n) {
  auto* c = static_cast<Connection*>(p->data);
  c->inValue_ = true;
  c->value_.append(at, n);
  return 0;
}

int Connection::onHeadersComplete(http_parser* p) {
  auto* c = static_cast<Connection*>(p->data);
  c->flushHeader();
  c->current_.method = http_method_str(static_cast<http_method>(p->method));
  if (lower(header(c->current_, "expect")) == "100-continue") {
    c->writeAll("HTTP/1.1 100 Continue\r\n\r\n");
  }
  return 0;
}

int Connection::onBody(http_parser* p, const char* at, size_t n) {
  auto* c = static_cast<Connection*>(p->data);
  if (c->current_.body.size() + n > c->bodyCap()) {
    c->current_.bodyOverCap = true;
  } else {
    c->current_.body.append(at, n);
  }
  return 0;
}

int Connection::onMessageComplete(http_parser* p) {
  auto* c = static_cast<Connection*>(p->data);
  c->current_.protocol = IntakeProtocol::Http1;
  c->current_.keepAlive = http_should_keep_alive(p) != 0;
  c->completed_.push_back(std::move(c->current_));
  c->current_ = ParsedRequest{};
  return 0;
}

void Connection::runHttp1(std::string initial) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  settings_.on_message_begin = onMessageBegin;
  settings_.on_url = onUrl;
  settings_.on_header_field = onHeaderField;
  settings_.on_header_value = onHeaderValue;
  settings_.on_headers_complete = onHeadersComplete;
  settings_.on_body = onBody;
  settings_.on_message_complete = onMessageComplete;
  bool broken = false;
  auto feed = [this, &broken](std::string_view data) {
    if (broken) return true;  // after a parse error only the pending 400 is left to send
    size_t done = http_parser_execute(&parser_, &settings_, data.data(), data.size());
    for (auto& r : completed_) complete(std::move(r));
    completed_.clear();
    if (HTTP_PARSER_ERRNO(&parser_) != HPE_OK || parser_.upgrade || done != data.size()) {
      broken = true;
      Pending p;
      p.due = Clock::now();
      p.closeAfter = true;
      std::string detail = std::string("HTTP/1.1 parse error: ") +
                           http_errno_name(static_cast<http_errno>(HTTP_PARSER_ERRNO(&parser_)));
      p.verdict = reject(IntakeViolation::Kind::BadHttp, 400, detail);
      p.record.connectionId = id_;
      p.record.tls = owner_.options.tls;
      pending_.push_back(std::move(p));
    }
    return true;
  };
  if (!initial.empty()) feed(initial);
  if (!processDue()) return;
  while (pumpOnce(feed)) {
  }
}

bool Connection::answerHttp1(Pending& p) {
  int status = p.fault ? p.fault->status : p.verdict.status;
  std::string body = status == 202 ? std::string("{}") : errorBody(status, p.fault ? "injected fault" : p.verdict.detail);
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reasonPhrase(status) +
                     "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  if (p.fault && p.fault->retryAfterSeconds) head += "Retry-After: " + std::to_string(*p.fault->retryAfterSeconds) + "\r\n";
  if (p.closeAfter) head += "Connection: close\r\n";
  head += "\r\n";
  record(p, status);
  if (!writeAll(head + body)) return false;
  if (p.closeAfter) closeNow_ = true;
  return true;
}

// ---------------------------------------------------------------------------------------------
// HTTP/2

int Connection::h2OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* c = static_cast<Connection*>(user);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  auto stream = std::make_unique<Stream>();
  stream->request.protocol = IntakeProtocol::Http2;
  stream->request.streamId = frame->hd.stream_id;
  c->streams_[frame->hd.stream_id] = std::move(stream);
  ++c->streamsSeen_;
  uint64_t seen = c->streamsSeen_;
  uint64_t open = c->streams_.size();
  c->owner_.update([seen, open](FakeIntakeStats& s) {
    s.maxStreamsPerConnection = std::max(s.maxStreamsPerConnection, seen);
    s.maxConcurrentStreams = std::max(s.maxConcurrentStreams, open);
  });
  return 0;
}

int Connection::h2OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                           const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* c = static_cast<Connection*>(user);
  auto it = c->streams_.find(frame->hd.stream_id);
  if (it == c->streams_.end()) return 0;
  std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  auto& r = it->second->request;
  if (n == ":method") {
    r.method = v;
  } else if (n == ":path") {
    r.path = v;
  } else if (!n.empty() && n[0] != ':') {
    auto [h, inserted] = r.headers.emplace(std::string(n), std::string(v));
    if (!inserted) h->second += ", " + std::string(v);
  }
  return 0;
}

int Connection::h2OnData(nghttp2_session*, uint8_t, int32_t streamId, const uint8_t* data, size_t len, void* user) {
  auto* c = static_cast<Connection*>(user);
  auto it = c->streams_.find(streamId);
  if (it == c->streams_.end()) return 0;
  auto& r = it->second->request;
  if (r.body.size() + len > c->bodyCap()) {
    r.bodyOverCap = true;
  } else {
    r.body.append(reinterpret_cast<const char*>(data), len);
  }
  return 0;
}

int Connection::h2OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* c = static_cast<Connection*>(user);
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
    auto it = c->streams_.find(frame->hd.stream_id);
    if (it != c->streams_.end()) {
      ParsedRequest r = std::move(it->second->request);
      r.protocol = IntakeProtocol::Http2;
      r.streamId = frame->hd.stream_id;
      c->complete(std::move(r));
    }
  }
  return 0;
}

int Connection::h2OnStreamClose(nghttp2_session*, int32_t streamId, uint32_t, void* user) {
  static_cast<Connection*>(user)->streams_.erase(streamId);
  return 0;
}

ssize_t Connection::h2ReadBody(nghttp2_session* session, int32_t streamId, uint8_t* buf, size_t length,
                               uint32_t* flags, nghttp2_data_source*, void* user) {
  auto* c = static_cast<Connection*>(user);
  auto it = c->streams_.find(streamId);
  if (it == c->streams_.end()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  (void)session;
  auto& s = *it->second;
  size_t n = std::min(length, s.responseBody.size() - s.responseOffset);
  std::memcpy(buf, s.responseBody.data() + s.responseOffset, n);
  s.responseOffset += n;
  if (s.responseOffset == s.responseBody.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

bool Connection::h2Flush() {
  while (true) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(h2_, &data);
    if (n < 0) return false;
    if (n == 0) break;
    if (!writeAll(std::string_view(reinterpret_cast<const char*>(data), static_cast<size_t>(n)))) return false;
  }
  if (nghttp2_session_want_read(h2_) == 0 && nghttp2_session_want_write(h2_) == 0) return false;
  return true;
}

void Connection::runHttp2(std::string initial) {
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, h2OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cbs, h2OnHeader);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, h2OnData);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, h2OnFrameRecv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, h2OnStreamClose);
  int rc = nghttp2_session_server_new(&h2_, cbs, this);
  nghttp2_session_callbacks_del(cbs);
  if (rc != 0) return;
  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, owner_.options.h2MaxConcurrentStreams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, owner_.options.h2InitialWindowSize},
  };
  nghttp2_submit_settings(h2_, NGHTTP2_FLAG_NONE, settings, 2);
  nghttp2_session_set_local_window_size(h2_, NGHTTP2_FLAG_NONE, 0, 1 << 20);
  auto feed = [this](std::string_view data) {
    ssize_t n = nghttp2_session_mem_recv(h2_, reinterpret_cast<const uint8_t*>(data.data()), data.size());
    return n >= 0;
  };
  if (!initial.empty() && !feed(initial)) return;
  if (!processDue()) return;
  while (pumpOnce(feed)) {
  }
}

bool Connection::answerHttp2(Pending& p) {
  auto it = streams_.find(p.record.streamId);
  if (it == streams_.end()) return true;  // the client reset the stream: dropped unrecorded
  if (p.fault && p.fault->kind == Fault::Kind::StreamReset) {
    record(p, 0);
    nghttp2_submit_rst_stream(h2_, NGHTTP2_FLAG_NONE, p.record.streamId, NGHTTP2_INTERNAL_ERROR);
    return true;
  }
  int status = p.fault ? p.fault->status : p.verdict.status;
  auto& stream = *it->second;
  stream.responseBody =
      status == 202 ? std::string("{}") : errorBody(status, p.fault ? "injected fault" : p.verdict.detail);
  std::string statusText = std::to_string(status);
  std::string length = std::to_string(stream.responseBody.size());
  std::string retryAfter = p.fault && p.fault->retryAfterSeconds ? std::to_string(*p.fault->retryAfterSeconds) : "";
  auto nv = [](const char* name, const std::string& value) {
    return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name)),
                      reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), std::strlen(name), value.size(),
                      NGHTTP2_NV_FLAG_NONE};
  };
  static const std::string kJson = "application/json";
  std::vector<nghttp2_nv> headers = {nv(":status", statusText), nv("content-type", kJson),
                                     nv("content-length", length)};
  if (!retryAfter.empty()) headers.push_back(nv("retry-after", retryAfter));
  nghttp2_data_provider provider{};
  provider.read_callback = h2ReadBody;
  record(p, status);
  return nghttp2_submit_response(h2_, p.record.streamId, headers.data(), headers.size(), &provider) == 0;
}

// ---------------------------------------------------------------------------------------------
// Accepting

void FakeIntake::Impl::reapFinished() {
  std::vector<std::shared_ptr<Connection>> done;
  {
    std::lock_guard lock(mutex);
    for (auto it = connections.begin(); it != connections.end();) {
      if (it->second->finished()) {
        done.push_back(std::move(it->second));
        it = connections.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : done) c->join();
}

void FakeIntake::Impl::acceptLoop(int fd, int wakeFd) {
  while (true) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {wakeFd, POLLIN, 0}};
    int rc = ::poll(fds, 2, 1000);
    if (rc < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    if (rc == 0) {
      reapFinished();
      continue;
    }
    int client = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0) continue;
    int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::shared_ptr<Connection> conn;
    {
      std::lock_guard lock(mutex);
      uint64_t id = nextConnectionId++;
      conn = std::make_shared<Connection>(*this, client, id);
      connections[id] = conn;
      ++stats.connections;
      ++stats.activeConnections;
    }
    changed.notify_all();
    conn->start();
    reapFinished();
  }
}

namespace {

int bindListener(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) throw std::runtime_error(errnoText("socket"));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 1024) != 0) {
    std::string error = errnoText("bind/listen 127.0.0.1");
    ::close(fd);
    throw std::runtime_error(error);
  }
  return fd;
}

int alpnSelect(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
               void* arg) {
  const auto* offered = static_cast<const std::vector<std::string>*>(arg);
  for (const auto& proto : *offered) {  // server preference order
    for (unsigned int i = 0; i < inlen;) {
      unsigned int len = in[i];
      if (i + 1 + len > inlen) break;
      if (std::string_view(reinterpret_cast<const char*>(in + i + 1), len) == proto) {
        *out = in + i + 1;
        *outlen = static_cast<unsigned char>(len);
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + len;
    }
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

void usePem(SSL_CTX* ctx, const CertKey& ck) {
  BIO* bio = BIO_new_mem_buf(ck.certPem.data(), static_cast<int>(ck.certPem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  bio = BIO_new_mem_buf(ck.keyPem.data(), static_cast<int>(ck.keyPem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  bool ok = cert != nullptr && key != nullptr && SSL_CTX_use_certificate(ctx, cert) == 1 &&
            SSL_CTX_use_PrivateKey(ctx, key) == 1;
  X509_free(cert);
  EVP_PKEY_free(key);
  if (!ok) throw std::runtime_error("fake intake: cannot load the server certificate");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// FakeIntake

FakeIntake::FakeIntake(FakeIntakeOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>(options_)) {}

FakeIntake::~FakeIntake() { stop(); }

void FakeIntake::start() {
  std::signal(SIGPIPE, SIG_IGN);
  if (options_.tls) {
    impl_->pki = options_.pki ? options_.pki : std::make_shared<TestPki>();
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr) throw std::runtime_error("fake intake: SSL_CTX_new");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    usePem(ctx, impl_->pki->server());
    SSL_CTX_set_alpn_select_cb(ctx, alpnSelect, const_cast<std::vector<std::string>*>(&options_.alpn));
    if (options_.requireClientCert) {
      BIO* bio = BIO_new_mem_buf(impl_->pki->caPem().data(), static_cast<int>(impl_->pki->caPem().size()));
      X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
      BIO_free(bio);
      X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
      X509_free(ca);
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    impl_->sslCtx = ctx;
  }
  impl_->port = 0;
  resumeListening();
}

void FakeIntake::resumeListening() {
  std::lock_guard lock(impl_->lifecycleMutex);
  if (impl_->listenFd >= 0) return;
  int fd = bindListener(impl_->port);
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  impl_->port = ntohs(addr.sin_port);
  impl_->listenFd = fd;
  impl_->acceptWake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  int wake = impl_->acceptWake;
  Impl* impl = impl_.get();
  impl_->acceptor = std::thread([impl, fd, wake] { impl->acceptLoop(fd, wake); });
  impl_->isListening.store(true);
}

void FakeIntake::stopListening(bool dropConnections) {
  {
    std::lock_guard lock(impl_->lifecycleMutex);
    if (impl_->listenFd >= 0) {
      uint64_t one = 1;
      [[maybe_unused]] auto n = ::write(impl_->acceptWake, &one, sizeof(one));
      impl_->acceptor.join();
      ::close(impl_->listenFd);
      ::close(impl_->acceptWake);
      impl_->listenFd = -1;
      impl_->acceptWake = -1;
      impl_->isListening.store(false);
    }
  }
  if (!dropConnections) return;
  std::map<uint64_t, std::shared_ptr<Connection>> all;
  {
    std::lock_guard lock(impl_->mutex);
    all.swap(impl_->connections);
  }
  for (auto& [id, c] : all) c->kill(true);
  for (auto& [id, c] : all) c->join();
}

void FakeIntake::stop() {
  if (!impl_) return;
  stopListening(true);
  if (impl_->sslCtx != nullptr) {
    SSL_CTX_free(impl_->sslCtx);
    impl_->sslCtx = nullptr;
  }
}

uint16_t FakeIntake::port() const { return impl_->port; }

bool FakeIntake::listening() const { return impl_->isListening.load(); }

const std::string& FakeIntake::caFile() const { return pki().caFile(); }

const TestPki& FakeIntake::pki() const {
  if (!impl_->pki) throw std::logic_error("fake intake: no PKI (TLS off or not started)");
  return *impl_->pki;
}

void FakeIntake::failNext(size_t count, Fault fault) {
  if (count == 0) return;
  std::lock_guard lock(impl_->mutex);
  impl_->nextFaults.emplace_back(count, fault);
}

void FakeIntake::failFraction(double p, Fault fault, uint64_t seed) {
  std::lock_guard lock(impl_->mutex);
  impl_->fraction = p;
  impl_->fractionFault = fault;
  impl_->rng.seed(seed);
}

void FakeIntake::setDelay(Millis delay) {
  std::lock_guard lock(impl_->mutex);
  impl_->delay = delay;
}

void FakeIntake::clearFaults() {
  std::lock_guard lock(impl_->mutex);
  impl_->nextFaults.clear();
  impl_->fraction = 0;
  impl_->delay = Millis(0);
}

std::vector<nlohmann::json> FakeIntake::events() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->events;
}

std::vector<std::string> FakeIntake::eventTexts() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->eventTexts;
}

size_t FakeIntake::eventCount() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats.events;
}

std::vector<IntakeViolation> FakeIntake::violations() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->violations;
}

size_t FakeIntake::violationCount(IntakeViolation::Kind kind) const {
  std::lock_guard lock(impl_->mutex);
  return static_cast<size_t>(std::count_if(impl_->violations.begin(), impl_->violations.end(),
                                           [kind](const IntakeViolation& v) { return v.kind == kind; }));
}

std::vector<IntakeRequest> FakeIntake::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests;
}

FakeIntakeStats FakeIntake::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

void FakeIntake::clearRecordings() {
  std::lock_guard lock(impl_->mutex);
  impl_->events.clear();
  impl_->eventTexts.clear();
  impl_->violations.clear();
  impl_->requests.clear();
}

bool FakeIntake::waitFor(const std::function<bool(const FakeIntakeStats&)>& condition, Millis timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout, [&] { return condition(impl_->stats); });
}

bool FakeIntake::waitForEvents(size_t n, Millis timeout) const {
  return waitFor([n](const FakeIntakeStats& s) { return s.events >= n; }, timeout);
}

bool FakeIntake::waitForRequests(size_t n, Millis timeout) const {
  return waitFor([n](const FakeIntakeStats& s) { return s.requests >= n; }, timeout);
}

}  // namespace firelane::testsupport
