// Appending msgpack encodings to a byte vector: the few shapes firelane builds itself (records from
// stdin lines, EventTime, acks, re-packed records with extra fields).
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace firelane::codec {

class MsgpackWriter {
 public:
  explicit MsgpackWriter(std::vector<uint8_t>& out) : out_(out) {}

  void mapHeader(uint32_t n) { header(n, 0x80, 0xde, 0xdf); }
  void arrayHeader(uint32_t n) { header(n, 0x90, 0xdc, 0xdd); }
  void nil() { out_.push_back(0xc0); }
  void boolean(bool b) { out_.push_back(b ? 0xc3 : 0xc2); }
  void str(std::string_view s) {
    size_t n = s.size();
    if (n < 32) {
      out_.push_back(static_cast<uint8_t>(0xa0 | n));
    } else if (n <= 0xff) {
      out_.push_back(0xd9);
      out_.push_back(static_cast<uint8_t>(n));
    } else if (n <= 0xffff) {
      out_.push_back(0xda);
      be16(static_cast<uint16_t>(n));
    } else {
      out_.push_back(0xdb);
      be32(static_cast<uint32_t>(n));
    }
    raw(s.data(), n);
  }
  void uint(uint64_t v) {
    if (v < 128) {
      out_.push_back(static_cast<uint8_t>(v));
    } else if (v <= 0xff) {
      out_.push_back(0xcc);
      out_.push_back(static_cast<uint8_t>(v));
    } else if (v <= 0xffff) {
      out_.push_back(0xcd);
      be16(static_cast<uint16_t>(v));
    } else if (v <= 0xffffffffu) {
      out_.push_back(0xce);
      be32(static_cast<uint32_t>(v));
    } else {
      out_.push_back(0xcf);
      be32(static_cast<uint32_t>(v >> 32));
      be32(static_cast<uint32_t>(v));
    }
  }
  void integer(int64_t v) {
    if (v >= 0) return uint(static_cast<uint64_t>(v));
    if (v >= -32) {
      out_.push_back(static_cast<uint8_t>(v));
    } else {
      out_.push_back(0xd3);
      uint64_t u = static_cast<uint64_t>(v);
      be32(static_cast<uint32_t>(u >> 32));
      be32(static_cast<uint32_t>(u));
    }
  }
  void float64(double d) {
    uint64_t u;
    std::memcpy(&u, &d, 8);
    out_.push_back(0xcb);
    be32(static_cast<uint32_t>(u >> 32));
    be32(static_cast<uint32_t>(u));
  }
  // Fluentd EventTime: fixext8, type 0, uint32 BE seconds + uint32 BE nanoseconds.
  void eventTime(int64_t timeNs) {
    out_.push_back(0xd7);
    out_.push_back(0x00);
    int64_t sec = timeNs / 1000000000;
    int64_t nsec = timeNs % 1000000000;
    if (nsec < 0) {
      nsec += 1000000000;
      sec -= 1;
    }
    be32(static_cast<uint32_t>(sec));
    be32(static_cast<uint32_t>(nsec));
  }
  void raw(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out_.insert(out_.end(), b, b + n);
  }
  void raw(std::span<const uint8_t> s) { raw(s.data(), s.size()); }

 private:
  void header(uint32_t n, uint8_t fix, uint8_t m16, uint8_t m32) {
    if (n < 16) {
      out_.push_back(static_cast<uint8_t>(fix | n));
    } else if (n <= 0xffff) {
      out_.push_back(m16);
      be16(static_cast<uint16_t>(n));
    } else {
      out_.push_back(m32);
      be32(n);
    }
  }
  void be16(uint16_t v) {
    out_.push_back(static_cast<uint8_t>(v >> 8));
    out_.push_back(static_cast<uint8_t>(v));
  }
  void be32(uint32_t v) {
    uint8_t b[4] = {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8),
                    static_cast<uint8_t>(v)};
    raw(b, 4);
  }
  std::vector<uint8_t>& out_;
};

// Reads a map header at the front of `record`: sets `count` and returns the header's length, or 0
// when `record` does not start with a map.
inline size_t readMapHeader(std::span<const uint8_t> record, uint32_t& count) {
  if (record.empty()) return 0;
  uint8_t b = record[0];
  if ((b & 0xf0) == 0x80) {
    count = b & 0x0f;
    return 1;
  }
  if (b == 0xde && record.size() >= 3) {
    count = (uint32_t(record[1]) << 8) | record[2];
    return 3;
  }
  if (b == 0xdf && record.size() >= 5) {
    count = (uint32_t(record[1]) << 24) | (uint32_t(record[2]) << 16) | (uint32_t(record[3]) << 8) | record[4];
    return 5;
  }
  return 0;
}

}  // namespace firelane::codec
