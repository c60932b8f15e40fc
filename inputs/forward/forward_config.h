// Typed options of the forward input, its option table, factory and registration.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/plugin/registry.h"
#include "core/proto/forward/decoder.h"
#include "inputs/forward/forward_session.h"

namespace firelane::inputs::forward {

struct ForwardConfig {
  std::string instance;
  std::string listen = "0.0.0.0";
  int port = 24224;
  std::string unixPath;
  int unixPerm = -1;  // -1: leave as created
  std::string tag;        // replaces incoming tags when set
  std::string tagPrefix;  // prepended to incoming tags
  size_t bufferChunkSize = 1024000;
  size_t bufferMaxSize = 6144000;
  proto::forward::Limits limits;
  SecurityConfig security;    // TLS and shared-key handshake
  size_t maxConnections = 0;  // 0 = unlimited; counted over all workers
  double idleTimeoutSec = 0;  // close connections silent this long (0 = never)
  bool udpHeartbeat = true;   // answer UDP heartbeats on the TCP port (worker 0's instance)
  bool ackAfterDelivered = false;  // ack_after delivered: ack once every output delivered the batch
  std::shared_ptr<std::atomic<size_t>> liveConnections = std::make_shared<std::atomic<size_t>>(0);
};

void registerPlugin(Registry& registry);

}  // namespace firelane::inputs::forward
