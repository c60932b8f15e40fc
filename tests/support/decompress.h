// Decompression for tests and benches: gzip through zlib's inflate (every member of a multi-member
// body) and zstd through libzstd's streaming decoder, independent of firelane's compressors.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace firelane::testsupport {

// The concatenated content of every gzip member in `in`; nullopt on any error or trailing garbage.
std::optional<std::string> gunzip(std::string_view in);

// The content of every zstd frame in `in`; nullopt on any error or a truncated frame.
std::optional<std::string> unzstd(std::string_view in);

}  // namespace firelane::testsupport
