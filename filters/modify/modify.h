// The modify filter's registration: rules (Set, Add, Remove, Rename, Copy, ...) under conditions.
#pragma once

#include "core/plugin/registry.h"

namespace firelane::filters::modify {
void registerPlugin(Registry& registry);
}
