// HTTP client implementation: connection state machine (resolve, connect, proxy CONNECT, TLS,
// h2 or HTTP/1.1), the pool's dispatch, and timeouts driven by one timer per client.
#include "core/http/http_client.h"

#include <algorithm>
#include <cstring>
#include <http_parser.h>
#include <netdb.h>
#include <nghttp2/nghttp2.h>
#include <strings.h>
#include <unordered_map>

#include "core/common/log.h"

namespace firelane::http {

struct Client::Pending {
  Request req;
  ResponseCallback done;
  uint64_t deadline = 0;
  int refusals = 0;  // h2 REFUSED_STREAM answers (the server did not process the request)
};

namespace {
constexpr size_t kMaxWriteQueue = 4u << 20;  // stop pulling h2 frames while this much is unsent
constexpr uint64_t kTickMs = 50;
constexpr int kMaxRefusals = 3;  // a request refused this often fails instead of being queued again

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}
}  // namespace

std::optional<std::string_view> Response::header(std::string_view name) const {
  for (const auto& h : headers)
    if (iequal(h.name, name)) return std::string_view(h.value);
  return std::nullopt;
}

Status parseProxy(std::string_view url, std::string& host, uint16_t& port) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme)
    return Status::error("proxy '" + std::string(url) + "': only http://host:port proxies are supported");
  url.remove_prefix(kScheme.size());
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  auto colon = url.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    host = std::string(url);
    port = 80;
    return {};
  }
  host = std::string(url.substr(0, colon));
  int p = 0;
  for (char ch : url.substr(colon + 1)) {
    if (ch < '0' || ch > '9') return Status::error("proxy: invalid port in '" + std::string(url) + "'");
    p = p * 10 + (ch - '0');
    if (p > 65535) return Status::error("proxy: invalid port in '" + std::string(url) + "'");
  }
  port = static_cast<uint16_t>(p);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return {};
}

// ------------------------------------------------------------------------------------ Connection

class Connection {
 public:
  explicit Connection(Client& client) : client_(client), created_(client.now()), lastUsed_(created_) {
    readBuf_.resize(64 * 1024);
  }
  ~Connection() {
    if (session_) nghttp2_session_del(session_);
  }

  void start();
  Status adopt(int fd);
  bool ready() const { return state_ == State::Ready && !draining_; }
  bool closed() const { return state_ == State::Closed; }
  unsigned freeSlots() const;
  unsigned inflight() const { return h2_ ? static_cast<unsigned>(streams_.size()) : (h1Inflight_ ? 1u : 0u); }
  void submit(std::unique_ptr<Client::Pending> p);
  void tick(uint64_t now);
  void fail(std::string why);  // by value: `why` may live in the TLS session that closing destroys

 private:
  void openHandle();  // the TCP handle and the connect deadline (start and adopt)
  enum class State { Resolving, Connecting, Proxy, Handshake, Ready, Closed };

  static void onResolved(uv_getaddrinfo_t* req, int status, addrinfo* res);
  void connectTo(const sockaddr* addr);
  static void onConnect(uv_connect_t* req, int status);
  void transportConnected();
  static void onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf);
  static void onRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  void afterTransportUp();
  void startTls();
  void becomeReady();
  void onBytes(const char* data, size_t len);
  void onPlain(const char* data, size_t len);
  void writeRaw(std::string&& bytes);
  void sendPlain(std::string&& bytes);
  void flushH2();
  void deliverCompleted();
  void h1Send();
  void h1Finish();
  void closeHandle();
  void drainCompleted();

  // http-parser callbacks (h1 responses and the proxy's CONNECT answer)
  static int onHeaderField(http_parser* p, const char* at, size_t len);
  static int onHeaderValue(http_parser* p, const char* at, size_t len);
  static int onHeadersComplete(http_parser* p);
  static int onBody(http_parser* p, const char* at, size_t len);
  static int onMessageComplete(http_parser* p);

  // nghttp2 callbacks
  static ssize_t h2Read(nghttp2_session*, int32_t id, uint8_t* buf, size_t len, uint32_t* flags,
                        nghttp2_data_source*, void* user);
  static int h2OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                        const uint8_t* value, size_t valuelen, uint8_t, void* user);
  static int h2OnData(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* user);
  static int h2OnClose(nghttp2_session*, int32_t id, uint32_t error, void* user);
  static int h2OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user);

  struct Stream {
    std::unique_ptr<Client::Pending> pending;
    Response response;
    size_t offset = 0;
  };

  Client& client_;
  State state_ = State::Resolving;
  uv_tcp_t* tcp_ = nullptr;
  uv_getaddrinfo_t* gai_ = nullptr;
  uv_connect_t connectReq_{};
  uint64_t created_;
  uint64_t lastUsed_;
  uint64_t connectDeadline_ = 0;
  bool draining_ = false;
  bool everReady_ = false;
  // h2: the server's first SETTINGS arrived. No stream is opened before: the server's stream limit
  // and initial window are unknown until then (a stream that starts under the default 65535-byte
  // window and shrinks to a smaller one gets FLOW_CONTROL_ERROR from nghttp2 servers; streams past
  // a lower limit are refused). Costs one round trip per connection; bounded by connectTimeout.
  bool settingsReceived_ = false;
  std::unique_ptr<net::TlsSession> tls_;
  bool h2_ = false;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<int32_t, Stream> streams_;
  std::vector<std::pair<std::unique_ptr<Client::Pending>, Response>> completed_;
  int processing_ = 0;  // >0 while inside read processing: deliveries are deferred
  // HTTP/1.1
  http_parser parser_{};
  http_parser_settings settings_{};
  bool proxyPhase_ = false;
  std::unique_ptr<Client::Pending> h1Inflight_;
  Response h1Response_;
  std::string headerField_;
  bool lastWasValue_ = false;
  bool messageDone_ = false;
  bool keepAlive_ = true;
  std::vector<char> readBuf_;
  friend class Client;
};

void Connection::openHandle() {
  client_.counters_.connectionsOpened.add();
  client_.counters_.connectionsOpen.add();
  connectDeadline_ = client_.now() + static_cast<uint64_t>(client_.options_.connectTimeout * 1000);
  tcp_ = new uv_tcp_t;
  uv_tcp_init(client_.loop_, tcp_);
  tcp_->data = this;
  ++client_.handlesOpen_;
}

void Connection::start() {
  openHandle();
  const auto& o = client_.options_;
  bool viaProxy = !o.proxyHost.empty();
  if (!viaProxy && !client_.addr_.empty() &&
      client_.now() - client_.resolvedAt_ < static_cast<uint64_t>(o.dnsRefresh * 1000)) {
    connectTo(reinterpret_cast<const sockaddr*>(client_.addr_.data()));
    return;
  }
  gai_ = new uv_getaddrinfo_t;
  gai_->data = this;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  std::string host = viaProxy ? o.proxyHost : o.host;
  std::string port = std::to_string(viaProxy ? o.proxyPort : o.port);
  int rc = uv_getaddrinfo(client_.loop_, gai_, &Connection::onResolved, host.c_str(), port.c_str(), &hints);
  if (rc != 0) {
    delete gai_;
    gai_ = nullptr;
    fail("cannot resolve " + host + ": " + uv_strerror(rc));
  }
}

void Connection::onResolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
  auto* self = static_cast<Connection*>(req->data);
  delete req;
  if (!self) {  // the connection was failed while resolving
    if (res) uv_freeaddrinfo(res);
    return;
  }
  self->gai_ = nullptr;
  if (self->state_ == State::Closed) {
    if (res) uv_freeaddrinfo(res);
    return;
  }
  if (status != 0 || !res) {
    const auto& o = self->client_.options_;
    self->fail("cannot resolve " + (o.proxyHost.empty() ? o.host : o.proxyHost) + ": " + uv_strerror(status));
    return;
  }
  self->client_.counters_.dnsResolutions.add();
  if (self->client_.options_.proxyHost.empty()) {
    self->client_.addr_.assign(reinterpret_cast<uint8_t*>(res->ai_addr),
                               reinterpret_cast<uint8_t*>(res->ai_addr) + res->ai_addrlen);
    self->client_.resolvedAt_ = self->client_.now();
  }
  std::vector<uint8_t> addr(reinterpret_cast<uint8_t*>(res->ai_addr),
                            reinterpret_cast<uint8_t*>(res->ai_addr) + res->ai_addrlen);
  uv_freeaddrinfo(res);
  self->connectTo(reinterpret_cast<const sockaddr*>(addr.data()));
}

void Connection::connectTo(const sockaddr* addr) {
  state_ = State::Connecting;
  connectReq_.data = this;
  int rc = uv_tcp_connect(&connectReq_, tcp_, addr, &Connection::onConnect);
  if (rc != 0) fail(std::string("connect: ") + uv_strerror(rc));
}

void Connection::onConnect(uv_connect_t* req, int status) {
  auto* self = static_cast<Connection*>(req->data);
  if (self->state_ == State::Closed) return;
  if (status != 0) {
    const auto& o = self->client_.options_;
    self->fail("connect to " + (o.proxyHost.empty() ? o.host : o.proxyHost) + ":" +
               std::to_string(o.proxyHost.empty() ? o.port : o.proxyPort) + ": " + uv_strerror(status));
    return;
  }
  uv_tcp_nodelay(self->tcp_, 1);
  self->transportConnected();
}

void Connection::transportConnected() {
  uv_read_start(reinterpret_cast<uv_stream_t*>(tcp_), &Connection::onAlloc, &Connection::onRead);
  http_parser_settings_init(&settings_);
  settings_.on_header_field = &Connection::onHeaderField;
  settings_.on_header_value = &Connection::onHeaderValue;
  settings_.on_headers_complete = &Connection::onHeadersComplete;
  settings_.on_body = &Connection::onBody;
  settings_.on_message_complete = &Connection::onMessageComplete;
  const auto& o = client_.options_;
  if (!o.proxyHost.empty()) {
    state_ = State::Proxy;
    proxyPhase_ = true;
    http_parser_init(&parser_, HTTP_RESPONSE);
    parser_.data = this;
    h1Response_ = Response();
    messageDone_ = false;
    std::string target = o.host + ":" + std::to_string(o.port);
    writeRaw("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n");
    return;
  }
  afterTransportUp();
}

Status Connection::adopt(int fd) {
  openHandle();
  state_ = State::Connecting;
  int rc = uv_tcp_open(tcp_, fd);
  if (rc != 0) {
    std::string why = std::string("adopt socket: ") + uv_strerror(rc);
    fail(why);
    return Status::error(why);
  }
  transportConnected();
  return {};
}

void Connection::afterTransportUp() {
  if (client_.options_.tls) {
    startTls();
  } else {
    h2_ = client_.options_.http2 == Http2Mode::PriorKnowledge;
    becomeReady();
  }
}

void Connection::startTls() {
  state_ = State::Handshake;
  tls_ = std::make_unique<net::TlsSession>(client_.tls_, client_.options_.host);
  tls_->handshake();
  std::string out = tls_->takeOutput();
  if (!out.empty()) writeRaw(std::move(out));
}

void Connection::becomeReady() {
  state_ = State::Ready;
  everReady_ = true;
  client_.negotiated_ = h2_ ? Client::Negotiated::Http2 : Client::Negotiated::Http1;
  lastUsed_ = client_.now();
  if (h2_) {
    client_.counters_.h2Connections.add();
    nghttp2_session_callbacks* cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &Connection::h2OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Connection::h2OnData);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Connection::h2OnClose);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &Connection::h2OnFrameRecv);
    nghttp2_session_client_new(&session_, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                         {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 2);
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, 4 << 20);
    flushH2();
  } else {
    client_.counters_.h1Connections.add();
  }
  client_.scheduleDispatch();
}

unsigned Connection::freeSlots() const {
  if (!ready()) return 0;
  if (!h2_) return h1Inflight_ ? 0 : 1;
  if (!settingsReceived_) return 0;
  uint32_t remote = nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  uint32_t cap = std::min<uint32_t>(remote, client_.options_.maxStreamsPerConnection);
  return cap > streams_.size() ? cap - static_cast<uint32_t>(streams_.size()) : 0;
}

void Connection::submit(std::unique_ptr<Client::Pending> p) {
  lastUsed_ = client_.now();
  p->deadline = lastUsed_ + static_cast<uint64_t>(client_.options_.responseTimeout * 1000);
  client_.counters_.requests.add();
  const auto& o = client_.options_;
  std::string authority = o.tlsOptions.vhost.empty() ? o.host : o.tlsOptions.vhost;
  bool defaultPort = (o.tls && o.port == 443) || (!o.tls && o.port == 80);
  if (!defaultPort) authority += ":" + std::to_string(o.port);
  if (!h2_) {
    std::string head;
    head.reserve(256 + p->req.headers.size() * 64);
    head.append(p->req.method).append(" ").append(p->req.path).append(" HTTP/1.1\r\nHost: ").append(authority);
    head.append("\r\nContent-Length: ").append(std::to_string(p->req.body.size())).append("\r\n");
    for (const auto& h : p->req.headers) head.append(h.name).append(": ").append(h.value).append("\r\n");
    head.append("\r\n");
    h1Inflight_ = std::move(p);
    http_parser_init(&parser_, HTTP_RESPONSE);
    parser_.data = this;
    h1Response_ = Response();
    headerField_.clear();
    lastWasValue_ = false;
    messageDone_ = false;
    // One write for head + body; small bodies are appended, large ones sent as a second buffer,
    // moved there: an HTTP/1.1 request is never sent twice by the client (a retry is a new request
    // from the output), and copying a 1 MiB body costs more than encoding it.
    if (h1Inflight_->req.body.size() < 64 * 1024) {
      head.append(h1Inflight_->req.body);
      sendPlain(std::move(head));
    } else {
      sendPlain(std::move(head));
      sendPlain(std::move(h1Inflight_->req.body));
    }
    return;
  }
  std::vector<nghttp2_nv> nva;
  std::string scheme = o.tls ? "https" : "http";
  std::string length = std::to_string(p->req.body.size());
  auto nv = [](const std::string& n, const std::string& v) {
    return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                      reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                      NGHTTP2_NV_FLAG_NONE};
  };
  static const std::string kMethod = ":method", kPath = ":path", kScheme = ":scheme", kAuth = ":authority",
                           kLength = "content-length";
  nva.push_back(nv(kMethod, p->req.method));
  nva.push_back(nv(kPath, p->req.path));
  nva.push_back(nv(kScheme, scheme));
  nva.push_back(nv(kAuth, authority));
  nva.push_back(nv(kLength, length));
  std::vector<std::string> lowered;
  lowered.reserve(p->req.headers.size());
  for (const auto& h : p->req.headers) {
    std::string n = h.name;
    for (auto& ch : n) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    lowered.push_back(std::move(n));
    nva.push_back(nv(lowered.back(), h.value));
  }
  nghttp2_data_provider provider{};
  provider.read_callback = &Connection::h2Read;
  int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(),
                                      p->req.body.empty() && p->req.method == "GET" ? nullptr : &provider, nullptr);
  if (id < 0) {
    Response r;
    r.error = std::string("h2 submit: ") + nghttp2_strerror(id);
    completed_.emplace_back(std::move(p), std::move(r));
    drainCompleted();
    return;
  }
  client_.counters_.h2Streams.add();
  streams_[id].pending = std::move(p);
  streams_[id].response.http2 = true;
  flushH2();
}

ssize_t Connection::h2Read(nghttp2_session*, int32_t id, uint8_t* buf, size_t len, uint32_t* flags,
                           nghttp2_data_source*, void* user) {
  auto* self = static_cast<Connection*>(user);
  auto it = self->streams_.find(id);
  if (it == self->streams_.end() || !it->second.pending) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    return 0;
  }
  const std::string& body = it->second.pending->req.body;
  size_t n = std::min(len, body.size() - it->second.offset);
  std::memcpy(buf, body.data() + it->second.offset, n);
  it->second.offset += n;
  if (it->second.offset == body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

int Connection::h2OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                           const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* self = static_cast<Connection*>(user);
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  auto it = self->streams_.find(frame->hd.stream_id);
  if (it == self->streams_.end()) return 0;
  std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":status") {
    int status = 0;
    for (char ch : v) status = status * 10 + (ch - '0');
    it->second.response.status = status;
  } else if (it->second.response.headers.size() < 100) {
    it->second.response.headers.push_back(Header{std::string(n), std::string(v)});
  }
  return 0;
}

int Connection::h2OnData(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* user) {
  auto* self = static_cast<Connection*>(user);
  auto it = self->streams_.find(id);
  if (it == self->streams_.end()) return 0;
  std::string& body = it->second.response.body;
  size_t room = self->client_.options_.maxResponseBody - std::min(body.size(), self->client_.options_.maxResponseBody);
  body.append(reinterpret_cast<const char*>(data), std::min(len, room));
  return 0;
}

int Connection::h2OnClose(nghttp2_session*, int32_t id, uint32_t error, void* user) {
  auto* self = static_cast<Connection*>(user);
  auto it = self->streams_.find(id);
  if (it == self->streams_.end()) return 0;
  Stream s = std::move(it->second);
  self->streams_.erase(it);
  self->client_.counters_.h2Streams.sub();
  if (s.pending && s.response.status == 0 && error == NGHTTP2_REFUSED_STREAM &&
      ++s.pending->refusals < kMaxRefusals) {
    // Refused (over the server's stream limit, or after its GOAWAY): it was not processed, so it
    // goes back to the front of the queue instead of failing.
    self->client_.queue_.insert(self->client_.queue_.begin(), std::move(s.pending));
    self->client_.scheduleDispatch();
    return 0;
  }
  if (s.response.status == 0 || error != NGHTTP2_NO_ERROR) {
    if (s.response.status == 0)
      s.response.error = std::string("h2 stream closed: ") + nghttp2_http2_strerror(error);
  }
  self->completed_.emplace_back(std::move(s.pending), std::move(s.response));
  return 0;
}

int Connection::h2OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<Connection*>(user);
  if (frame->hd.type == NGHTTP2_GOAWAY) self->draining_ = true;  // no new streams on this connection
  if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
    self->settingsReceived_ = true;
    self->client_.scheduleDispatch();
  }
  return 0;
}

void Connection::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(h->data);
  buf->base = self->readBuf_.data();
  buf->len = self->readBuf_.size();
}

void Connection::onRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(s->data);
  if (self->state_ == State::Closed) return;
  if (n < 0) {
    if (!self->h2_ && self->h1Inflight_ && !self->tls_ && n == UV_EOF) {
      // Response delimited by the end of the connection.
      http_parser_execute(&self->parser_, &self->settings_, nullptr, 0);
      if (self->messageDone_) {
        self->h1Finish();
        self->fail("connection closed by server");
        return;
      }
    }
    self->fail(n == UV_EOF ? "connection closed by server" : std::string("read: ") + uv_strerror(static_cast<int>(n)));
    return;
  }
  if (n == 0) return;
  self->processing_++;
  self->onBytes(buf->base, static_cast<size_t>(n));
  self->processing_--;
  self->drainCompleted();
}

void Connection::onBytes(const char* data, size_t len) {
  if (state_ == State::Proxy) {
    size_t used = http_parser_execute(&parser_, &settings_, data, len);
    if (state_ == State::Closed) return;
    if (HTTP_PARSER_ERRNO(&parser_) != HPE_OK && HTTP_PARSER_ERRNO(&parser_) != HPE_PAUSED) {
      fail(std::string("proxy: bad response: ") + http_errno_name(HTTP_PARSER_ERRNO(&parser_)));
      return;
    }
    if (!messageDone_) return;
    if (h1Response_.status != 200) {
      fail("proxy refused CONNECT with status " + std::to_string(h1Response_.status));
      return;
    }
    proxyPhase_ = false;
    afterTransportUp();
    if (used < len && state_ != State::Closed) onBytes(data + used, len - used);
    return;
  }
  if (tls_) {
    tls_->feed({reinterpret_cast<const uint8_t*>(data), len});
    if (state_ == State::Handshake) {
      auto st = tls_->handshake();
      std::string out = tls_->takeOutput();
      if (!out.empty()) writeRaw(std::move(out));
      if (st == net::TlsSession::State::Failed) {
        fail(tls_->error());
        return;
      }
      if (st != net::TlsSession::State::Ready) return;
      const auto& o = client_.options_;
      std::string alpn = tls_->alpnSelected();
      h2_ = alpn == "h2" || (alpn.empty() && o.http2 == Http2Mode::PriorKnowledge);
      becomeReady();
    }
    std::string plain;
    bool ok = tls_->readPlain(plain);
    std::string out = tls_->takeOutput();
    if (!out.empty()) writeRaw(std::move(out));
    if (!plain.empty()) onPlain(plain.data(), plain.size());
    if (!ok && state_ != State::Closed) fail(tls_->error());
    return;
  }
  onPlain(data, len);
}

void Connection::onPlain(const char* data, size_t len) {
  if (state_ != State::Ready && state_ != State::Handshake) return;
  lastUsed_ = client_.now();
  if (h2_) {
    ssize_t rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(data), len);
    if (rv < 0) {
      fail(std::string("h2: ") + nghttp2_strerror(static_cast<int>(rv)));
      return;
    }
    flushH2();
    return;
  }
  if (!h1Inflight_) {
    fail("unexpected bytes from server with no request in flight");
    return;
  }
  http_parser_execute(&parser_, &settings_, data, len);
  if (state_ == State::Closed) return;
  auto err = HTTP_PARSER_ERRNO(&parser_);
  if (err != HPE_OK && err != HPE_PAUSED) {
    fail(std::string("bad HTTP response: ") + http_errno_description(err));
    return;
  }
  if (messageDone_) h1Finish();
}

void Connection::h1Finish() {
  messageDone_ = false;
  bool keep = keepAlive_;
  completed_.emplace_back(std::move(h1Inflight_), std::move(h1Response_));
  h1Response_ = Response();
  if (!keep) {
    draining_ = true;  // delivered below; the connection closes once idle (tick)
  }
  client_.scheduleDispatch();
}

int Connection::onHeaderField(http_parser* p, const char* at, size_t len) {
  auto* self = static_cast<Connection*>(p->data);
  if (self->lastWasValue_ || self->headerField_.empty()) {
    if (self->lastWasValue_) self->headerField_.clear();
    self->lastWasValue_ = false;
  }
  self->headerField_.append(at, len);
  return 0;
}

int Connection::onHeaderValue(http_parser* p, const char* at, size_t len) {
  auto* self = static_cast<Connection*>(p->data);
  auto& headers = self->h1Response_.headers;
  if (!self->lastWasValue_) {
    if (headers.size() >= 100) return 0;
    headers.push_back(Header{self->headerField_, std::string()});
    self->lastWasValue_ = true;
  }
  if (!headers.empty()) headers.back().value.append(at, len);
  return 0;
}

int Connection::onHeadersComplete(http_parser* p) {
  auto* self = static_cast<Connection*>(p->data);
  self->h1Response_.status = static_cast<int>(p->status_code);
  self->keepAlive_ = http_should_keep_alive(p) != 0;
  return self->proxyPhase_ ? 1 : 0;  // the answer to CONNECT has no body
}

int Connection::onBody(http_parser* p, const char* at, size_t len) {
  auto* self = static_cast<Connection*>(p->data);
  std::string& body = self->h1Response_.body;
  size_t cap = self->client_.options_.maxResponseBody;
  if (body.size() < cap) body.append(at, std::min(len, cap - body.size()));
  return 0;
}

int Connection::onMessageComplete(http_parser* p) {
  auto* self = static_cast<Connection*>(p->data);
  self->messageDone_ = true;
  http_parser_pause(p, 1);  // stop here: what follows belongs to the next stage or response
  return 0;
}

void Connection::writeRaw(std::string&& bytes) {
  if (bytes.empty() || state_ == State::Closed) return;
  struct WriteReq {
    uv_write_t req;
    std::string data;
    Connection* conn;
  };
  auto* w = new WriteReq{{}, std::move(bytes), this};
  uv_buf_t b = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(tcp_), &b, 1, [](uv_write_t* r, int status) {
    auto* wr = reinterpret_cast<WriteReq*>(r);
    Connection* c = wr->conn;
    delete wr;
    if (status == UV_ECANCELED) return;  // handle closing; the connection may be gone
    if (c->state_ == State::Closed) return;
    if (status < 0) {
      c->fail(std::string("write: ") + uv_strerror(status));
      return;
    }
    if (c->h2_ && c->session_) {
      c->flushH2();
      c->drainCompleted();
    }
  });
  if (rc != 0) {
    delete w;
    fail(std::string("write: ") + uv_strerror(rc));
  }
}

void Connection::sendPlain(std::string&& bytes) {
  if (!tls_) return writeRaw(std::move(bytes));
  if (!tls_->writePlain(bytes)) {
    fail(tls_->error());
    return;
  }
  writeRaw(tls_->takeOutput());
}

void Connection::flushH2() {
  if (!session_ || state_ == State::Closed) return;
  std::string out;
  while (nghttp2_session_want_write(session_) &&
         uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t*>(tcp_)) + out.size() < kMaxWriteQueue) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      fail(std::string("h2: ") + nghttp2_strerror(static_cast<int>(n)));
      return;
    }
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    if (out.size() >= 256 * 1024) {
      sendPlain(std::move(out));
      out.clear();
      if (state_ == State::Closed) return;
    }
  }
  if (!out.empty()) sendPlain(std::move(out));
}

void Connection::drainCompleted() {
  if (processing_ > 0 || completed_.empty()) return;
  auto done = std::move(completed_);
  completed_.clear();
  for (auto& [p, r] : done) {
    if (p) client_.deliver(std::move(p), std::move(r));
  }
}

void Connection::tick(uint64_t now) {
  if (state_ == State::Closed) return;
  if (state_ != State::Ready) {
    if (now >= connectDeadline_) {
      fail(state_ == State::Handshake ? "TLS handshake timed out" : "connect timed out");
    }
    return;
  }
  if (h2_ && !settingsReceived_ && now >= connectDeadline_) {
    fail("no HTTP/2 SETTINGS from the server in time");
    return;
  }
  for (auto& [id, s] : streams_) {
    if (s.pending && now >= s.pending->deadline) {
      Response r;
      r.error = "response timed out";
      completed_.emplace_back(std::move(s.pending), std::move(r));
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    }
  }
  if (!completed_.empty()) {
    flushH2();
    drainCompleted();
  }
  if (h1Inflight_ && now >= h1Inflight_->deadline) {
    fail("response timed out");
    return;
  }
  const auto& o = client_.options_;
  if (o.maxAge > 0 && now - created_ >= static_cast<uint64_t>(o.maxAge * 1000)) draining_ = true;
  bool idle = inflight() == 0;
  if (idle && (draining_ || now - lastUsed_ >= static_cast<uint64_t>(o.idleTimeout * 1000))) {
    closeHandle();
  }
}

void Connection::fail(std::string why) {
  if (state_ == State::Closed) return;
  // An h2 connection that failed before the server's SETTINGS never could carry a request: it
  // counts as a failed connection attempt (the queue fails instead of reconnecting in a loop).
  bool wasReady = everReady_ && (!h2_ || settingsReceived_);
  // Everything in flight on this connection fails with the transport error.
  if (h1Inflight_) {
    Response r;
    r.error = why;
    completed_.emplace_back(std::move(h1Inflight_), std::move(r));
  }
  for (auto& [id, s] : streams_) {
    if (!s.pending) continue;
    Response r;
    r.error = why;
    r.http2 = true;
    completed_.emplace_back(std::move(s.pending), std::move(r));
    client_.counters_.h2Streams.sub();
  }
  streams_.clear();
  closeHandle();
  int saved = processing_;
  processing_ = 0;
  drainCompleted();
  processing_ = saved;
  client_.connectionFailed(this, why, wasReady);
}

void Connection::closeHandle() {
  if (state_ == State::Closed) return;
  state_ = State::Closed;
  client_.counters_.connectionsOpen.sub();
  if (gai_) {
    gai_->data = nullptr;  // onResolved frees it
    uv_cancel(reinterpret_cast<uv_req_t*>(gai_));
    gai_ = nullptr;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(tcp_), [](uv_handle_t* h) {
    auto* self = static_cast<Connection*>(h->data);
    delete reinterpret_cast<uv_tcp_t*>(h);
    self->client_.connectionClosed(self);
  });
}

// ---------------------------------------------------------------------------------------- Client

Result<std::shared_ptr<net::TlsContext>> Client::makeTlsContext(const UpstreamOptions& options) {
  net::TlsOptions t = options.tlsOptions;
  t.alpn.clear();
  if (options.http2 == Http2Mode::Auto) t.alpn = {"h2", "http/1.1"};
  if (options.http2 == Http2Mode::Off) t.alpn = {"http/1.1"};
  if (options.http2 == Http2Mode::PriorKnowledge) t.alpn = {"h2"};
  return net::TlsContext::create(t);
}

Status Client::adoptConnectedSocket(int fd) {
  auto c = std::make_unique<Connection>(*this);
  Connection* raw = c.get();
  connections_.push_back(std::move(c));
  return raw->adopt(fd);
}

Client::Client(uv_loop_t* loop, UpstreamOptions options, std::shared_ptr<net::TlsContext> tls)
    : loop_(loop), options_(std::move(options)), tls_(std::move(tls)), alive_(std::make_shared<bool>(true)) {
  if (options_.maxConnections == 0) options_.maxConnections = 1;
  tick_ = new uv_timer_t;
  uv_timer_init(loop_, tick_);
  tick_->data = this;
  uv_timer_start(
      tick_, [](uv_timer_t* t) { static_cast<Client*>(t->data)->onTick(); }, kTickMs, kTickMs);
  uv_unref(reinterpret_cast<uv_handle_t*>(tick_));
  kick_ = new uv_idle_t;
  uv_idle_init(loop_, kick_);
  kick_->data = this;
  handlesOpen_ += 2;
}

Client::~Client() { *alive_ = false; }

void Client::send(Request&& request, ResponseCallback done) {
  auto p = std::make_unique<Pending>();
  p->req = std::move(request);
  p->done = std::move(done);
  if (closing_) {  // the one case answered from inside send(): nothing runs on this client any more
    Response r;
    r.error = "client closing";
    deliver(std::move(p), std::move(r));
    return;
  }
  queue_.push_back(std::move(p));
  scheduleDispatch();
}

void Client::scheduleDispatch() {
  if (kicked_ || !kick_) return;
  kicked_ = true;
  uv_idle_start(kick_, [](uv_idle_t* h) {
    auto* self = static_cast<Client*>(h->data);
    uv_idle_stop(h);
    self->kicked_ = false;
    self->dispatch();
  });
}

void Client::dispatch() {
  if (closing_) {
    auto q = std::move(queue_);
    queue_.clear();
    for (auto& p : q) {
      Response r;
      r.error = "client closing";
      deliver(std::move(p), std::move(r));
    }
    return;
  }
  // Fill free slots on ready connections, preferring the busiest h2 connection with room (keeps
  // streams multiplexed instead of opening connections).
  size_t qi = 0;
  while (qi < queue_.size()) {
    Connection* best = nullptr;
    for (auto& c : connections_) {
      if (c->freeSlots() == 0) continue;
      if (!best || c->inflight() > best->inflight()) best = c.get();
    }
    if (!best) break;
    best->submit(std::move(queue_[qi++]));
  }
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(qi));
  if (queue_.empty()) return;
  // Open connections for what is left: h2 needs one, HTTP/1.1 one per request, up to the limit.
  size_t pendingOpen = 0;
  size_t live = 0;
  for (auto& c : connections_) {
    if (c->closed()) continue;
    ++live;
    // An h2 connection still waiting for the server's SETTINGS is about to have room.
    if (c->state_ != Connection::State::Ready || (c->h2_ && !c->settingsReceived_)) ++pendingOpen;
  }
  size_t wanted = queue_.size() > pendingOpen ? queue_.size() - pendingOpen : 0;
  // One connection at a time while it is known or likely that the upstream speaks h2 (one
  // connection carries many streams), and while ALPN has not told yet.
  bool h2Likely = options_.http2 == Http2Mode::PriorKnowledge ||
                  (options_.http2 == Http2Mode::Auto && options_.tls && negotiated_ != Negotiated::Http1);
  if (h2Likely && pendingOpen > 0) wanted = 0;
  while (wanted-- > 0 && live < options_.maxConnections) {
    auto c = std::make_unique<Connection>(*this);
    Connection* raw = c.get();
    connections_.push_back(std::move(c));
    ++live;
    raw->start();
    if (h2Likely) break;
  }
}

void Client::connectionFailed(Connection* c, const std::string& why, bool everReady) {
  counters_.transportErrors.add();
  if (!everReady) {
    // Nothing could be sent: fail the queue so the engine backs off instead of waiting here.
    bool otherReady = false;
    for (auto& other : connections_)
      if (other.get() != c && other->ready()) otherReady = true;
    if (!otherReady) {
      auto q = std::move(queue_);
      queue_.clear();
      for (auto& p : q) {
        Response r;
        r.error = why;
        deliver(std::move(p), std::move(r));
      }
    }
  }
  FL_DEBUG("[http] %s:%u: %s", options_.host.c_str(), options_.port, why.c_str());
  scheduleDispatch();
}

void Client::connectionClosed(Connection* c) {
  auto it = std::find_if(connections_.begin(), connections_.end(), [c](const auto& p) { return p.get() == c; });
  if (it != connections_.end()) connections_.erase(it);
  if (--handlesOpen_ == 0 && closed_) {
    auto cb = std::move(closed_);
    closed_ = nullptr;
    cb();
    return;
  }
  if (!closing_) scheduleDispatch();
}

void Client::deliver(std::unique_ptr<Pending> p, Response&& r) {
  if (r.status == 0 && r.error.empty()) r.error = "no response";
  if (r.status != 0) counters_.responses.add();
  auto done = std::move(p->done);
  p.reset();
  if (done) done(std::move(r));
}

void Client::onTick() {
  uint64_t t = now();
  // Copy: a tick may close connections (their close callbacks run later, so pointers stay valid).
  std::vector<Connection*> conns;
  for (auto& c : connections_) conns.push_back(c.get());
  for (auto* c : conns) c->tick(t);
  if (!queue_.empty()) dispatch();
}

void Client::close(std::function<void()> closed) {
  closing_ = true;
  closed_ = std::move(closed);
  auto q = std::move(queue_);
  queue_.clear();
  for (auto& p : q) {
    Response r;
    r.error = "client closing";
    deliver(std::move(p), std::move(r));
  }
  std::vector<Connection*> conns;
  for (auto& c : connections_) conns.push_back(c.get());
  for (auto* c : conns) c->fail("client closing");
  auto closeOne = [this](uv_handle_t* h) {
    h->data = this;
    uv_close(h, [](uv_handle_t* x) {
      auto* self = static_cast<Client*>(x->data);
      if (x->type == UV_TIMER) delete reinterpret_cast<uv_timer_t*>(x);
      else delete reinterpret_cast<uv_idle_t*>(x);
      if (--self->handlesOpen_ == 0 && self->closed_) {
        auto cb = std::move(self->closed_);
        self->closed_ = nullptr;
        cb();
      }
    });
  };
  closeOne(reinterpret_cast<uv_handle_t*>(tick_));
  closeOne(reinterpret_cast<uv_handle_t*>(kick_));
  tick_ = nullptr;
  kick_ = nullptr;
}

}  // namespace firelane::http
