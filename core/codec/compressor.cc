// Compressor implementations over libdeflate, zlib and libzstd. Each compresses into a scratch
// buffer sized to the library's bound and then copies the (much smaller) result out: resizing the
// caller's string to the bound would zero-fill ~5 MB per request for nothing.
#include "core/codec/compressor.h"

#include <libdeflate.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace firelane::codec {
namespace {

// Grows without zero-filling or keeping old bytes: the content is always rewritten whole.
class Scratch {
 public:
  uint8_t* reserve(size_t n) {
    if (n > capacity_) {
      data_ = std::make_unique_for_overwrite<uint8_t[]>(n);
      capacity_ = n;
    }
    return data_.get();
  }

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t capacity_ = 0;
};

class NoneCompressor final : public Compressor {
 public:
  Codec codec() const override { return Codec::None; }
  int level() const override { return 0; }
  bool compress(std::string_view in, std::string& out) override {
    out.assign(in);
    return true;
  }
};

class LibdeflateGzip final : public Compressor {
 public:
  LibdeflateGzip(libdeflate_compressor* c, int level) : c_(c), level_(level) {}
  ~LibdeflateGzip() override { libdeflate_free_compressor(c_); }
  Codec codec() const override { return Codec::Gzip; }
  int level() const override { return level_; }

  bool compress(std::string_view in, std::string& out) override {
    const size_t bound = libdeflate_gzip_compress_bound(c_, in.size());
    uint8_t* buf = scratch_.reserve(bound);
    // With a buffer of the bound's size the call cannot run out of space: 0 means a library failure.
    const size_t n = libdeflate_gzip_compress(c_, in.data(), in.size(), buf, bound);
    if (n == 0) {
      out.clear();
      return false;
    }
    out.assign(reinterpret_cast<const char*>(buf), n);
    return true;
  }

 private:
  libdeflate_compressor* c_;
  int level_;
  Scratch scratch_;
};

class ZlibGzip final : public Compressor {
 public:
  explicit ZlibGzip(int level) : level_(level) {}
  ~ZlibGzip() override {
    if (ready_) deflateEnd(&z_);
  }
  // windowBits 15 + 16: a gzip wrapper instead of zlib's own; memLevel 8 is zlib's default.
  bool init() {
    std::memset(&z_, 0, sizeof z_);
    ready_ = deflateInit2(&z_, level_, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
    return ready_;
  }
  Codec codec() const override { return Codec::Gzip; }
  int level() const override { return level_; }

  bool compress(std::string_view in, std::string& out) override {
    out.clear();
    // deflateReset keeps the 256 KB of window and hash tables allocated by deflateInit2.
    if (deflateReset(&z_) != Z_OK) return false;
    const size_t bound = deflateBound(&z_, static_cast<uLong>(in.size()));
    uint8_t* buf = scratch_.reserve(bound);
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.next_out = buf;
    size_t inLeft = in.size();
    size_t outLeft = bound;
    int rc;
    do {  // avail_* are 32-bit: feed bodies above 4 GB in pieces
      const uInt inStep = static_cast<uInt>(std::min<size_t>(inLeft, UINT_MAX));
      const uInt outStep = static_cast<uInt>(std::min<size_t>(outLeft, UINT_MAX));
      z_.avail_in = inStep;
      z_.avail_out = outStep;
      rc = deflate(&z_, inLeft == inStep ? Z_FINISH : Z_NO_FLUSH);
      inLeft -= inStep - z_.avail_in;
      outLeft -= outStep - z_.avail_out;
    } while (rc == Z_OK);
    if (rc != Z_STREAM_END) return false;
    out.assign(reinterpret_cast<const char*>(buf), bound - outLeft);
    return true;
  }

 private:
  z_stream z_;
  bool ready_ = false;
  int level_;
  Scratch scratch_;
};

class Zstd final : public Compressor {
 public:
  Zstd(ZSTD_CCtx* c, int level) : c_(c), level_(level) {}
  ~Zstd() override { ZSTD_freeCCtx(c_); }
  Codec codec() const override { return Codec::Zstd; }
  int level() const override { return level_; }

  bool compress(std::string_view in, std::string& out) override {
    const size_t bound = ZSTD_compressBound(in.size());
    uint8_t* buf = scratch_.reserve(bound);
    // Parameters set on the context stick across ZSTD_compress2 calls; only the session resets.
    const size_t n = ZSTD_compress2(c_, buf, bound, in.data(), in.size());
    if (ZSTD_isError(n)) {
      out.clear();
      return false;
    }
    out.assign(reinterpret_cast<const char*>(buf), n);
    return true;
  }

 private:
  ZSTD_CCtx* c_;
  int level_;
  Scratch scratch_;
};

Status levelError(std::string_view what, int level, int lo, int hi) {
  return Status::error(std::string(what) + " compression level " + std::to_string(level) +
                       " is out of range " + std::to_string(lo) + ".." + std::to_string(hi));
}

}  // namespace

std::string_view contentEncoding(Codec codec) {
  switch (codec) {
    case Codec::Gzip: return "gzip";
    case Codec::Zstd: return "zstd";
    case Codec::None: break;
  }
  return "identity";
}

Result<std::unique_ptr<Compressor>> Compressor::create(const CompressorOptions& options) {
  const int level = options.level;
  switch (options.codec) {
    case Codec::None:
      return std::unique_ptr<Compressor>(std::make_unique<NoneCompressor>());
    case Codec::Gzip:
      if (options.gzipLibrary == GzipLibrary::Zlib) {
        if (level < 1 || level > 9) return levelError("zlib gzip", level, 1, 9);
        auto z = std::make_unique<ZlibGzip>(level);
        if (!z->init()) return Status::error("zlib: deflateInit2 failed");
        return std::unique_ptr<Compressor>(std::move(z));
      } else {
        if (level < 1 || level > 12) return levelError("libdeflate gzip", level, 1, 12);
        libdeflate_compressor* c = libdeflate_alloc_compressor(level);
        if (!c) return Status::error("libdeflate: cannot allocate a compressor");
        return std::unique_ptr<Compressor>(std::make_unique<LibdeflateGzip>(c, level));
      }
    case Codec::Zstd: {
      if (level < 1 || level > ZSTD_maxCLevel()) return levelError("zstd", level, 1, ZSTD_maxCLevel());
      ZSTD_CCtx* c = ZSTD_createCCtx();
      if (!c) return Status::error("zstd: cannot allocate a compression context");
      if (ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level)) ||
          ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 0)) ||
          ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 1))) {
        ZSTD_freeCCtx(c);
        return Status::error("zstd: cannot set compression parameters");
      }
      return std::unique_ptr<Compressor>(std::make_unique<Zstd>(c, level));
    }
  }
  return Status::error("unknown codec");
}

}  // namespace firelane::codec
