// Tests for the request-body compressors: round trips through independent decoders (zlib inflate,
// ZSTD_decompress) for every codec, library and level, empty and 5 MB inputs, and context reuse.
#include "core/codec/compressor.h"

#include <zlib.h>
#include <zstd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <string>

#include "support/decompress.h"

using firelane::codec::Codec;
using firelane::codec::Compressor;
using firelane::codec::CompressorOptions;
using firelane::codec::GzipLibrary;
using firelane::testsupport::gunzip;
using firelane::testsupport::unzstd;

namespace {

// JSON-ish log text with some entropy, so the compressors have real work to do.
std::string sampleText(size_t n, uint32_t seed = 1) {
  static const char* words[] = {"alpha", "GET", "/api/v1/orders", "200", "latency_ms=", "user", "é€",
                                "\\n", "\"quoted\"", "error", "timeout", "retry"};
  std::mt19937 rng(seed);
  std::string s;
  s.reserve(n + 32);
  while (s.size() < n) {
    s += words[rng() % 12];
    s += ' ';
    s += std::to_string(rng() % 100000);
    s += ' ';
  }
  s.resize(n);
  return s;
}

std::string inflateGzip(const std::string& gz, size_t expected) {
  // zlib's inflate in gzip mode, straight: the decoder users' proxies and Datadog run.
  std::string out(expected + 1, '\0');
  z_stream z;
  std::memset(&z, 0, sizeof z);
  REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_FINISH);
  const size_t n = out.size() - z.avail_out;
  const bool consumedAll = z.avail_in == 0;
  inflateEnd(&z);
  REQUIRE(rc == Z_STREAM_END);
  REQUIRE(consumedAll);
  out.resize(n);
  return out;
}

std::string zstdDecompress(const std::string& z) {
  const unsigned long long size = ZSTD_getFrameContentSize(z.data(), z.size());
  REQUIRE(size != ZSTD_CONTENTSIZE_ERROR);
  REQUIRE(size != ZSTD_CONTENTSIZE_UNKNOWN);  // one-shot frames record their size
  std::string out(size, '\0');
  const size_t n = ZSTD_decompress(out.data(), out.size(), z.data(), z.size());
  REQUIRE_FALSE(ZSTD_isError(n));
  REQUIRE(n == size);
  return out;
}

std::unique_ptr<Compressor> make(Codec codec, int level, GzipLibrary lib = GzipLibrary::Libdeflate) {
  auto r = Compressor::create(CompressorOptions{codec, level, lib});
  INFO((r.ok() ? std::string() : r.message()));
  REQUIRE(r.ok());
  return std::move(r.value());
}

void checkRoundTrip(Compressor& c, const std::string& in) {
  std::string out;
  REQUIRE(c.compress(in, out));
  if (c.codec() == Codec::Gzip) {
    REQUIRE(out.size() >= 18);  // header + trailer
    CHECK(static_cast<uint8_t>(out[0]) == 0x1f);
    CHECK(static_cast<uint8_t>(out[1]) == 0x8b);
    CHECK(inflateGzip(out, in.size()) == in);
    auto viaHelper = gunzip(out);
    REQUIRE(viaHelper);
    CHECK(*viaHelper == in);
  } else if (c.codec() == Codec::Zstd) {
    CHECK(zstdDecompress(out) == in);
    auto viaHelper = unzstd(out);
    REQUIRE(viaHelper);
    CHECK(*viaHelper == in);
  } else {
    CHECK(out == in);
  }
}

}  // namespace

TEST_CASE("compressor round trips every codec, library and level", "[compress]") {
  const std::string text = sampleText(200000);
  for (int level : {1, 3, 6, 9}) {
    DYNAMIC_SECTION("level " << level) {
      auto deflate = make(Codec::Gzip, level, GzipLibrary::Libdeflate);
      auto zlib = make(Codec::Gzip, level, GzipLibrary::Zlib);
      auto zstd = make(Codec::Zstd, level);
      CHECK(deflate->level() == level);
      checkRoundTrip(*deflate, text);
      checkRoundTrip(*zlib, text);
      checkRoundTrip(*zstd, text);
    }
  }
  SECTION("libdeflate's top level and zstd's") {
    checkRoundTrip(*make(Codec::Gzip, 12), text);
    checkRoundTrip(*make(Codec::Zstd, 19), text.substr(0, 20000));
  }
  SECTION("none copies") { checkRoundTrip(*make(Codec::None, 0), text); }
}

TEST_CASE("compressor handles empty input", "[compress]") {
  for (Codec codec : {Codec::Gzip, Codec::Zstd}) {
    for (GzipLibrary lib : {GzipLibrary::Libdeflate, GzipLibrary::Zlib}) {
      auto c = make(codec, 1, lib);
      std::string out = "stale";
      REQUIRE(c->compress("", out));
      CHECK_FALSE(out.empty());
      if (codec == Codec::Gzip) {
        CHECK(inflateGzip(out, 0).empty());
      } else {
        CHECK(zstdDecompress(out).empty());
      }
    }
  }
  std::string out = "stale";
  REQUIRE(make(Codec::None, 0)->compress("", out));
  CHECK(out.empty());
}

TEST_CASE("compressor handles a 5 MB body and reuses its context", "[compress]") {
  const std::string big = sampleText(5'000'000, 7);
  const std::string small = sampleText(1000, 9);
  for (Codec codec : {Codec::Gzip, Codec::Zstd}) {
    for (GzipLibrary lib : {GzipLibrary::Libdeflate, GzipLibrary::Zlib}) {
      if (codec == Codec::Zstd && lib == GzipLibrary::Zlib) continue;
      auto c = make(codec, codec == Codec::Gzip ? 1 : 3, lib);
      // Big, small, big again: a reused context must not leak state between bodies.
      checkRoundTrip(*c, big);
      checkRoundTrip(*c, small);
      checkRoundTrip(*c, big);
      std::string out;
      REQUIRE(c->compress(big, out));
      CHECK(out.size() < big.size() / 2);
    }
  }
}

TEST_CASE("compressor rejects levels out of range", "[compress]") {
  CHECK_FALSE(Compressor::create({Codec::Gzip, 0, GzipLibrary::Libdeflate}).ok());
  CHECK_FALSE(Compressor::create({Codec::Gzip, 13, GzipLibrary::Libdeflate}).ok());
  CHECK_FALSE(Compressor::create({Codec::Gzip, 10, GzipLibrary::Zlib}).ok());
  CHECK_FALSE(Compressor::create({Codec::Zstd, 0}).ok());
  CHECK_FALSE(Compressor::create({Codec::Zstd, 23}).ok());
  auto r = Compressor::create({Codec::Gzip, 13, GzipLibrary::Libdeflate});
  CHECK(r.message().find("1..12") != std::string::npos);
  CHECK(firelane::codec::contentEncoding(Codec::Gzip) == "gzip");
  CHECK(firelane::codec::contentEncoding(Codec::Zstd) == "zstd");
  CHECK(firelane::codec::contentEncoding(Codec::None) == "identity");
}

TEST_CASE("test gunzip reads concatenated members and rejects garbage", "[compress]") {
  auto c = make(Codec::Gzip, 6);
  std::string a, b;
  REQUIRE(c->compress("hello ", a));
  REQUIRE(c->compress("world", b));
  auto both = gunzip(a + b);
  REQUIRE(both);
  CHECK(*both == "hello world");
  CHECK_FALSE(gunzip(a.substr(0, a.size() - 3)));
  CHECK_FALSE(unzstd("not zstd at all"));
}
