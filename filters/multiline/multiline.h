// The multiline filter's registration: joins Docker's split partial messages (mode partial_message)
// and multi-line stack traces per stream (multiline.parser: docker, cri, java, python, go, or a user
// [MULTILINE_PARSER]), with Fluent Bit's option names.
#pragma once

#include "core/plugin/registry.h"

namespace firelane::filters::multiline {
void registerPlugin(Registry& registry);
}
