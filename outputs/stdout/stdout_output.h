// The stdout output's registration (json_lines, json or msgpack to standard output).
#pragma once

#include "core/plugin/registry.h"

namespace firelane::outputs::stdout_output {
void registerPlugin(Registry& registry);
}
