// The record_modifier filter's registration: appends fixed fields, removes or allowlists keys.
#pragma once

#include "core/plugin/registry.h"

namespace firelane::filters::record_modifier {
void registerPlugin(Registry& registry);
}
