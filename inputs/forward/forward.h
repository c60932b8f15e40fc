// The forward input's runtime on one worker: a listener plus connections that decode frames in
// place from refcounted receive slabs and answer acks once a batch is accepted.
#pragma once

#include <functional>
#include <memory>
#include <uv.h>
#include <vector>

#include "core/plugin/input.h"
#include "core/proto/forward/decoder.h"
#include "inputs/forward/forward_config.h"

namespace firelane::inputs::forward {

struct Listener {
  int fd = -1;  // listening socket handed over by the factory (owned by the input once started)
  bool isUnix = false;
  int udpFd = -1;  // heartbeat socket on the TCP port (one worker's instance only), owned like fd
};

class ForwardInput final : public Input {
 public:
  ForwardInput(const ForwardConfig& config, Listener listener);
  ~ForwardInput() override;

  Status start(InputContext& ctx) override;
  void pause() override;
  void resume() override;
  void stopAccepting() override;
  void close(std::function<void()> closed) override;
  bool idle() const override { return connections_.empty(); }

  struct Connection;

 private:
  static void onConnection(uv_stream_t* server, int status);
  Connection* newConnection();  // a handle on this loop, not yet connected
  void serve(Connection& c);    // an accepted connection: counted, admitted, read
  void acceptBacklog();         // shutdown: take what waits in the listen backlog (net::acceptBacklog)
  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  void decodeAvailable(Connection& c);
  void deferRead(Connection& c);
  void resumeDeferred();
  void fail(Connection& c, const char* reason, const char* detail);
  void closeConnection(Connection& c);
  void sendAcks(Connection& c, std::vector<uint8_t>&& acks);
  // ack_after delivered: the batch holding these chunks was delivered (or failed: no ack, the
  // client sends it again).
  void ackDelivered(uint64_t connection, std::vector<uint8_t>&& acks, bool failed);
  friend struct AckOnDelivery;
  void writeBytes(Connection& c, std::vector<uint8_t>&& bytes);
  // TLS / handshake connections (forward_session.h): `n` bytes were read into the slab's tail.
  void sessionRead(Connection& c, size_t n);
  bool admit(Connection& c);
  static void onIdleSweep(uv_timer_t* timer);
  // Fluentd's UDP heartbeat: every datagram on the port is answered with one 0x00 byte.
  static void onHeartbeat(uv_udp_t* udp, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr, unsigned flags);
  void connectionClosed(Connection* c);

  const ForwardConfig& config_;
  Listener listener_;
  proto::forward::Decoder decoder_;
  InputContext* ctx_ = nullptr;
  uv_stream_t* server_ = nullptr;  // uv_tcp_t or uv_pipe_t, heap: freed in the close callback
  uv_timer_t* idleTimer_ = nullptr;  // idle_timeout sweep, heap: freed in the close callback
  uv_udp_t* udp_ = nullptr;          // heartbeat socket, heap: freed in the close callback
  char udpBuf_[128];                 // heartbeats are read here and discarded
  std::vector<Connection*> connections_;
  std::vector<Connection*> deferred_;     // reads paused until coalesceTimer_ fires
  uv_timer_t* coalesceTimer_ = nullptr;  // heap: freed in uv_close's callback
  size_t slabBytes_ = 0;                  // sum of the connections' slab sizes (growth budget)
  std::vector<Event> scratch_;
  uint64_t nextSerial_ = 0;
  // Outlives this input if batches do: their ack watches find it through here (null once gone).
  std::shared_ptr<ForwardInput*> self_ = std::make_shared<ForwardInput*>(this);
  bool paused_ = false;
  size_t closing_ = 0;
  std::function<void()> closed_;
};

}  // namespace firelane::inputs::forward
