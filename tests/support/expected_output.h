// What firelane's stdout output must print for given events, computed independently of firelane's
// own JSON writer: the oracle for end-to-end tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "support/forward_client.h"

namespace firelane::testsupport {

// A JSON string literal (with quotes): '"' and '\\' escaped, \b \f \n \r \t short forms, other
// control characters as \u00xx (lowercase hex), each byte of invalid UTF-8 as \ufffd, valid UTF-8
// (including non-ASCII) as is.
std::string jsonString(std::string_view s);

// "<seconds>.<6-digit micros>", nanoseconds truncated to microseconds.
std::string jsonDate(uint32_t seconds, uint32_t nanos);

// The stdout json_lines line for an event: {"date":S.UUUUUU,"k":"v",...} (no trailing newline).
// With `integerTime` the nanoseconds are ignored (the time was sent as an integer).
std::string jsonLine(const Event& event, bool integerTime = false);

}  // namespace firelane::testsupport
