// The parser filter's registration: parses one text field of each record with [PARSER] definitions
// (regex, json, logfmt) and replaces the record with the parsed fields (Fluent Bit's filter_parser).
#pragma once

#include "core/plugin/registry.h"

namespace firelane::filters::parser {
void registerPlugin(Registry& registry);
}
