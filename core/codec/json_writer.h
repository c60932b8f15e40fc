// msgpack -> JSON encoding straight from the bytes (no DOM), with correct escaping of all UTF-8,
// control characters and invalid bytes. Used by stdout and every HTTP output.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/event/event_batch.h"

namespace firelane::codec {

// Appends `s` as a JSON string literal (with quotes). Control characters become \n, \t, ... or
// \u00XX; '"' and '\\' are escaped; invalid UTF-8 bytes become U+FFFD; valid UTF-8 passes as is.
void appendJsonString(std::string& out, std::string_view s);

// Appends the JSON of one msgpack value starting at `data` (must be valid msgpack, as validated by
// the decoders). Returns the number of msgpack bytes consumed.
size_t appendJsonValue(std::string& out, std::span<const uint8_t> data);

// Appends a record (a msgpack map) as a JSON object, followed by `extra`'s pairs if given.
// Non-string keys are written as strings of their JSON text. bin -> string of its bytes (escaped),
// ext -> null, float -> shortest round-trip text (NaN/Inf -> null).
void appendJsonObject(std::string& out, std::span<const uint8_t> record, const ExtraFields* extra = nullptr);

// Same as appendJsonObject, but emits `"<dateKey>":<date>` first when dateKey is not empty.
// `date` is already formatted JSON (number or string literal).
void appendJsonObjectWithDate(std::string& out, std::string_view dateKey, std::string_view date,
                              std::span<const uint8_t> record, const ExtraFields* extra = nullptr);

}  // namespace firelane::codec
