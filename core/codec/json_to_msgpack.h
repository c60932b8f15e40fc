// JSON text -> msgpack, for config-time values (dummy records, JSON formats of small inputs).
// Uses nlohmann::ordered_json so key order is kept. Not for the hot path.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/common/status.h"

namespace firelane::codec {

// Fails with the parser's message when `json` is not valid JSON.
Result<std::vector<uint8_t>> jsonToMsgpack(std::string_view json);

}  // namespace firelane::codec
