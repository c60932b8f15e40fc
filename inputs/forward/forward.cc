// Forward input runtime: accept, read into slabs, decode in place, emit batches, send acks.
#include "inputs/forward/forward.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

#include "core/common/log.h"
#include "core/net/listen_socket.h"

namespace firelane::inputs::forward {

using proto::forward::DecodedFrame;
using proto::forward::DecodeError;
using proto::forward::DecodeStatus;

namespace {
constexpr size_t kMinRead = 16 * 1024;
// Read coalescing: a client that writes one small frame at a time (Docker's Message mode) would
// otherwise cost one loop wake-up, one read() and one batch per event. After a small read on a
// connection that was read within the last millisecond, that connection is not read again until
// the next coalescing tick, so the kernel gathers its frames and one read takes them all. The
// added latency (<= ~2 ms) is far below the Flush interval.
constexpr size_t kSmallRead = 16 * 1024;
constexpr uint64_t kCoalesceMs = 1;
// A connection's first slab is small and doubles (up to buffer_chunk_size) each time a read fills
// all the room it was given: many slow connections (one per container) then hold 64 KiB each
// instead of a megabyte, while a busy connection still reads in large slabs.
constexpr size_t kInitialSlab = 64 * 1024;
// Slabs grow only while the connections' slabs on this worker add up to less than this, so many
// busy connections cannot each pin a full buffer_chunk_size (peak RSS under overload).
constexpr size_t kSlabGrowthBudget = 8u << 20;
}

struct ForwardInput::Connection {
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } h;
  ForwardInput* owner = nullptr;
  BufferPtr slab;
  size_t start = 0;   // first undecoded byte in slab
  size_t needed = 0;  // decoder's hint: bytes the current frame needs in all
  bool reading = false;
  bool closing = false;
  bool deferred = false;    // read paused until the next coalescing tick
  uint64_t lastReadMs = 0;  // loop time of the last read
  size_t slabSize = 0;      // capacity of the next fresh slab (grows while reads fill it)
  size_t offered = 0;       // room given to the last read
  std::string peer;
  std::unique_ptr<ServerSession> session;  // TLS and/or handshake; null on plain connections
  uint64_t lastActive = 0;                 // uv_now of the last read, for idle_timeout
  uint64_t serial = 0;                     // names the connection for acks sent after delivery

  size_t pending() const { return slab ? slab->size() - start : 0; }
};

ForwardInput::ForwardInput(const ForwardConfig& config, Listener listener)
    : config_(config), listener_(listener), decoder_(config.limits) {}

// ack_after delivered: rides along with a batch; when the last copy of the batch goes away, the
// chunk ids are answered on the connection they came from (if it is still open).
struct AckOnDelivery final : DeliveryWatch {
  std::weak_ptr<ForwardInput*> input;
  uint64_t connection = 0;
  std::vector<uint8_t> acks;
  ~AckOnDelivery() override {
    auto in = input.lock();
    if (in && *in) (*in)->ackDelivered(connection, std::move(acks), failed);
  }
};

ForwardInput::~ForwardInput() {
  *self_ = nullptr;
  if (!server_ && listener_.fd >= 0) ::close(listener_.fd);
  if (!udp_ && listener_.udpFd >= 0) ::close(listener_.udpFd);
}

Status ForwardInput::start(InputContext& ctx) {
  ctx_ = &ctx;
  int rc;
  if (listener_.isUnix) {
    auto* p = new uv_pipe_t;
    uv_pipe_init(ctx.loop(), p, 0);
    rc = uv_pipe_open(p, listener_.fd);
    server_ = reinterpret_cast<uv_stream_t*>(p);
  } else {
    auto* t = new uv_tcp_t;
    uv_tcp_init(ctx.loop(), t);
    rc = uv_tcp_open(t, listener_.fd);
    server_ = reinterpret_cast<uv_stream_t*>(t);
  }
  server_->data = this;
  if (rc == 0) rc = uv_listen(server_, 1024, &ForwardInput::onConnection);
  if (rc != 0) return Status::error(std::string("listen: ") + uv_strerror(rc));
  if (listener_.udpFd >= 0) {
    udp_ = new uv_udp_t;
    uv_udp_init(ctx.loop(), udp_);
    udp_->data = this;
    rc = uv_udp_open(udp_, listener_.udpFd);
    if (rc == 0)
      rc = uv_udp_recv_start(
          udp_,
          [](uv_handle_t* h, size_t, uv_buf_t* buf) {
            auto* self = static_cast<ForwardInput*>(h->data);
            *buf = uv_buf_init(self->udpBuf_, sizeof(self->udpBuf_));
          },
          &ForwardInput::onHeartbeat);
    if (rc != 0) return Status::error(std::string("udp heartbeat: ") + uv_strerror(rc));
  }
  if (config_.idleTimeoutSec > 0) {
    idleTimer_ = new uv_timer_t;
    uv_timer_init(ctx.loop(), idleTimer_);
    idleTimer_->data = this;
    uint64_t every = std::clamp<uint64_t>(static_cast<uint64_t>(config_.idleTimeoutSec * 250), 50, 1000);
    uv_timer_start(idleTimer_, &ForwardInput::onIdleSweep, every, every);
  }
  return {};
}

void ForwardInput::onConnection(uv_stream_t* server, int status) {
  auto* self = static_cast<ForwardInput*>(server->data);
  if (status < 0) {
    FL_WARN("[input:forward:%s] accept: %s", self->config_.instance.c_str(), uv_strerror(status));
    return;
  }
  auto* c = self->newConnection();
  if (uv_accept(server, &c->h.stream) != 0) {
    uv_close(&c->h.handle, [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
    return;  // another worker's loop took it
  }
  self->serve(*c);
}

ForwardInput::Connection* ForwardInput::newConnection() {
  auto* c = new Connection;
  c->owner = this;
  if (listener_.isUnix) {
    uv_pipe_init(ctx_->loop(), &c->h.pipe, 0);
  } else {
    uv_tcp_init(ctx_->loop(), &c->h.tcp);
  }
  c->h.handle.data = c;
  return c;
}

void ForwardInput::serve(Connection& conn) {
  Connection* c = &conn;
  if (!listener_.isUnix) {
    uv_tcp_nodelay(&c->h.tcp, 1);
    sockaddr_storage ss{};
    int len = sizeof(ss);
    if (uv_tcp_getpeername(&c->h.tcp, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      char host[64] = "";
      if (ss.ss_family == AF_INET) {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        uv_ip4_name(a, host, sizeof(host));
        c->peer = std::string(host) + ":" + std::to_string(ntohs(a->sin_port));
      } else if (ss.ss_family == AF_INET6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        uv_ip6_name(a, host, sizeof(host));
        c->peer = "[" + std::string(host) + "]:" + std::to_string(ntohs(a->sin6_port));
      }
    }
  } else {
    c->peer = "unix";
  }
  c->serial = ++nextSerial_;
  connections_.push_back(c);
  ctx_->counters().connections.add();
  if (!admit(*c)) return;
  if (!paused_) {
    uv_read_start(&c->h.stream, &ForwardInput::onAlloc, &ForwardInput::onRead);
    c->reading = true;
  }
}

void ForwardInput::acceptBacklog() {
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(server_), &fd) != 0) return;
  net::acceptBacklog(fd, [this](int cfd) {
    Connection* c = newConnection();
    int rc = listener_.isUnix ? uv_pipe_open(&c->h.pipe, cfd) : uv_tcp_open(&c->h.tcp, cfd);
    if (rc != 0) {
      ::close(cfd);
      uv_close(&c->h.handle, [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
      return;
    }
    serve(*c);
  });
}

void ForwardInput::onHeartbeat(uv_udp_t* udp, ssize_t nread, const uv_buf_t*, const sockaddr* addr, unsigned) {
  // nread 0 with no address: nothing more to read now. A datagram larger than the buffer arrives
  // truncated (UV_UDP_PARTIAL) and is answered like any other.
  if (nread < 0 || !addr) return;
  static const char kPong[1] = {0};
  uv_buf_t b = uv_buf_init(const_cast<char*>(kPong), 1);
  // Best effort, like Fluentd: a full send buffer drops the answer and the client asks again.
  int rc = uv_udp_try_send(udp, &b, 1, addr);
  if (rc < 0) {
    auto* self = static_cast<ForwardInput*>(udp->data);
    FL_DEBUG("[input:forward:%s] heartbeat answer not sent: %s", self->config_.instance.c_str(), uv_strerror(rc));
  }
}

void ForwardInput::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(handle->data);
  const ForwardConfig& cfg = c->owner->config_;
  size_t pending = c->pending();
  size_t want = std::max(kMinRead, c->needed > pending ? c->needed - pending : 0);
  if (c->slab && c->slab.use_count() == 1) {
    // Nobody references the slab any more: reuse it in place.
    if (c->slab->available() < want) {
      c->slab->compact(c->start);
      c->start = 0;
    }
  }
  if (!c->slab || c->slab->available() < want) {
    if (c->slabSize == 0) {
      c->slabSize = std::min(kInitialSlab, cfg.bufferChunkSize);
      c->owner->slabBytes_ += c->slabSize;
    }
    size_t cap = std::max(c->slabSize, pending + want);
    cap = std::min(cap, std::max(cfg.bufferMaxSize + kMinRead, pending + kMinRead));
    BufferPtr fresh = makeBuffer(cap);
    if (pending) fresh->append(c->slab->data() + c->start, pending);
    c->slab = std::move(fresh);
    c->start = 0;
  }
  auto tail = c->slab->tail();
  buf->base = reinterpret_cast<char*>(tail.data());
  buf->len = tail.size();
  c->offered = tail.size();
}

void ForwardInput::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
  auto* c = static_cast<Connection*>(stream->data);
  ForwardInput* self = c->owner;
  if (nread == 0) return;
  if (nread < 0) {
    if (nread == UV_EOF && c->pending() > 0) {
      self->fail(*c, "truncated_frame", "connection closed in the middle of a frame");
    } else if (nread != UV_EOF) {
      FL_DEBUG("[input:forward:%s] %s: read error: %s", self->config_.instance.c_str(), c->peer.c_str(),
               uv_strerror(static_cast<int>(nread)));
      self->closeConnection(*c);
    } else {
      self->closeConnection(*c);
    }
    return;
  }
  c->lastActive = uv_now(stream->loop);
  if (c->session) return self->sessionRead(*c, static_cast<size_t>(nread));
  c->slab->commit(static_cast<size_t>(nread));
  if (static_cast<size_t>(nread) == c->offered && c->slabSize < self->config_.bufferChunkSize &&
      self->slabBytes_ + c->slabSize <= kSlabGrowthBudget) {
    size_t grown = std::min(c->slabSize * 2, self->config_.bufferChunkSize);
    self->slabBytes_ += grown - c->slabSize;
    c->slabSize = grown;
  }
  self->decodeAvailable(*c);
  if (c->closing) return;
  uint64_t now = uv_now(stream->loop);
  bool busy = now - c->lastReadMs <= kCoalesceMs;
  c->lastReadMs = now;
  if (busy && static_cast<size_t>(nread) < kSmallRead && c->reading) self->deferRead(*c);
}

void ForwardInput::deferRead(Connection& c) {
  if (!coalesceTimer_) {
    coalesceTimer_ = new uv_timer_t;
    uv_timer_init(ctx_->loop(), coalesceTimer_);
    coalesceTimer_->data = this;
  }
  uv_read_stop(&c.h.stream);
  c.reading = false;
  c.deferred = true;
  deferred_.push_back(&c);
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(coalesceTimer_))) {
    uv_timer_start(
        coalesceTimer_, [](uv_timer_t* t) { static_cast<ForwardInput*>(t->data)->resumeDeferred(); }, kCoalesceMs,
        0);
  }
}

void ForwardInput::resumeDeferred() {
  auto conns = std::move(deferred_);
  deferred_.clear();
  for (auto* c : conns) {
    c->deferred = false;
    // While paused, resume() restarts it; a closing connection is gone from connections_.
    if (paused_ || c->closing || c->reading) continue;
    c->reading = true;
    uv_read_start(&c->h.stream, &ForwardInput::onAlloc, &ForwardInput::onRead);
  }
}

void ForwardInput::decodeAvailable(Connection& c) {
  EventBatch batch;
  std::vector<uint8_t> acks;       // answered after this read
  std::vector<uint8_t> batchAcks;  // chunk ids of the frames in `batch`
  BufferRef slab = c.slab;
  auto emitBatch = [&] {
    if (batch.events.empty() || batchAcks.empty()) {
      if (!batch.events.empty()) ctx_->emit(std::move(batch));
      acks.insert(acks.end(), batchAcks.begin(), batchAcks.end());
    } else if (config_.ackAfterDelivered) {
      auto watch = std::make_shared<AckOnDelivery>();
      watch->input = self_;
      watch->connection = c.serial;
      watch->acks = std::move(batchAcks);
      batch.watch = std::move(watch);
      ctx_->emit(std::move(batch));
    } else if (ctx_->emit(std::move(batch))) {
      acks.insert(acks.end(), batchAcks.begin(), batchAcks.end());
    } else {
      // Not stored (the spool refused it): no ack, so the client sends these chunks again.
      ctx_->counters().errors.add("ack_withheld");
    }
    batchAcks.clear();
    batch = EventBatch();
  };
  while (c.start < slab->size()) {
    std::span<const uint8_t> input = slab->bytes().subspan(c.start);
    if (c.needed && input.size() < c.needed) break;
    DecodedFrame frame;
    DecodeError err = DecodeError::None;
    scratch_.clear();
    DecodeStatus st = decoder_.next(input, frame, scratch_, err);
    if (st == DecodeStatus::NeedMore) {
      c.needed = frame.needed;
      if (input.size() > config_.bufferMaxSize) {
        emitBatch();
        sendAcks(c, std::move(acks));
        fail(c, "frame_too_large", "frame larger than buffer_max_size");
        return;
      }
      break;
    }
    if (st == DecodeStatus::Error) {
      emitBatch();  // what was decoded before the bad frame is kept
      sendAcks(c, std::move(acks));
      fail(c, proto::forward::errorName(err), "invalid frame");
      return;
    }
    c.needed = 0;
    c.start += frame.consumed;
    if (frame.mode == proto::forward::Mode::Heartbeat) continue;
    std::string_view incoming = frame.tag;
    if (!batch.events.empty()) {
      bool same = config_.tag.empty() ? (batch.tag.size() == config_.tagPrefix.size() + incoming.size() &&
                                         std::string_view(batch.tag).substr(config_.tagPrefix.size()) == incoming)
                                      : true;
      if (!same) emitBatch();
    }
    if (batch.events.empty()) {
      if (!config_.tag.empty()) {
        batch.tag = config_.tag;
      } else {
        batch.tag.reserve(config_.tagPrefix.size() + incoming.size());
        batch.tag.assign(config_.tagPrefix).append(incoming);
      }
    }
    for (const Event& e : scratch_) {
      batch.events.push_back(e);
      batch.bytes += e.record.size();
    }
    batch.keep(frame.decompressed ? frame.decompressed : slab);
    if (!frame.chunkRaw.empty()) proto::forward::encodeAck(frame.chunkRaw, batchAcks);
  }
  emitBatch();
  if (!acks.empty()) sendAcks(c, std::move(acks));
}

void ForwardInput::ackDelivered(uint64_t connection, std::vector<uint8_t>&& acks, bool failed) {
  if (failed) {
    ctx_->counters().errors.add("ack_withheld");
    return;
  }
  for (Connection* c : connections_) {
    if (c->serial == connection) return sendAcks(*c, std::move(acks));
  }
}

void ForwardInput::sendAcks(Connection& c, std::vector<uint8_t>&& acks) {
  if (acks.empty() || c.closing) return;
  if (c.session) {
    std::string wire;
    if (!c.session->wrap(acks, wire)) return;
    acks.assign(wire.begin(), wire.end());
  }
  writeBytes(c, std::move(acks));
}

void ForwardInput::writeBytes(Connection& c, std::vector<uint8_t>&& acks) {
  if (acks.empty() || c.closing) return;
  uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(acks.data()), static_cast<unsigned>(acks.size()));
  int n = uv_try_write(&c.h.stream, &b, 1);
  size_t sent = n > 0 ? static_cast<size_t>(n) : 0;
  if (n < 0 && n != UV_EAGAIN) return;  // the read side will see the error and close
  if (sent == acks.size()) return;
  struct WriteReq {
    uv_write_t req;
    std::vector<uint8_t> data;
  };
  auto* w = new WriteReq;
  w->data.assign(acks.begin() + static_cast<std::ptrdiff_t>(sent), acks.end());
  uv_buf_t rest = uv_buf_init(reinterpret_cast<char*>(w->data.data()), static_cast<unsigned>(w->data.size()));
  if (uv_write(&w->req, &c.h.stream, &rest, 1, [](uv_write_t* r, int) { delete reinterpret_cast<WriteReq*>(r); }) != 0)
    delete w;
}

void ForwardInput::fail(Connection& c, const char* reason, const char* detail) {
  ctx_->counters().errors.add(reason);
  FL_ERROR("[input:forward:%s] closing connection from %s: %s (%s)", config_.instance.c_str(), c.peer.c_str(), reason,
           detail);
  closeConnection(c);
}

void ForwardInput::closeConnection(Connection& c) {
  if (c.closing) return;
  c.closing = true;
  uv_read_stop(&c.h.stream);
  auto it = std::find(connections_.begin(), connections_.end(), &c);
  if (it != connections_.end()) connections_.erase(it);
  slabBytes_ -= std::min(slabBytes_, c.slabSize);
  if (c.deferred) {
    c.deferred = false;
    deferred_.erase(std::find(deferred_.begin(), deferred_.end(), &c));
  }
  ctx_->counters().connections.sub();
  config_.liveConnections->fetch_sub(1);
  ++closing_;
  uv_close(&c.h.handle, [](uv_handle_t* h) {
    auto* conn = static_cast<Connection*>(h->data);
    ForwardInput* self = conn->owner;
    delete conn;
    self->connectionClosed(nullptr);
  });
}

void ForwardInput::connectionClosed(Connection*) {
  --closing_;
  if (closed_ && closing_ == 0) {
    auto cb = std::move(closed_);
    closed_ = nullptr;
    cb();
  }
}

void ForwardInput::pause() {
  if (paused_) return;
  paused_ = true;
  for (auto* c : connections_) {
    if (c->reading) uv_read_stop(&c->h.stream);
    c->reading = false;
  }
}

void ForwardInput::resume() {
  if (!paused_) return;
  paused_ = false;
  // Restarting reads may close connections (EOF) re-entrantly: iterate over a copy.
  auto conns = connections_;
  for (auto* c : conns) {
    if (!c->reading && !c->closing) {
      c->reading = true;
      c->lastActive = uv_now(ctx_->loop());
      uv_read_start(&c->h.stream, &ForwardInput::onAlloc, &ForwardInput::onRead);
    }
  }
}

void ForwardInput::stopAccepting() {
  if (!server_) return;
  acceptBacklog();
  ++closing_;
  uv_close(reinterpret_cast<uv_handle_t*>(server_), [](uv_handle_t* h) {
    auto* self = static_cast<ForwardInput*>(h->data);
    if (self->listener_.isUnix)
      delete reinterpret_cast<uv_pipe_t*>(h);
    else
      delete reinterpret_cast<uv_tcp_t*>(h);
    self->connectionClosed(nullptr);
  });
  server_ = nullptr;
  listener_.fd = -1;  // owned and closed by the uv handle now
  // A node that stops accepting stops answering heartbeats too, so clients fail over.
  if (udp_) {
    ++closing_;
    uv_close(reinterpret_cast<uv_handle_t*>(udp_), [](uv_handle_t* h) {
      auto* self = static_cast<ForwardInput*>(h->data);
      delete reinterpret_cast<uv_udp_t*>(h);
      self->connectionClosed(nullptr);
    });
    udp_ = nullptr;
    listener_.udpFd = -1;
  }
}

void ForwardInput::close(std::function<void()> closed) {
  stopAccepting();
  for (uv_timer_t** timer : {&idleTimer_, &coalesceTimer_}) {
    if (!*timer) continue;
    ++closing_;
    uv_close(reinterpret_cast<uv_handle_t*>(*timer), [](uv_handle_t* h) {
      auto* self = static_cast<ForwardInput*>(h->data);
      delete reinterpret_cast<uv_timer_t*>(h);
      self->connectionClosed(nullptr);
    });
    *timer = nullptr;
  }
  auto conns = connections_;
  for (auto* c : conns) closeConnection(*c);
  if (closing_ == 0) {
    closed();
    return;
  }
  closed_ = std::move(closed);
}

// Admission and security set-up of a new connection: max_connections, then TLS / HELO.
bool ForwardInput::admit(Connection& c) {
  c.lastActive = uv_now(ctx_->loop());
  size_t live = config_.liveConnections->fetch_add(1) + 1;
  if (config_.maxConnections && live > config_.maxConnections) {
    ctx_->counters().errors.add("max_connections");
    FL_WARN("[input:forward:%s] refusing connection from %s: max_connections (%zu) reached", config_.instance.c_str(),
            c.peer.c_str(), config_.maxConnections);
    closeConnection(c);
    return false;
  }
  if (config_.security.enabled()) {
    c.session = std::make_unique<ServerSession>(config_.security);
    c.session->start();
    std::string out = c.session->takeOutput();
    writeBytes(c, std::vector<uint8_t>(out.begin(), out.end()));
  }
  return true;
}

void ForwardInput::sessionRead(Connection& c, size_t n) {
  // The bytes were read into the slab's free tail; the session copies them before plaintext
  // overwrites that space.
  std::span<const uint8_t> raw(c.slab->tail().data(), n);
  std::string plain;
  ServerSession::Result r = c.session->onData(raw, plain);
  std::string out = c.session->takeOutput();
  if (!out.empty()) writeBytes(c, std::vector<uint8_t>(out.begin(), out.end()));
  if (!plain.empty()) {
    size_t pending = c.pending();
    if (c.slab->available() < plain.size()) {
      BufferPtr fresh = makeBuffer(std::max(config_.bufferChunkSize, pending + plain.size() + kMinRead));
      if (pending) fresh->append(c.slab->data() + c.start, pending);
      c.slab = std::move(fresh);
      c.start = 0;
    }
    c.slab->append(plain.data(), plain.size());
    decodeAvailable(c);
  }
  if (r == ServerSession::Result::Close && !c.closing) {
    if (*c.session->errorKind()) {
      fail(c, c.session->errorKind(), c.session->error().c_str());
    } else {
      closeConnection(c);
    }
  }
}

void ForwardInput::onIdleSweep(uv_timer_t* timer) {
  auto* self = static_cast<ForwardInput*>(timer->data);
  uint64_t now = uv_now(timer->loop);
  uint64_t limit = static_cast<uint64_t>(self->config_.idleTimeoutSec * 1000);
  auto conns = self->connections_;
  for (auto* c : conns) {
    // A paused connection is silent because of us, not the client.
    if (c->reading && !c->closing && now - c->lastActive >= limit)
      self->fail(*c, "idle_timeout", "no data within idle_timeout");
  }
}

}  // namespace firelane::inputs::forward
