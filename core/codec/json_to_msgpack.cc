// JSON -> msgpack via nlohmann::json.
#include "core/codec/json_to_msgpack.h"

#include <nlohmann/json.hpp>

namespace firelane::codec {

Result<std::vector<uint8_t>> jsonToMsgpack(std::string_view json) {
  auto doc = nlohmann::ordered_json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::error("invalid JSON");
  return nlohmann::ordered_json::to_msgpack(doc);
}

}  // namespace firelane::codec
