// msgpack -> JSON encoding straight from the bytes (no DOM), with correct escaping of all UTF-8,
// control characters and invalid bytes. Used by stdout and every HTTP output.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/event/event_batch.h"

namespace firelane::codec {

// All functions append to `out` (existing content is kept), throw nothing but std::bad_alloc and
// keep no state, so workers may call them concurrently on their own strings.

// Appends `s` as a JSON string literal (with quotes). Control characters become \b \f \n \r \t or
// \u00XX (lowercase hex); '"' and '\\' are escaped; '/' and 0x7f pass as is. Well-formed UTF-8
// passes as is; every byte that does not start a complete well-formed sequence (stray
// continuation, overlong, surrogate, above U+10FFFF, truncated) becomes one `\ufffd` escape and
// decoding resumes at the next byte, so "\xE2\x82A" -> "\ufffd\ufffdA".
void appendJsonString(std::string& out, std::string_view s);

// Appends the JSON of one msgpack value starting at `data` (must be valid msgpack, as validated by
// the decoders). Returns the number of msgpack bytes consumed. Never reads past `data`: a value cut
// short is written as null (containers are closed) and everything up to the end counts as consumed.
// Containers nested deeper than 256 levels are written as null.
size_t appendJsonValue(std::string& out, std::span<const uint8_t> data);

// Appends a record (a msgpack map) as a JSON object, followed by `extra`'s pairs if given.
// Non-string keys are written as strings of their JSON text (5 -> "5"). bin -> string of its bytes
// (escaped as above), ext (including timestamps) -> null, float -> shortest round-trip text with
// ".0" added to integral values so typed consumers still see a float, as Fluent Bit does
// (1.0 -> 1.0 not 1, 0.1 -> 0.1, 1e300 -> 1e+300, -0.0 -> -0.0; NaN/Inf -> null). A record that is not a map is written as {}.
void appendJsonObject(std::string& out, std::span<const uint8_t> record,
                      const ExtraFields* extra = nullptr);

// Same as appendJsonObject, but emits `"<dateKey>":<date>` first when dateKey is not empty.
// `date` is already formatted JSON (number or string literal).
void appendJsonObjectWithDate(std::string& out, std::string_view dateKey, std::string_view date,
                              std::span<const uint8_t> record, const ExtraFields* extra = nullptr);

}  // namespace firelane::codec
