// Request-body compression for the HTTP outputs: gzip (libdeflate or zlib) and zstd, with one
// reusable library context per instance so a flush allocates nothing once warmed up.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/common/status.h"

namespace firelane::codec {

enum class Codec : uint8_t { None, Gzip, Zstd };

// Both write standard RFC 1952 gzip members. libdeflate is the default: on Datadog JSON batches it
// is 1.6-2.6x faster than zlib at the same level and, from level 3 up, also writes smaller output
// (bench/core/compress_bench.cc; numbers in the comment above kDefaultGzipLevel).
enum class GzipLibrary : uint8_t { Libdeflate, Zlib };

// Measured on 5 MB Datadog batches, one core of the 2-vCPU build machine (compress_bench, MB/s of
// JSON in; ratio = in/out), random-word logs | repetitive logs:
//   zlib 6 (the reference):  20 MB/s r=6.4   | 77 MB/s  r=21
//   libdeflate 1:           124 MB/s r=6.0   | 400 MB/s r=18
//   libdeflate 3:            93 MB/s r=6.6   | 325 MB/s r=21
//   libdeflate 6:            55 MB/s r=6.8   | 210 MB/s r=23
// libdeflate 1 is within 7% (random words) / 17% (repetitive) of zlib 6's size, under the 25%
// budget, for 1/6 (resp. 1/5) of its CPU: the cheapest setting that meets the goal.
inline constexpr int kDefaultGzipLevel = 1;
// zstd 1 beats every gzip setting on both axes (ratio 7.0 / 25 at 230 / 720 MB/s); higher levels
// cost far more CPU for a few percent (zstd 3: r=7.7 at 150 MB/s).
inline constexpr int kDefaultZstdLevel = 1;

struct CompressorOptions {
  Codec codec = Codec::Gzip;
  int level = kDefaultGzipLevel;  // gzip: 1..12 (libdeflate) or 1..9 (zlib); zstd: 1..22
  GzipLibrary gzipLibrary = GzipLibrary::Libdeflate;
};

// The value of the Content-Encoding header: "identity", "gzip" or "zstd".
std::string_view contentEncoding(Codec codec);

// Compresses whole request bodies. Holds one library context (libdeflate_compressor, z_stream or
// ZSTD_CCtx) and a scratch buffer, both reused across calls: make one per output instance. Not
// thread-safe; an instance belongs to the worker thread that uses it.
class Compressor {
 public:
  // An error names the bad level and its range. Allocates the library context now.
  static Result<std::unique_ptr<Compressor>> create(const CompressorOptions& options);

  virtual ~Compressor() = default;
  virtual Codec codec() const = 0;
  virtual int level() const = 0;

  // Replaces the content of `out` with the compressed form of `in` (a complete gzip member or zstd
  // frame, content size recorded for zstd). Codec::None copies. Empty input gives a valid empty
  // member/frame. Returns false only when the library fails (out of memory); `out` is then empty.
  virtual bool compress(std::string_view in, std::string& out) = 0;
};
using CompressorPtr = std::unique_ptr<Compressor>;

}  // namespace firelane::codec
