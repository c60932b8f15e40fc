// msgpack -> JSON straight from the bytes: an SSE2 string escaper, a bounds-checked private msgpack
// reader and an output writer that fills std::string through a raw pointer.
#include "core/codec/json_writer.h"

#include <emmintrin.h>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>

namespace firelane::codec {
namespace {

// Bytes kept free past the worst case of the current step, so the SSE2 loop may store a whole
// 16-byte block even when only part of it is kept (the rest is overwritten or cut off later).
constexpr size_t kSlack = 16;

// Deeper containers are replaced by null instead of recursing further: validated input from the
// network must not be able to exhaust a worker's stack. Real log records never get near this.
constexpr int kMaxDepth = 256;

// Escape text for each ASCII byte that needs one, and at index 128 the replacement for an invalid
// UTF-8 byte: up to 6 characters, the length in the last byte. The escaper stores all 8 bytes at
// once and advances by the length, so the kind of escape costs no branch.
using EscapeEntry = std::array<char, 8>;
constexpr auto kEscapes = [] {
  constexpr char hex[] = "0123456789abcdef";
  std::array<EscapeEntry, 129> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf], 0, 6};
  t['\b'] = {'\\', 'b', 0, 0, 0, 0, 0, 2};
  t['\f'] = {'\\', 'f', 0, 0, 0, 0, 0, 2};
  t['\n'] = {'\\', 'n', 0, 0, 0, 0, 0, 2};
  t['\r'] = {'\\', 'r', 0, 0, 0, 0, 0, 2};
  t['\t'] = {'\\', 't', 0, 0, 0, 0, 0, 2};
  t['"'] = {'\\', '"', 0, 0, 0, 0, 0, 2};
  t['\\'] = {'\\', '\\', 0, 0, 0, 0, 0, 2};
  t[128] = {'\\', 'u', 'f', 'f', 'f', 'd', 0, 6};  // one U+FFFD per byte that starts no valid sequence
  return t;
}();

// Output cursor over the caller's std::string. The string is resized ahead of writing (growth
// relative to what this writer produced, so a large reused buffer is not re-zeroed per call) and
// cut back to the bytes actually written when the writer goes away.
class Writer {
 public:
  Writer(std::string& out, size_t hint) : out_(out), start_(out.size()) {
    out_.resize(start_ + hint);
    cur_ = out_.data() + start_;
    end_ = out_.data() + out_.size();
  }
  ~Writer() { out_.resize(static_cast<size_t>(cur_ - out_.data())); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Guarantees `n` writable bytes at the returned pointer; commit with setCur().
  [[gnu::always_inline]] char* need(size_t n) {
    if (static_cast<size_t>(end_ - cur_) < n) [[unlikely]] grow(n);
    return cur_;
  }
  char* needAt(char* o, size_t n) {
    cur_ = o;
    return need(n);
  }
  char* end() const { return end_; }
  void setCur(char* o) { cur_ = o; }

  void put(char c) { *need(1) = c; ++cur_; }
  void put(const char* s, size_t n) {
    std::memcpy(need(n), s, n);
    cur_ += n;
  }
  void put(std::string_view s) { put(s.data(), s.size()); }

 private:
  [[gnu::noinline]] void grow(size_t n) {
    size_t pos = static_cast<size_t>(cur_ - out_.data());
    out_.resize(pos + std::max({n, pos - start_, size_t{256}}));
    cur_ = out_.data() + pos;
    end_ = out_.data() + out_.size();
  }

  std::string& out_;
  size_t start_;
  char* cur_;
  char* end_;
};

// Length of the well-formed UTF-8 sequence starting at lead byte p[0] >= 0x80 (Unicode table 3-7:
// no overlongs, no surrogates, nothing above U+10FFFF, no truncation), or 0 if there is none.
inline size_t utf8SequenceLength(const uint8_t* p, const uint8_t* end) {
  const uint8_t c = p[0];
  const size_t avail = static_cast<size_t>(end - p);
  auto cont = [](uint8_t b) { return (b & 0xc0) == 0x80; };
  if (c < 0xc2) return 0;  // stray continuation byte, or the always-overlong C0/C1
  if (c < 0xe0) return avail >= 2 && cont(p[1]) ? 2 : 0;
  if (c < 0xf0) {
    if (avail < 3) return 0;
    const uint8_t lo = c == 0xe0 ? 0xa0 : 0x80;  // E0 80..9F would be overlong
    const uint8_t hi = c == 0xed ? 0x9f : 0xbf;  // ED A0..BF would be a surrogate
    return p[1] >= lo && p[1] <= hi && cont(p[2]) ? 3 : 0;
  }
  if (c < 0xf5) {
    if (avail < 4) return 0;
    const uint8_t lo = c == 0xf0 ? 0x90 : 0x80;  // F0 80..8F would be overlong
    const uint8_t hi = c == 0xf4 ? 0x8f : 0xbf;  // F4 90.. would be above U+10FFFF
    return p[1] >= lo && p[1] <= hi && cont(p[2]) && cont(p[3]) ? 4 : 0;
  }
  return 0;
}

// Bit i set when byte i of the block needs more than a copy: < 0x20 and >= 0x80 (one signed
// compare covers both), '"' and '\\'.
inline unsigned specialMask(__m128i v) {
  const __m128i ctrlOrHigh = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
  const __m128i quote = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
  const __m128i backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
  return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(ctrlOrHigh, _mm_or_si128(quote, backslash))));
}

// Writes the escaped bytes of [p, end) (no quotes). On entry and between steps the writer has
// at least (end - p) + kSlack bytes free at `o`: copying keeps that true, and every expanding
// step (1 byte in, up to 6 out) first re-establishes it.
void escapeInto(Writer& w, const uint8_t* p, const uint8_t* end) {
  char* o = w.need(static_cast<size_t>(end - p) + kSlack);
  char* oend = w.end();
  for (;;) {
    unsigned mask;
    size_t rem = static_cast<size_t>(end - p);
    if (rem >= 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o), v);
      mask = specialMask(v);
      if (mask == 0) {
        p += 16;
        o += 16;
        continue;
      }
    } else {
      if (rem == 0) break;
      // Short tail (all short keys and values end here): two overlapping in-bounds loads built
      // into one vector in registers. Going through a stack buffer instead stalls on store
      // forwarding and cost half the time of a typical record.
      if (rem >= 8) {
        uint64_t lo, hi;
        std::memcpy(&lo, p, 8);
        std::memcpy(&hi, end - 8, 8);
        std::memcpy(o, &lo, 8);
        std::memcpy(o + rem - 8, &hi, 8);
        const __m128i v = _mm_set_epi64x(static_cast<long long>(hi), static_cast<long long>(lo));
        const unsigned m = specialMask(v);
        mask = (m & 0xff) | (m >> 8) << (rem - 8);
      } else if (rem >= 4) {
        uint32_t lo, hi;
        std::memcpy(&lo, p, 4);
        std::memcpy(&hi, end - 4, 4);
        std::memcpy(o, &lo, 4);
        std::memcpy(o + rem - 4, &hi, 4);
        const unsigned m = specialMask(_mm_set_epi32(0, 0, static_cast<int>(hi), static_cast<int>(lo)));
        mask = (m & 0xf) | (m >> 4 & 0xf) << (rem - 4);
      } else {
        mask = 0;
        for (size_t k = 0; k < rem; ++k) {
          const uint8_t c = p[k];
          o[k] = static_cast<char>(c);
          if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') mask |= 1u << k;
        }
      }
      if (mask == 0) {
        o += rem;
        break;
      }
    }
    const unsigned skip = static_cast<unsigned>(__builtin_ctz(mask));
    p += skip;
    o += skip;

    const uint8_t c = *p;
    if (c >= 0x80) {
      if (size_t len = utf8SequenceLength(p, end)) {
        std::memcpy(o, p, len);  // same length out as in: the free-space invariant holds
        p += len;
        o += len;
        continue;
      }
    }
    if (static_cast<size_t>(oend - o) < static_cast<size_t>(end - p) + kSlack + 6) {
      // Leave room for more escapes than this one so a string full of them grows geometrically.
      o = w.needAt(o, static_cast<size_t>(end - p) * 2 + kSlack + 6);
      oend = w.end();
    }
    const EscapeEntry& e = kEscapes[c < 0x80 ? c : 128];
    std::memcpy(o, e.data(), e.size());  // fits: at least 6 + kSlack bytes are free here
    o += e[7];
    ++p;
  }
  w.setCur(o);
}

void writeString(Writer& w, const uint8_t* p, size_t n) {
  // Both quotes are covered by reserving them with the body: one capacity check per string.
  char* o = w.need(n + 2 + kSlack);
  *o = '"';
  w.setCur(o + 1);
  escapeInto(w, p, p + n);
  w.put('"');
}

inline void writeString(Writer& w, std::string_view s) {
  writeString(w, reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

template <typename Int>
void writeInt(Writer& w, Int v) {
  char* o = w.need(24);
  w.setCur(std::to_chars(o, o + 24, v).ptr);
}

// Shortest round-trip text. Integral values get ".0" (as Fluent Bit writes them) so consumers that
// type fields by their JSON text keep seeing a float: 1.0 -> "1.0", 1e21 -> "1e+21" (already a
// float by its exponent), -0.0 -> "-0.0". JSON has no NaN/Inf, so they become null.
template <typename Float>
void writeFloat(Writer& w, Float v) {
  if (!std::isfinite(v)) {
    w.put("null", 4);
    return;
  }
  char* o = w.need(40);
  char* e = std::to_chars(o, o + 32, v).ptr;
  bool plain = true;
  for (char* q = o; q < e; ++q) plain &= *q != '.' && *q != 'e';
  if (plain) {
    e[0] = '.';
    e[1] = '0';
    e += 2;
  }
  w.setCur(e);
}

inline uint16_t load16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}
inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}

// A msgpack reader that never reads past `end`: any value cut short moves the cursor to `end`,
// which the encoder treats as the end of the input (truncated values are written as null).
struct Reader {
  const uint8_t* p;
  const uint8_t* end;

  bool atEnd() const { return p == end; }
  // Claims `n` bytes, or jumps to the end when fewer are left.
  const uint8_t* take(size_t n) {
    if (static_cast<size_t>(end - p) < n) {
      p = end;
      return nullptr;
    }
    const uint8_t* at = p;
    p += n;
    return at;
  }
};

// Size of the length field that follows type byte `b` for str/bin/ext/array/map, 0 if none.
inline size_t lengthFieldSize(uint8_t b) {
  switch (b) {
    case 0xc4: case 0xc7: case 0xd9: return 1;  // bin8, ext8, str8
    case 0xc5: case 0xc8: case 0xda: case 0xdc: case 0xde: return 2;
    case 0xc6: case 0xc9: case 0xdb: case 0xdd: case 0xdf: return 4;
    default: return 0;
  }
}

// Reads the 1/2/4-byte big-endian length after a type byte; false when truncated.
inline bool readLength(Reader& r, size_t width, uint64_t& len) {
  const uint8_t* q = r.take(width);
  if (!q) return false;
  len = width == 1 ? q[0] : width == 2 ? load16(q) : load32(q);
  return true;
}

// Skips one value without recursion (used past kMaxDepth). Counts pending values in 64 bits so
// map32 headers (2 * 2^32 values) cannot overflow the counter.
void skipValue(Reader& r) {
  uint64_t pending = 1;
  while (pending > 0 && !r.atEnd()) {
    --pending;
    const uint8_t b = *r.p++;
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xc0 && b <= 0xc3)) continue;
    if (b <= 0x8f) { pending += 2u * (b & 0x0f); continue; }
    if (b <= 0x9f) { pending += b & 0x0f; continue; }
    if (b <= 0xbf) { r.take(b & 0x1f); continue; }
    uint64_t len = 0;
    switch (b) {
      case 0xca: r.take(4); break;
      case 0xcb: r.take(8); break;
      case 0xcc: case 0xd0: r.take(1); break;
      case 0xcd: case 0xd1: r.take(2); break;
      case 0xce: case 0xd2: r.take(4); break;
      case 0xcf: case 0xd3: r.take(8); break;
      case 0xd4: r.take(2); break;
      case 0xd5: r.take(3); break;
      case 0xd6: r.take(5); break;
      case 0xd7: r.take(9); break;
      case 0xd8: r.take(17); break;
      case 0xc7: case 0xc8: case 0xc9:
        if (readLength(r, lengthFieldSize(b), len)) r.take(len + 1);  // +1: the ext type byte
        break;
      case 0xdc: case 0xdd:
        if (readLength(r, lengthFieldSize(b), len)) pending += len;
        break;
      case 0xde: case 0xdf:
        if (readLength(r, lengthFieldSize(b), len)) pending += 2 * len;
        break;
      default:  // str8/16/32, bin8/16/32
        if (readLength(r, lengthFieldSize(b), len)) r.take(len);
        break;
    }
  }
}

class Encoder {
 public:
  Encoder(Writer& w, Reader& r) : w_(w), r_(r) {}

  void value(int depth) {
    if (r_.atEnd()) {
      w_.put("null", 4);
      return;
    }
    const uint8_t b = *r_.p++;
    if (b <= 0x7f) return writeInt(w_, static_cast<unsigned>(b));
    if (b >= 0xe0) return writeInt(w_, static_cast<int>(static_cast<int8_t>(b)));
    if (b <= 0x8f) return map(b & 0x0f, depth);
    if (b <= 0x9f) return array(b & 0x0f, depth);
    if (b <= 0xbf) return str(b & 0x1f);
    const uint8_t* q;
    uint64_t len = 0;
    switch (b) {
      case 0xc2: return w_.put("false", 5);
      case 0xc3: return w_.put("true", 4);
      case 0xca:
        if (!(q = r_.take(4))) break;
        return writeFloat(w_, std::bit_cast<float>(load32(q)));
      case 0xcb:
        if (!(q = r_.take(8))) break;
        return writeFloat(w_, std::bit_cast<double>(load64(q)));
      case 0xcc:
        if (!(q = r_.take(1))) break;
        return writeInt(w_, static_cast<unsigned>(q[0]));
      case 0xcd:
        if (!(q = r_.take(2))) break;
        return writeInt(w_, static_cast<unsigned>(load16(q)));
      case 0xce:
        if (!(q = r_.take(4))) break;
        return writeInt(w_, load32(q));
      case 0xcf:
        if (!(q = r_.take(8))) break;
        return writeInt(w_, load64(q));
      case 0xd0:
        if (!(q = r_.take(1))) break;
        return writeInt(w_, static_cast<int>(static_cast<int8_t>(q[0])));
      case 0xd1:
        if (!(q = r_.take(2))) break;
        return writeInt(w_, static_cast<int>(static_cast<int16_t>(load16(q))));
      case 0xd2:
        if (!(q = r_.take(4))) break;
        return writeInt(w_, static_cast<int32_t>(load32(q)));
      case 0xd3:
        if (!(q = r_.take(8))) break;
        return writeInt(w_, static_cast<int64_t>(load64(q)));
      case 0xc4: case 0xc5: case 0xc6:  // bin: a string of its bytes, like Fluent Bit
      case 0xd9: case 0xda: case 0xdb:
        if (!readLength(r_, lengthFieldSize(b), len)) break;
        return str(len);
      case 0xdc: case 0xdd:
        if (!readLength(r_, lengthFieldSize(b), len)) break;
        return array(len, depth);
      case 0xde: case 0xdf:
        if (!readLength(r_, lengthFieldSize(b), len)) break;
        return map(len, depth);
      case 0xd4: r_.take(2); break;  // fixext: type byte + 1/2/4/8/16 data bytes
      case 0xd5: r_.take(3); break;
      case 0xd6: r_.take(5); break;
      case 0xd7: r_.take(9); break;
      case 0xd8: r_.take(17); break;
      case 0xc7: case 0xc8: case 0xc9:
        if (readLength(r_, lengthFieldSize(b), len)) r_.take(len + 1);
        break;
      default: break;  // nil, and the never-used 0xc1
    }
    // nil, ext (no JSON meaning, including the timestamp ext), 0xc1 and anything truncated.
    w_.put("null", 4);
  }

  // Writes `count` key/value pairs as object members; `first` tracks the comma across calls so a
  // record's fields and the extra fields share one object.
  void members(uint64_t count, bool& first, int depth) {
    for (uint64_t i = 0; i < count && !r_.atEnd(); ++i) {
      if (!first) w_.put(',');
      first = false;
      key(depth);
      w_.put(':');
      value(depth);
    }
  }

 private:
  void str(uint64_t len) {
    if (const uint8_t* q = r_.take(len)) return writeString(w_, q, len);
    w_.put("null", 4);
  }

  void array(uint64_t count, int depth) {
    if (depth >= kMaxDepth) return skipAsNull(count, 1);
    w_.put('[');
    for (uint64_t i = 0; i < count && !r_.atEnd(); ++i) {
      if (i) w_.put(',');
      value(depth + 1);
    }
    w_.put(']');
  }

  void map(uint64_t count, int depth) {
    if (depth >= kMaxDepth) return skipAsNull(count, 2);
    w_.put('{');
    bool first = true;
    members(count, first, depth + 1);
    w_.put('}');
  }

  void skipAsNull(uint64_t count, uint64_t perItem) {
    for (uint64_t i = 0; i < count * perItem && !r_.atEnd(); ++i) skipValue(r_);
    w_.put("null", 4);
  }

  // JSON keys must be strings: str and bin are written as strings, any other key as a string
  // holding its JSON text (5 -> "5", nil -> "null", [1] -> "[1]").
  void key(int depth) {
    const uint8_t b = *r_.p;
    const bool fixstr = b >= 0xa0 && b <= 0xbf;
    if (fixstr || b == 0xd9 || b == 0xda || b == 0xdb || b == 0xc4 || b == 0xc5 || b == 0xc6) {
      ++r_.p;
      uint64_t len = b & 0x1f;
      if (fixstr || readLength(r_, lengthFieldSize(b), len)) {
        if (const uint8_t* q = r_.take(len)) return writeString(w_, q, len);
      }
      return w_.put("\"null\"", 6);  // truncated key: still a string, so the object stays valid
    }
    std::string text;
    {
      Writer tw(text, 32);
      Encoder(tw, r_).value(depth);
    }
    writeString(w_, text);
  }

  Writer& w_;
  Reader& r_;
};

// Writes the object body of a record map plus the extra pairs. A record that is not a map (the
// decoders never produce one) is consumed and treated as empty, so the output stays an object.
void writeObject(Writer& w, std::span<const uint8_t> record, const ExtraFields* extra, bool first) {
  Reader r{record.data(), record.data() + record.size()};
  if (!r.atEnd()) {
    const uint8_t b = *r.p;
    uint64_t count = 0;
    bool isMap = true;
    if (b >= 0x80 && b <= 0x8f) {
      ++r.p;
      count = b & 0x0f;
    } else if (b == 0xde || b == 0xdf) {
      ++r.p;
      isMap = readLength(r, lengthFieldSize(b), count);
    } else {
      isMap = false;
    }
    if (isMap) Encoder(w, r).members(count, first, 0);
  }
  if (extra && extra->count > 0) {
    Reader er{extra->kv.data(), extra->kv.data() + extra->kv.size()};
    Encoder(w, er).members(extra->count, first, 0);
  }
  w.put('}');
}

// Most records are mostly ASCII text: output is about the input size plus quotes and separators.
inline size_t objectHint(std::span<const uint8_t> record, const ExtraFields* extra) {
  size_t in = record.size() + (extra ? extra->kv.size() : 0);
  return in + in / 4 + 64;
}

}  // namespace

void appendJsonString(std::string& out, std::string_view s) {
  Writer w(out, s.size() + 2 + kSlack);
  writeString(w, s);
}

size_t appendJsonValue(std::string& out, std::span<const uint8_t> data) {
  Writer w(out, std::min<size_t>(data.size(), 4096) + 64);
  Reader r{data.data(), data.data() + data.size()};
  Encoder(w, r).value(0);
  return static_cast<size_t>(r.p - data.data());
}

void appendJsonObject(std::string& out, std::span<const uint8_t> record, const ExtraFields* extra) {
  Writer w(out, objectHint(record, extra));
  w.put('{');
  writeObject(w, record, extra, true);
}

void appendJsonObjectWithDate(std::string& out, std::string_view dateKey, std::string_view date,
                              std::span<const uint8_t> record, const ExtraFields* extra) {
  Writer w(out, objectHint(record, extra) + dateKey.size() + date.size() + 8);
  w.put('{');
  if (dateKey.empty()) return writeObject(w, record, extra, true);
  writeString(w, dateKey);
  w.put(':');
  w.put(date);
  writeObject(w, record, extra, false);
}

}  // namespace firelane::codec
