// tcp input runtime: accept, read, frame records, emit one batch per read.
#include "inputs/tcp/tcp.h"

#include <algorithm>
#include <ctime>
#include <string>
#include <unistd.h>

#include "core/common/log.h"
#include "core/net/listen_socket.h"
#include "inputs/tcp/tcp_framer.h"

namespace firelane::inputs::tcp {

struct TcpInput::Connection {
  uv_tcp_t tcp;
  TcpInput* owner = nullptr;
  StreamFramer framer;
  std::vector<char> rx;  // receive buffer of Chunk_Size bytes, handed to libuv
  bool reading = false;
  bool closing = false;
  std::string peer;
  explicit Connection(const TcpConfig& cfg) : framer(cfg), rx(cfg.chunkSize) {}
};

namespace {
int64_t nowNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string peerOf(uv_tcp_t* tcp) {
  sockaddr_storage ss{};
  int len = sizeof(ss);
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
  char host[64] = "";
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    uv_ip6_name(a, host, sizeof(host));
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  auto* a = reinterpret_cast<sockaddr_in*>(&ss);
  uv_ip4_name(a, host, sizeof(host));
  return std::string(host) + ":" + std::to_string(ntohs(a->sin_port));
}
}  // namespace

TcpInput::TcpInput(const TcpConfig& config, int fd) : config_(config), fd_(fd) {}

TcpInput::~TcpInput() {
  if (!server_ && fd_ >= 0) ::close(fd_);
}

Status TcpInput::start(InputContext& ctx) {
  ctx_ = &ctx;
  server_ = new uv_tcp_t;
  uv_tcp_init(ctx.loop(), server_);
  server_->data = this;
  int rc = uv_tcp_open(server_, fd_);
  fd_ = -1;  // the handle owns it now
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(server_), 1024, &TcpInput::onConnection);
  if (rc != 0) return Status::error(std::string("listen: ") + uv_strerror(rc));
  return {};
}

void TcpInput::onConnection(uv_stream_t* server, int status) {
  auto* self = static_cast<TcpInput*>(server->data);
  if (status < 0) {
    FL_WARN("[input:tcp:%s] accept: %s", self->config_.instance.c_str(), uv_strerror(status));
    return;
  }
  auto* c = self->newConnection();
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
    return;
  }
  self->serve(*c);
}

TcpInput::Connection* TcpInput::newConnection() {
  auto* c = new Connection(config_);
  c->owner = this;
  uv_tcp_init(ctx_->loop(), &c->tcp);
  c->tcp.data = c;
  return c;
}

void TcpInput::serve(Connection& c) {
  c.peer = peerOf(&c.tcp);
  connections_.push_back(&c);
  ctx_->counters().connections.add();
  if (!paused_) {
    c.reading = true;
    uv_read_start(reinterpret_cast<uv_stream_t*>(&c.tcp), &TcpInput::onAlloc, &TcpInput::onRead);
  }
}

void TcpInput::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(handle->data);
  buf->base = c->rx.data();
  buf->len = c->rx.size();
}

void TcpInput::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
  auto* c = static_cast<Connection*>(stream->data);
  TcpInput* self = c->owner;
  if (nread == 0) return;
  StreamFramer::Error err;
  bool eof = nread < 0;
  if (eof) {
    err = nread == UV_EOF ? c->framer.finish(self->out_, self->records_) : StreamFramer::Error::None;
  } else {
    err = c->framer.feed(std::string_view(c->rx.data(), static_cast<size_t>(nread)), self->out_, self->records_);
  }
  self->emitRecords();  // records before a bad one are kept
  if (err != StreamFramer::Error::None) {
    self->ctx_->counters().errors.add(errorName(err));
    FL_ERROR("[input:tcp:%s] closing connection from %s: %s", self->config_.instance.c_str(), c->peer.c_str(),
             errorName(err));
    self->closeConnection(*c);
  } else if (eof) {
    self->closeConnection(*c);
  }
}

void TcpInput::emitRecords() {
  if (records_.empty()) return;
  BufferPtr buf = makeBuffer(out_.size());
  buf->append(out_.data(), out_.size());
  EventBatch batch;
  batch.tag = config_.tag.empty() ? config_.instance : config_.tag;
  batch.events.reserve(records_.size());
  int64_t now = nowNs();
  for (const RecordSpan& r : records_) batch.add(now, buf->bytes().subspan(r.offset, r.size));
  batch.keep(buf);
  out_.clear();
  records_.clear();
  ctx_->emit(std::move(batch));
}

void TcpInput::closeConnection(Connection& c) {
  if (c.closing) return;
  c.closing = true;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&c.tcp));
  auto it = std::find(connections_.begin(), connections_.end(), &c);
  if (it != connections_.end()) connections_.erase(it);
  ctx_->counters().connections.sub();
  ++closing_;
  uv_close(reinterpret_cast<uv_handle_t*>(&c.tcp), [](uv_handle_t* h) {
    auto* conn = static_cast<Connection*>(h->data);
    TcpInput* self = conn->owner;
    delete conn;
    self->handleClosed();
  });
}

void TcpInput::handleClosed() {
  --closing_;
  if (closed_ && closing_ == 0) {
    auto cb = std::move(closed_);
    closed_ = nullptr;
    cb();
  }
}

void TcpInput::pause() {
  if (paused_) return;
  paused_ = true;
  for (auto* c : connections_) {
    if (c->reading) uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
    c->reading = false;
  }
}

void TcpInput::resume() {
  if (!paused_) return;
  paused_ = false;
  auto conns = connections_;  // a restarted read may close its connection re-entrantly
  for (auto* c : conns) {
    if (!c->reading && !c->closing) {
      c->reading = true;
      uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), &TcpInput::onAlloc, &TcpInput::onRead);
    }
  }
}

void TcpInput::stopAccepting() {
  if (!server_) return;
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(server_), &fd) == 0) {
    net::acceptBacklog(fd, [this](int cfd) {  // connections that already wrote (see net::acceptBacklog)
      Connection* c = newConnection();
      if (uv_tcp_open(&c->tcp, cfd) != 0) {
        ::close(cfd);
        uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
        return;
      }
      serve(*c);
    });
  }
  ++closing_;
  uv_close(reinterpret_cast<uv_handle_t*>(server_), [](uv_handle_t* h) {
    auto* self = static_cast<TcpInput*>(h->data);
    delete reinterpret_cast<uv_tcp_t*>(h);
    self->handleClosed();
  });
  server_ = nullptr;
}

void TcpInput::close(std::function<void()> closed) {
  stopAccepting();
  auto conns = connections_;
  for (auto* c : conns) closeConnection(*c);
  if (closing_ == 0) {
    closed();
    return;
  }
  closed_ = std::move(closed);
}

}  // namespace firelane::inputs::tcp
