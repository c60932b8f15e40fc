// The dummy input's registration.
#pragma once

#include "core/plugin/registry.h"

namespace firelane::inputs::dummy {
void registerPlugin(Registry& registry);
}
