// A small bounds-checked msgpack reader over bytes that may be hostile or incomplete: the validator
// behind the forward decoder, and the reader the JSON encoder, filters and outputs walk records with.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace firelane::proto {

// The kinds of msgpack object. Integers are split like the wire format splits them: PosInt is any
// integer >= 0 (whatever width or signedness it was packed with), NegInt any integer < 0.
enum class MsgpackType : uint8_t { Nil, Bool, PosInt, NegInt, Float32, Float64, Str, Bin, Array, Map, Ext };

// Result of every cursor read. A failed read never moves the cursor.
enum class MsgpackStatus : uint8_t {
  Ok,
  Incomplete,  // the bytes ran out: the object may still be completed by more bytes (see needed())
  Invalid,     // not msgpack (the reserved byte 0xc1): more bytes cannot fix it
  TooDeep,     // containers nested deeper than the depth limit (also not fixable by more bytes)
  WrongType,   // typed read: the next object is valid but of another type (or does not fit the result)
};

// Nesting limit used when the caller does not give one; skip() clamps any limit to kMaxSkipDepth.
inline constexpr int kDefaultMaxDepth = 64;
inline constexpr int kMaxSkipDepth = 256;

// The header of one object: its type and what the bytes before its payload say.
struct MsgpackHeader {
  MsgpackType type = MsgpackType::Nil;
  uint8_t size = 0;     // header bytes: type byte + length/value bytes (+ the type byte of an ext)
  int8_t extType = 0;   // Ext only
  uint32_t length = 0;  // Str/Bin/Ext: payload bytes after the header; Array: elements; Map: pairs
  uint64_t bits = 0;    // scalar value, read through the accessors below

  bool boolValue() const { return bits != 0; }
  uint64_t uintValue() const { return bits; }                      // PosInt
  int64_t intValue() const { return static_cast<int64_t>(bits); }  // NegInt (and PosInt < 2^63)
  double floatValue() const {                                      // Float32 or Float64
    if (type == MsgpackType::Float32) {
      float f;
      uint32_t b = static_cast<uint32_t>(bits);
      std::memcpy(&f, &b, sizeof f);
      return f;
    }
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
};

namespace detail {

inline uint16_t loadBe16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t loadBe32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}
inline uint64_t loadBe64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}

// Decodes the header at p (p < end required). On Incomplete, h.size is the header size the first
// byte announces, so the caller knows how many bytes to wait for.
inline MsgpackStatus parseHeader(const uint8_t* p, const uint8_t* end, MsgpackHeader& h) {
  const uint8_t b = *p;
  // The fix* forms cover nearly every byte of a typical log record: test them first.
  if (b <= 0x7f) {
    h.type = MsgpackType::PosInt;
    h.size = 1;
    h.bits = b;
    return MsgpackStatus::Ok;
  }
  if (b >= 0xe0) {
    h.type = MsgpackType::NegInt;
    h.size = 1;
    h.bits = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int8_t>(b)));
    return MsgpackStatus::Ok;
  }
  if (b >= 0xa0 && b <= 0xbf) {
    h.type = MsgpackType::Str;
    h.size = 1;
    h.length = b & 0x1f;
    return MsgpackStatus::Ok;
  }
  if (b <= 0x9f) {
    h.type = (b <= 0x8f) ? MsgpackType::Map : MsgpackType::Array;
    h.size = 1;
    h.length = b & 0x0f;
    return MsgpackStatus::Ok;
  }

  // 0xc0..0xdf: one type byte followed by `n` bytes of length or value.
  const size_t avail = static_cast<size_t>(end - p);
  auto need = [&](uint8_t n) {
    h.size = n;
    return avail >= n;
  };
  switch (b) {
    case 0xc0:
      h.type = MsgpackType::Nil;
      h.size = 1;
      return MsgpackStatus::Ok;
    case 0xc2:
    case 0xc3:
      h.type = MsgpackType::Bool;
      h.size = 1;
      h.bits = b & 1;
      return MsgpackStatus::Ok;
    case 0xc4:
    case 0xd9:
      h.type = b == 0xc4 ? MsgpackType::Bin : MsgpackType::Str;
      if (!need(2)) return MsgpackStatus::Incomplete;
      h.length = p[1];
      return MsgpackStatus::Ok;
    case 0xc5:
    case 0xda:
      h.type = b == 0xc5 ? MsgpackType::Bin : MsgpackType::Str;
      if (!need(3)) return MsgpackStatus::Incomplete;
      h.length = loadBe16(p + 1);
      return MsgpackStatus::Ok;
    case 0xc6:
    case 0xdb:
      h.type = b == 0xc6 ? MsgpackType::Bin : MsgpackType::Str;
      if (!need(5)) return MsgpackStatus::Incomplete;
      h.length = loadBe32(p + 1);
      return MsgpackStatus::Ok;
    case 0xc7:  // ext8: length, type, payload
      h.type = MsgpackType::Ext;
      if (!need(3)) return MsgpackStatus::Incomplete;
      h.length = p[1];
      h.extType = static_cast<int8_t>(p[2]);
      return MsgpackStatus::Ok;
    case 0xc8:
      h.type = MsgpackType::Ext;
      if (!need(4)) return MsgpackStatus::Incomplete;
      h.length = loadBe16(p + 1);
      h.extType = static_cast<int8_t>(p[3]);
      return MsgpackStatus::Ok;
    case 0xc9:
      h.type = MsgpackType::Ext;
      if (!need(6)) return MsgpackStatus::Incomplete;
      h.length = loadBe32(p + 1);
      h.extType = static_cast<int8_t>(p[5]);
      return MsgpackStatus::Ok;
    case 0xca:
      h.type = MsgpackType::Float32;
      if (!need(5)) return MsgpackStatus::Incomplete;
      h.bits = loadBe32(p + 1);
      return MsgpackStatus::Ok;
    case 0xcb:
      h.type = MsgpackType::Float64;
      if (!need(9)) return MsgpackStatus::Incomplete;
      h.bits = loadBe64(p + 1);
      return MsgpackStatus::Ok;
    case 0xcc:
      h.type = MsgpackType::PosInt;
      if (!need(2)) return MsgpackStatus::Incomplete;
      h.bits = p[1];
      return MsgpackStatus::Ok;
    case 0xcd:
      h.type = MsgpackType::PosInt;
      if (!need(3)) return MsgpackStatus::Incomplete;
      h.bits = loadBe16(p + 1);
      return MsgpackStatus::Ok;
    case 0xce:
      h.type = MsgpackType::PosInt;
      if (!need(5)) return MsgpackStatus::Incomplete;
      h.bits = loadBe32(p + 1);
      return MsgpackStatus::Ok;
    case 0xcf:
      h.type = MsgpackType::PosInt;
      if (!need(9)) return MsgpackStatus::Incomplete;
      h.bits = loadBe64(p + 1);
      return MsgpackStatus::Ok;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
      const uint8_t n = static_cast<uint8_t>(1u << (b - 0xd0));  // 1, 2, 4, 8 value bytes
      if (!need(static_cast<uint8_t>(1 + n))) {
        h.type = MsgpackType::NegInt;
        return MsgpackStatus::Incomplete;
      }
      int64_t v;
      switch (n) {
        case 1: v = static_cast<int8_t>(p[1]); break;
        case 2: v = static_cast<int16_t>(loadBe16(p + 1)); break;
        case 4: v = static_cast<int32_t>(loadBe32(p + 1)); break;
        default: v = static_cast<int64_t>(loadBe64(p + 1)); break;
      }
      // Signed encodings of non-negative values are normalised so callers see one integer model.
      h.type = v < 0 ? MsgpackType::NegInt : MsgpackType::PosInt;
      h.bits = static_cast<uint64_t>(v);
      return MsgpackStatus::Ok;
    }
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:  // fixext 1, 2, 4, 8, 16: type byte then payload
      h.type = MsgpackType::Ext;
      h.length = 1u << (b - 0xd4);
      if (!need(2)) return MsgpackStatus::Incomplete;
      h.extType = static_cast<int8_t>(p[1]);
      return MsgpackStatus::Ok;
    case 0xdc:
    case 0xde:
      h.type = b == 0xdc ? MsgpackType::Array : MsgpackType::Map;
      if (!need(3)) return MsgpackStatus::Incomplete;
      h.length = loadBe16(p + 1);
      return MsgpackStatus::Ok;
    case 0xdd:
    case 0xdf:
      h.type = b == 0xdd ? MsgpackType::Array : MsgpackType::Map;
      if (!need(5)) return MsgpackStatus::Incomplete;
      h.length = loadBe32(p + 1);
      return MsgpackStatus::Ok;
    default:  // 0xc1: never used
      h.size = 1;
      return MsgpackStatus::Invalid;
  }
}

}  // namespace detail

// Reads msgpack objects front to back from a span it does not own. Every read checks bounds and
// either succeeds and advances, or fails and leaves the position unchanged, so a caller can stop at
// Incomplete and retry from the same object once more bytes arrived (with a new cursor over them).
// Views returned (strings, bins, raw objects) point into the span. Not thread-safe; cheap to copy.
//
// Typical walk over a record:
//   MsgpackCursor c(record);
//   uint32_t pairs;
//   if (c.readMap(pairs) != MsgpackStatus::Ok) ...
//   for (uint32_t i = 0; i < pairs; ++i) { std::string_view k; c.readStr(k); c.skip(); }
class MsgpackCursor {
 public:
  explicit MsgpackCursor(std::span<const uint8_t> data)
      : begin_(data.data()), p_(data.data()), end_(data.data() + data.size()) {}

  size_t offset() const { return static_cast<size_t>(p_ - begin_); }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  bool atEnd() const { return p_ == end_; }
  std::span<const uint8_t> rest() const { return {p_, remaining()}; }

  // After Incomplete: a lower bound for the bytes (counted from the start of the span) that must be
  // present before the failed read can get further. Always > the span's size. Meaningless otherwise.
  size_t needed() const { return needed_; }

  // The next object's header, without moving. Str/Bin/Ext payloads are not checked to be present.
  MsgpackStatus peek(MsgpackHeader& h) const {
    if (p_ == end_) return incomplete(1);
    MsgpackStatus s = detail::parseHeader(p_, end_, h);
    if (s == MsgpackStatus::Incomplete) return incomplete(h.size);
    return s;
  }

  // Moves past the next header only: a container's elements (or a str/bin/ext payload, to be taken
  // with readPayload) follow. Nothing inside is validated: code that walks bytes not already
  // validated by skip() must bound its own recursion depth.
  MsgpackStatus readHeader(MsgpackHeader& h) {
    MsgpackStatus s = peek(h);
    if (s == MsgpackStatus::Ok) p_ += h.size;
    return s;
  }

  // Takes `n` raw bytes (the payload after a readHeader of a str/bin/ext).
  MsgpackStatus readPayload(uint32_t n, std::span<const uint8_t>& out) {
    if (remaining() < n) return incomplete(n);
    out = {p_, n};
    p_ += n;
    return MsgpackStatus::Ok;
  }

  // Typed reads of a whole object. WrongType when the next object is of another type.
  MsgpackStatus readNil() {
    MsgpackHeader h;
    MsgpackStatus s = peek(h);
    if (s != MsgpackStatus::Ok) return s;
    if (h.type != MsgpackType::Nil) return MsgpackStatus::WrongType;
    p_ += h.size;
    return s;
  }
  MsgpackStatus readBool(bool& v) {
    MsgpackHeader h;
    MsgpackStatus s = peek(h);
    if (s != MsgpackStatus::Ok) return s;
    if (h.type != MsgpackType::Bool) return MsgpackStatus::WrongType;
    v = h.boolValue();
    p_ += h.size;
    return s;
  }
  // Any integer encoding whose value fits int64 (a uint64 above INT64_MAX is WrongType).
  MsgpackStatus readInt(int64_t& v) {
    MsgpackHeader h;
    MsgpackStatus s = peek(h);
    if (s != MsgpackStatus::Ok) return s;
    if (h.type == MsgpackType::NegInt || (h.type == MsgpackType::PosInt && h.bits <= INT64_MAX)) {
      v = h.intValue();
      p_ += h.size;
      return s;
    }
    return MsgpackStatus::WrongType;
  }
  // Any integer encoding whose value is >= 0.
  MsgpackStatus readUint(uint64_t& v) {
    MsgpackHeader h;
    MsgpackStatus s = peek(h);
    if (s != MsgpackStatus::Ok) return s;
    if (h.type != MsgpackType::PosInt) return MsgpackStatus::WrongType;
    v = h.uintValue();
    p_ += h.size;
    return s;
  }
  // float32 or float64 (integers are WrongType: convert explicitly if a field allows both).
  MsgpackStatus readFloat(double& v) {
    MsgpackHeader h;
    MsgpackStatus s = peek(h);
    if (s != MsgpackStatus::Ok) return s;
    if (h.type != MsgpackType::Float32 && h.type != MsgpackType::Float64) return MsgpackStatus::WrongType;
    v = h.floatValue();
    p_ += h.size;
    return s;
  }
  MsgpackStatus readStr(std::string_view& v) {
    std::span<const uint8_t> b;
    MsgpackStatus s = readBytes(MsgpackType::Str, MsgpackType::Str, b);
    if (s == MsgpackStatus::Ok) v = {reinterpret_cast<const char*>(b.data()), b.size()};
    return s;
  }
  MsgpackStatus readBin(std::span<const uint8_t>& v) {
    return readBytes(MsgpackType::Bin, MsgpackType::Bin, v);
  }
  MsgpackStatus readStrOrBin(std::span<const uint8_t>& v) {
    return readBytes(MsgpackType::Str, MsgpackType::Bin, v);
  }
  MsgpackStatus readExt(int8_t& type, std::span<const uint8_t>& data) {
    MsgpackStatus s = readBytes(MsgpackType::Ext, MsgpackType::Ext, data, &type);
    return s;
  }
  // Container headers: `n` is the element count (Array) or pair count (Map); the elements follow.
  MsgpackStatus readArray(uint32_t& n) { return readContainer(MsgpackType::Array, n); }
  MsgpackStatus readMap(uint32_t& n) { return readContainer(MsgpackType::Map, n); }

  // Moves past one whole object, validating everything inside it: Incomplete if it is cut short,
  // Invalid on a reserved byte, TooDeep if containers nest deeper than `maxDepth` levels (a flat
  // map is 1 level; a scalar 0). Iterative, so hostile nesting cannot exhaust the stack.
  MsgpackStatus skip(int maxDepth = kDefaultMaxDepth);
  // Same, and returns the object's bytes (e.g. to keep a record or an option value as is).
  MsgpackStatus skip(std::span<const uint8_t>& raw, int maxDepth = kDefaultMaxDepth) {
    const uint8_t* start = p_;
    MsgpackStatus s = skip(maxDepth);
    if (s == MsgpackStatus::Ok) raw = {start, static_cast<size_t>(p_ - start)};
    return s;
  }

 private:
  MsgpackStatus incomplete(size_t more) const {
    needed_ = offset() + more;
    return MsgpackStatus::Incomplete;
  }
  MsgpackStatus readBytes(MsgpackType a, MsgpackType b, std::span<const uint8_t>& v,
                          int8_t* extType = nullptr) {
    MsgpackHeader h;
    MsgpackStatus s = peek(h);
    if (s != MsgpackStatus::Ok) return s;
    if (h.type != a && h.type != b) return MsgpackStatus::WrongType;
    if (remaining() - h.size < h.length) return incomplete(size_t{h.size} + h.length);
    if (extType) *extType = h.extType;
    v = {p_ + h.size, h.length};
    p_ += h.size + size_t{h.length};
    return s;
  }
  MsgpackStatus readContainer(MsgpackType t, uint32_t& n) {
    MsgpackHeader h;
    MsgpackStatus s = peek(h);
    if (s != MsgpackStatus::Ok) return s;
    if (h.type != t) return MsgpackStatus::WrongType;
    n = h.length;
    p_ += h.size;
    return s;
  }

  const uint8_t* begin_;
  const uint8_t* p_;
  const uint8_t* end_;
  mutable size_t needed_ = 0;
};

}  // namespace firelane::proto
