// The null output's registration: discards records (counts them as delivered).
#pragma once

#include "core/plugin/registry.h"

namespace firelane::outputs::null_output {
void registerPlugin(Registry& registry);
}
