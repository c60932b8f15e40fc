// The rewrite_tag filter's registration: re-emits records under a new tag chosen by rules.
#pragma once

#include "core/plugin/registry.h"

namespace firelane::filters::rewrite_tag {
void registerPlugin(Registry& registry);
}
