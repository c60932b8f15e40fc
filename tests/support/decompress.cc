// gzip and zstd decoders for tests: zlib inflate in gzip mode and ZSTD_decompressStream.
#include "support/decompress.h"

#include <zlib.h>
#include <zstd.h>

#include <cstring>

namespace firelane::testsupport {

std::optional<std::string> gunzip(std::string_view in) {
  std::string out;
  size_t pos = 0;
  char buf[64 * 1024];
  do {  // one iteration per gzip member
    z_stream z;
    std::memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 16) != Z_OK) return std::nullopt;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + pos));
    z.avail_in = static_cast<uInt>(in.size() - pos);
    int rc;
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      rc = inflate(&z, Z_NO_FLUSH);
      out.append(buf, sizeof buf - z.avail_out);
    } while (rc == Z_OK);
    pos = in.size() - z.avail_in;
    inflateEnd(&z);
    if (rc != Z_STREAM_END) return std::nullopt;
  } while (pos < in.size());
  return out;
}

std::optional<std::string> unzstd(std::string_view in) {
  ZSTD_DCtx* d = ZSTD_createDCtx();
  if (!d) return std::nullopt;
  std::string out;
  char buf[64 * 1024];
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  size_t rc = 0;
  bool ok = true;
  while (ib.pos < ib.size || rc != 0) {
    ZSTD_outBuffer ob{buf, sizeof buf, 0};
    const size_t before = ib.pos;
    rc = ZSTD_decompressStream(d, &ob, &ib);
    if (ZSTD_isError(rc)) {
      ok = false;
      break;
    }
    out.append(buf, ob.pos);
    // No progress with input left and no output: a truncated frame.
    if (ob.pos == 0 && ib.pos == before && rc != 0) {
      ok = false;
      break;
    }
  }
  ZSTD_freeDCtx(d);
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace firelane::testsupport
