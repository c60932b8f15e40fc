// Forward output runtime: connections (TCP, optional TLS, optional HELO/PING/PONG), PackedForward
// writes, ack tracking with a timeout, node health marking and failover.
#include "outputs/forward/forward.h"

#include <algorithm>
#include <cstring>

#include "core/codec/base64.h"
#include "core/common/log.h"
#include "core/net/tls.h"
#include "core/proto/forward/handshake.h"
#include "core/proto/msgpack_cursor.h"
#include "outputs/forward/forward_encoder.h"

namespace firelane::outputs::forward {

namespace pf = proto::forward;
using Clock = std::chrono::steady_clock;

struct ForwardOutput::Job {
  std::string payload;
  std::vector<std::string> acks;  // chunk ids still unanswered
  FlushCompletion done;
  size_t events = 0;
  size_t start = 0;           // round-robin position of this flush
  std::vector<size_t> tried;  // nodes this flush attempt went to
  bool sent = false;          // the payload was handed to a socket: a failure now means retry
};

namespace {

struct Socket {
  uv_tcp_t tcp;
  ForwardOutput::Conn* conn = nullptr;  // null once the connection let go of it
  ForwardOutput* out = nullptr;
};

struct Resolve {
  uv_getaddrinfo_t req;
  ForwardOutput::Conn* conn = nullptr;
};

struct WriteReq {
  uv_write_t req;
  std::string data;
  Socket* sock = nullptr;
  bool completesJob = false;
};

}  // namespace

// One node's connection. Owns its socket and timer handles; the output owns it.
class ForwardOutput::Conn {
 public:
  Conn(ForwardOutput& out, size_t index, const NodeConfig& node) : out_(out), index_(index), node_(node) {
    timer_ = new uv_timer_t;
    uv_timer_init(out_.ctx().loop(), timer_);
    timer_->data = this;
    out_.handleOpened();
  }

  // Sends `job` now if connected, else once connected.
  void send(std::shared_ptr<Job> job) {
    job_ = std::move(job);
    if (state_ == State::Ready) {
      writeJob();
    } else if (state_ == State::Closed) {
      connect();
    }
  }

  // Closes everything; a pending job fails with retry.
  void shutdown() {
    closeSocket();
    if (timer_) {
      uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) {
        auto* c = static_cast<Conn*>(h->data);
        delete reinterpret_cast<uv_timer_t*>(h);
        c->out_.handleClosed();
      });
      timer_ = nullptr;
    }
    if (job_) {
      auto j = std::move(job_);
      j->sent = true;  // no failover while closing
      out_.jobFailed(index_, std::move(j), "output closing");
    }
  }

 private:
  enum class State { Closed, Resolving, Connecting, Tls, AwaitHelo, AwaitPong, Ready };

  const char* label() const { return node_.name.c_str(); }

  void startTimer(double seconds) {
    if (!timer_) return;
    uv_timer_start(
        timer_, [](uv_timer_t* t) { static_cast<Conn*>(t->data)->onTimeout(); },
        static_cast<uint64_t>(seconds * 1000), 0);
  }

  void onTimeout() {
    if (state_ != State::Ready) {
      fail("timed out connecting (connect_timeout)");
    } else if (job_ && !job_->acks.empty()) {
      fail("no ack within ack_response_timeout");
    }
  }

  void connect() {
    in_.clear();
    startTimer(out_.config().connectTimeoutSec);
    sockaddr_storage addr{};
    auto* a4 = reinterpret_cast<sockaddr_in*>(&addr);
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&addr);
    if (uv_ip4_addr(node_.host.c_str(), node_.port, a4) == 0 || uv_ip6_addr(node_.host.c_str(), node_.port, a6) == 0) {
      connectTo(reinterpret_cast<sockaddr*>(&addr));
      return;
    }
    state_ = State::Resolving;
    resolve_ = new Resolve;
    resolve_->conn = this;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    std::string port = std::to_string(node_.port);
    int rc = uv_getaddrinfo(
        out_.ctx().loop(), &resolve_->req,
        [](uv_getaddrinfo_t* req, int status, addrinfo* res) {
          auto* r = reinterpret_cast<Resolve*>(req);
          Conn* c = r->conn;
          delete r;
          if (!c) {
            uv_freeaddrinfo(res);
            return;
          }
          c->resolve_ = nullptr;
          if (status != 0 || !res) {
            uv_freeaddrinfo(res);
            c->fail(std::string("cannot resolve host: ") + uv_strerror(status));
            return;
          }
          sockaddr_storage ss{};
          std::memcpy(&ss, res->ai_addr, res->ai_addrlen);
          uv_freeaddrinfo(res);
          c->connectTo(reinterpret_cast<sockaddr*>(&ss));
        },
        node_.host.c_str(), port.c_str(), &hints);
    if (rc != 0) {
      delete resolve_;
      resolve_ = nullptr;
      fail(std::string("cannot resolve host: ") + uv_strerror(rc));
    }
  }

  void connectTo(const sockaddr* addr) {
    state_ = State::Connecting;
    sock_ = new Socket;
    sock_->conn = this;
    sock_->out = &out_;
    uv_tcp_init(out_.ctx().loop(), &sock_->tcp);
    sock_->tcp.data = sock_;
    out_.handleOpened();
    auto* req = new uv_connect_t;
    req->data = sock_;
    int rc = uv_tcp_connect(req, &sock_->tcp, addr, [](uv_connect_t* r, int status) {
      auto* s = static_cast<Socket*>(r->data);
      delete r;
      if (!s->conn) return;
      s->conn->onConnected(status);
    });
    if (rc != 0) {
      delete req;
      fail(std::string("connect: ") + uv_strerror(rc));
    }
  }

  void onConnected(int status) {
    if (status != 0) {
      fail(std::string("connect: ") + uv_strerror(status));
      return;
    }
    uv_tcp_nodelay(&sock_->tcp, 1);
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&sock_->tcp),
        [](uv_handle_t*, size_t, uv_buf_t* buf) {
          static thread_local char scratch[64 * 1024];
          buf->base = scratch;
          buf->len = sizeof(scratch);
        },
        [](uv_stream_t* st, ssize_t n, const uv_buf_t* buf) {
          auto* s = static_cast<Socket*>(st->data);
          if (!s->conn) return;
          s->conn->onRead(n, buf);
        });
    if (node_.tls) {
      state_ = State::Tls;
      tls_ = std::make_unique<net::TlsSession>(node_.tlsContext, node_.host);
      advanceTls();
    } else {
      afterTransport();
    }
  }

  void advanceTls() {
    auto st = tls_->handshake();
    flushTls();
    if (st == net::TlsSession::State::Failed) {
      fail(tls_->error());
    } else if (st == net::TlsSession::State::Ready && state_ == State::Tls) {
      afterTransport();
    }
  }

  void afterTransport() {
    if (!node_.sharedKey.empty()) {
      state_ = State::AwaitHelo;
      processPlain();  // the HELO may already be here
    } else {
      ready();
    }
  }

  void ready() {
    state_ = State::Ready;
    if (timer_) uv_timer_stop(timer_);
    FL_DEBUG("[output:forward:%s] connected to %s", out_.config().instance.c_str(), label());
    if (job_ && !job_->sent) writeJob();
  }

  void writeJob() {
    job_->sent = true;
    if (!job_->acks.empty()) startTimer(out_.config().ackTimeoutSec);
    write(job_->payload, job_->acks.empty());
  }

  void onRead(ssize_t n, const uv_buf_t* buf) {
    if (n == 0) return;
    if (n < 0) {
      if (job_ || state_ != State::Ready) {
        fail(n == UV_EOF ? "connection closed by the server" : std::string("read: ") + uv_strerror(static_cast<int>(n)));
      } else {
        closeSocket();  // idle connection closed by the server: reconnect on the next flush
      }
      return;
    }
    if (tls_) {
      tls_->feed({reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(n)});
      if (state_ == State::Tls) {
        advanceTls();
        if (state_ == State::Tls || !sock_) return;
      }
      if (!tls_->readPlain(in_)) {
        flushTls();
        fail(tls_->error());
        return;
      }
      flushTls();
    } else {
      in_.append(buf->base, static_cast<size_t>(n));
    }
    processPlain();
  }

  void processPlain() {
    while (!in_.empty() && sock_) {
      std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(in_.data()), in_.size());
      size_t used = 0;
      if (state_ == State::AwaitHelo) {
        pf::Helo helo;
        auto st = pf::parseHelo(bytes, helo, used);
        if (st == pf::ParseStatus::NeedMore) return;
        if (st == pf::ParseStatus::Invalid) return fail("expected HELO from the server");
        in_.erase(0, used);
        nonce_ = helo.nonce;
        pf::Ping ping;
        ping.hostname = node_.selfHostname;
        salt_ = codec::base64(pf::randomBytes(16));
        ping.sharedKeySalt = salt_;
        ping.sharedKeyDigest = pf::sharedKeyDigest(salt_, node_.selfHostname, nonce_, node_.sharedKey);
        ping.username = node_.username;
        ping.passwordDigest = helo.auth.empty() ? "" : pf::passwordDigest(helo.auth, node_.username, node_.password);
        std::vector<uint8_t> msg;
        pf::encodePing(ping, msg);
        state_ = State::AwaitPong;
        write(std::string(reinterpret_cast<const char*>(msg.data()), msg.size()), false);
      } else if (state_ == State::AwaitPong) {
        pf::Pong pong;
        auto st = pf::parsePong(bytes, pong, used);
        if (st == pf::ParseStatus::NeedMore) return;
        if (st == pf::ParseStatus::Invalid) return fail("expected PONG from the server");
        in_.erase(0, used);
        if (!pong.ok) return fail("authentication refused by the server: " + pong.reason);
        std::string expect = pf::sharedKeyDigest(salt_, pong.hostname, nonce_, node_.sharedKey);
        if (expect != pong.sharedKeyDigest) return fail("the server's PONG digest does not match the shared_key");
        ready();
      } else if (state_ == State::Ready) {
        proto::MsgpackCursor c(bytes);
        uint32_t pairs = 0;
        auto s = c.readMap(pairs);
        std::string_view ack;
        for (uint32_t i = 0; s == proto::MsgpackStatus::Ok && i < pairs; ++i) {
          std::string_view key;
          s = c.readStr(key);
          if (s != proto::MsgpackStatus::Ok) break;
          if (key == "ack") {
            std::span<const uint8_t> v;
            s = c.readStrOrBin(v);
            ack = std::string_view(reinterpret_cast<const char*>(v.data()), v.size());
          } else {
            s = c.skip();
          }
        }
        if (s == proto::MsgpackStatus::Incomplete) return;
        if (s != proto::MsgpackStatus::Ok) return fail("unexpected data from the server");
        in_.erase(0, c.offset());
        if (job_) {
          auto it = std::find(job_->acks.begin(), job_->acks.end(), ack);
          if (it != job_->acks.end()) job_->acks.erase(it);
          if (job_->acks.empty() && job_->sent) {
            if (timer_) uv_timer_stop(timer_);
            complete();
          }
        }
      } else {
        return;
      }
    }
  }

  void complete() {
    auto j = std::move(job_);
    out_.jobDone(index_, std::move(j));
  }

  // Sends plaintext (through TLS when on). `completes`: the job is done once this is written.
  void write(std::string data, bool completes) {
    if (!sock_) return;
    if (tls_) {
      if (!tls_->writePlain(data)) return fail(tls_->error());
      data = tls_->takeOutput();
    }
    auto* w = new WriteReq;
    w->data = std::move(data);
    w->sock = sock_;
    w->completesJob = completes;
    uv_buf_t b = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&sock_->tcp), &b, 1, [](uv_write_t* r, int status) {
      auto* w = reinterpret_cast<WriteReq*>(r);
      Conn* c = w->sock->conn;
      bool completes = w->completesJob;
      delete w;
      if (!c) return;
      if (status != 0) return c->fail(std::string("write: ") + uv_strerror(status));
      if (completes && c->job_) c->complete();
    });
    if (rc != 0) {
      delete w;
      fail(std::string("write: ") + uv_strerror(rc));
    }
  }

  void flushTls() {
    if (!tls_ || !sock_) return;
    std::string out = tls_->takeOutput();
    if (out.empty()) return;
    auto* w = new WriteReq;
    w->data = std::move(out);
    w->sock = sock_;
    uv_buf_t b = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&sock_->tcp), &b, 1, [](uv_write_t* r, int) {
          delete reinterpret_cast<WriteReq*>(r);
        }) != 0)
      delete w;
  }

  // By value: the reason may live in the TLS session that closeSocket() destroys.
  void fail(std::string reason) {
    closeSocket();
    if (timer_) uv_timer_stop(timer_);
    if (job_) {
      auto j = std::move(job_);
      out_.jobFailed(index_, std::move(j), reason);
    } else {
      FL_WARN("[output:forward:%s] %s: %s", out_.config().instance.c_str(), label(), reason.c_str());
    }
  }

  void closeSocket() {
    state_ = State::Closed;
    tls_.reset();
    in_.clear();
    if (resolve_) {
      resolve_->conn = nullptr;
      uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_->req));
      resolve_ = nullptr;
    }
    if (sock_) {
      sock_->conn = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(&sock_->tcp), [](uv_handle_t* h) {
        auto* s = static_cast<Socket*>(h->data);
        ForwardOutput* out = s->out;
        delete s;
        out->handleClosed();
      });
      sock_ = nullptr;
    }
  }

  ForwardOutput& out_;
  size_t index_;
  const NodeConfig& node_;
  State state_ = State::Closed;
  uv_timer_t* timer_ = nullptr;
  Socket* sock_ = nullptr;
  Resolve* resolve_ = nullptr;
  std::unique_ptr<net::TlsSession> tls_;
  std::string in_;  // plaintext received, not yet parsed
  std::string nonce_;
  std::string salt_;
  std::shared_ptr<Job> job_;
};

OutputPtr ForwardOutputFactory::create(unsigned) const { return std::make_unique<ForwardOutput>(config_); }

ForwardOutput::ForwardOutput(const ForwardOutputConfig& config) : config_(config) {}

ForwardOutput::~ForwardOutput() = default;

Status ForwardOutput::start(OutputContext& ctx) {
  ctx_ = &ctx;
  if (config_.gzip) {
    codec::CompressorOptions o;
    o.codec = codec::Codec::Gzip;
    auto c = codec::Compressor::create(o);
    if (!c) return Status::error(c.message());
    gzip_ = std::move(*c);
  }
  nodes_.resize(config_.nodes.size());
  for (size_t i = 0; i < nodes_.size(); ++i) nodes_[i].conn = std::make_unique<Conn>(*this, i, config_.nodes[i]);
  return {};
}

void ForwardOutput::flush(const FlushChunk& chunk, FlushCompletion done) {
  if (closing_) {
    done(FlushResult::retry("output closing"));
    return;
  }
  auto job = std::make_shared<Job>();
  EncodeOptions eo;
  eo.tag = config_.tag;
  eo.timeAsInteger = config_.timeAsInteger;
  eo.ack = config_.requireAck;
  eo.gzip = gzip_.get();
  if (!encodeChunk(chunk, eo, job->payload, job->acks)) {
    done(FlushResult::retry("compression failed"));
    return;
  }
  job->done = std::move(done);
  job->events = chunk.events;
  job->start = next_;
  next_ = (next_ + 1) % nodes_.size();
  dispatch(std::move(job));
}

int ForwardOutput::pickNode(const Job& job) {
  auto now = Clock::now();
  size_t n = nodes_.size();
  for (size_t k = 0; k < n; ++k) {
    size_t i = (job.start + k) % n;
    if (std::find(job.tried.begin(), job.tried.end(), i) != job.tried.end()) continue;
    if (nodes_[i].downUntil <= now) return static_cast<int>(i);
  }
  if (!job.tried.empty()) return -1;
  int best = -1;
  for (size_t i = 0; i < n; ++i)
    if (best < 0 || nodes_[i].downUntil < nodes_[static_cast<size_t>(best)].downUntil) best = static_cast<int>(i);
  return best;
}

void ForwardOutput::dispatch(std::shared_ptr<Job> job, const std::string& lastError) {
  int i = pickNode(*job);
  if (i < 0) {
    auto done = std::move(job->done);
    done(FlushResult::retry(lastError.empty() ? "no forward node reachable" : lastError));
    return;
  }
  job->tried.push_back(static_cast<size_t>(i));
  nodes_[static_cast<size_t>(i)].conn->send(std::move(job));
}

void ForwardOutput::jobFailed(size_t node, std::shared_ptr<Job> job, const std::string& reason) {
  NodeState& ns = nodes_[node];
  if (!closing_) {
    ns.failures = std::min(ns.failures + 1, 5);
    double secs = std::min(60.0, config_.nodeRetrySec * static_cast<double>(1 << (ns.failures - 1)));
    ns.downUntil = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(secs * 1000));
    ctx_->counters().reasons.add("node_failed");
    FL_WARN("[output:forward:%s] node %s failed: %s (skipped for %.1fs)", config_.instance.c_str(),
            config_.nodes[node].name.c_str(), reason.c_str(), secs);
  }
  if (!job->sent && !closing_) {
    dispatch(std::move(job), reason);  // nothing was written: fail over at once
    return;
  }
  auto done = std::move(job->done);
  done(FlushResult::retry(reason));
}

void ForwardOutput::jobDone(size_t node, std::shared_ptr<Job> job) {
  nodes_[node].failures = 0;
  nodes_[node].downUntil = {};
  auto done = std::move(job->done);
  done(FlushResult::ok());
}

void ForwardOutput::handleClosed() {
  --openHandles_;
  if (closing_ && openHandles_ == 0 && closed_) {
    auto cb = std::move(closed_);
    closed_ = nullptr;
    cb();
  }
}

void ForwardOutput::close(std::function<void()> closed) {
  closing_ = true;
  closed_ = std::move(closed);
  for (auto& n : nodes_)
    if (n.conn) n.conn->shutdown();
  if (openHandles_ == 0 && closed_) {
    auto cb = std::move(closed_);
    closed_ = nullptr;
    cb();
  }
}

}  // namespace firelane::outputs::forward
