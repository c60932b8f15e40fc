// The list of plugins compiled into firelane.
#pragma once

#include "core/plugin/registry.h"

namespace firelane {
// Registers every built-in input, filter and output.
void registerBuiltinPlugins(Registry& registry);
}
