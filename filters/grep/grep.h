// The grep filter's registration: keeps or drops records by regular expressions on record fields.
#pragma once

#include "core/plugin/registry.h"

namespace firelane::filters::grep {
void registerPlugin(Registry& registry);
}
