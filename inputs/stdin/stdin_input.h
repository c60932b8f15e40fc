// The stdin input: reads the piped stdout of a program, one record {"log": line} per line.
#pragma once

#include "core/plugin/registry.h"

namespace firelane::inputs::stdin_input {

struct StdinConfig {
  std::string instance;
  std::string tag = "stdin";
  size_t bufferSize = 1 << 20;  // longest line; longer lines are split into pieces of this size
  std::string key = "log";
};

void registerPlugin(Registry& registry);

}  // namespace firelane::inputs::stdin_input
