// Parsing of scalar config values the way Fluent Bit reads them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace firelane::config {

// "1024", "1k", "1K", "1KB", "5M", "25MB", "1G", "1.5M" -> bytes. K = 1000 as flb_utils_size_to_bytes
// and the Fluent Bit docs ("32k means 32000 bytes"); "KiB"/"MiB"/"GiB" are 1024-based. "false" is 0
// (Fluent Bit allows it for limits). Fractions truncate to whole bytes; results above INT64_MAX,
// negatives, blanks and other suffixes are rejected.
std::optional<uint64_t> parseSize(std::string_view text);
// on/off/true/false/yes/no (case-insensitive); "1"/"0" too.
std::optional<bool> parseBool(std::string_view text);
// Decimal integer with optional sign; no trailing garbage.
std::optional<int64_t> parseInt(std::string_view text);
// Non-negative decimal seconds: "1", "0.5", ".25".
std::optional<double> parseSeconds(std::string_view text);

}  // namespace firelane::config
