// The tcp input's runtime on one worker: a listener (its own SO_REUSEPORT socket) and connections
// whose byte streams a StreamFramer turns into records.
#pragma once

#include <functional>
#include <uv.h>
#include <vector>

#include "core/plugin/input.h"
#include "inputs/tcp/tcp_config.h"
#include "inputs/tcp/tcp_framer.h"

namespace firelane::inputs::tcp {

class TcpInput final : public Input {
 public:
  // Takes ownership of the listening socket `fd`.
  TcpInput(const TcpConfig& config, int fd);
  ~TcpInput() override;

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
  void serve(Connection& c);    // an accepted connection: counted and read
  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  void emitRecords();
  void closeConnection(Connection& c);
  void handleClosed();

  const TcpConfig& config_;
  int fd_;
  InputContext* ctx_ = nullptr;
  uv_tcp_t* server_ = nullptr;  // heap: freed in its close callback
  std::vector<Connection*> connections_;
  std::vector<uint8_t> out_;  // records framed by the current read, before they go to a buffer
  std::vector<RecordSpan> records_;
  bool paused_ = false;
  size_t closing_ = 0;
  std::function<void()> closed_;
};

}  // namespace firelane::inputs::tcp
