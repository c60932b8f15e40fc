// A streaming JSON -> msgpack converter for the hot path (the parser filter's json format): no DOM,
// strings unescaped straight into the output, containers get the smallest msgpack header.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace firelane::parser {

// One top-level member of a JSON object, as offsets into the output vector.
struct JsonMember {
  size_t keyOff = 0;    // the key's text (unescaped) inside `out`
  size_t keyLen = 0;
  size_t valueOff = 0;  // the value's msgpack bytes inside `out`
  size_t valueLen = 0;
};

// Converts the JSON object `text` (blanks around it allowed): each member's key is written as a msgpack
// str and its value as msgpack, appended to `out`; `members` lists them in order. Integers that fit
// int64/uint64 become msgpack ints, other numbers float64. Invalid UTF-8 inside strings is copied as is.
// False (out and members left in an unspecified state) when `text` is not exactly one JSON object or
// nests deeper than 64 levels.
bool jsonObjectToMsgpack(std::string_view text, std::vector<uint8_t>& out, std::vector<JsonMember>& members);

// Unescapes JSON-style escapes (\n \t \" \\ \/ \b \f \r \uXXXX with surrogate pairs) of `in` into `out`.
// Unknown escapes are kept as written.
void unescapeJsonString(std::string_view in, std::string& out);

}  // namespace firelane::parser
