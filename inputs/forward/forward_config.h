// Typed options of the forward input, its option table, factory and registration.
#pragma once

#include <string>
#include <vector>

#include "core/plugin/registry.h"
#include "core/proto/forward/decoder.h"

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
};

void registerPlugin(Registry& registry);

}  // namespace firelane::inputs::forward
