// Typed options of the tcp input (Fluent Bit's in_tcp), its option table, factory and registration.
#pragma once

#include <cstddef>
#include <string>

#include "core/plugin/registry.h"

namespace firelane::inputs::tcp {

enum class Format { Json, None };

struct TcpConfig {
  std::string instance;
  std::string listen = "0.0.0.0";
  int port = 5170;
  Format format = Format::Json;
  std::string separator = "\n";  // Format none: record boundary
  std::string tag;               // every record's tag (default: the instance name, as Fluent Bit)
  size_t chunkSize = 32768;      // receive step of a connection
  size_t bufferSize = 32768;     // largest JSON object / line; bigger ones close the connection
};

void registerPlugin(Registry& registry);

}  // namespace firelane::inputs::tcp
