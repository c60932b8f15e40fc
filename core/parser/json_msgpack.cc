// JSON -> msgpack without a DOM. Containers are written with a 5-byte placeholder header that is
// shrunk (body moved back) once the element count is known.
#include "core/parser/json_msgpack.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/codec/msgpack_writer.h"

namespace firelane::parser {
namespace {

constexpr int kMaxDepth = 64;

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

int hexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool read4(std::string_view s, size_t i, uint32_t& v) {
  if (i + 4 > s.size()) return false;
  v = 0;
  for (size_t k = 0; k < 4; ++k) {
    int h = hexVal(s[i + k]);
    if (h < 0) return false;
    v = v * 16 + static_cast<uint32_t>(h);
  }
  return true;
}

class Converter {
 public:
  Converter(std::string_view s, std::vector<uint8_t>& out) : s_(s), out_(out), w_(out) {}

  void skipWs() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool atEnd() const { return i_ == s_.size(); }
  bool peek(char c) const { return i_ < s_.size() && s_[i_] == c; }

  // Reads a JSON string (at '"') into tmp_; true on success.
  bool readString() {
    if (!peek('"')) return false;
    ++i_;
    tmp_.clear();
    while (i_ < s_.size()) {
      size_t start = i_;
      while (i_ < s_.size() && s_[i_] != '"' && s_[i_] != '\\' && static_cast<unsigned char>(s_[i_]) >= 0x20) ++i_;
      tmp_.append(s_.data() + start, i_ - start);
      if (i_ >= s_.size()) return false;
      char c = s_[i_];
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c != '\\') return false;  // raw control character
      if (++i_ >= s_.size()) return false;
      char e = s_[i_++];
      switch (e) {
        case '"': tmp_.push_back('"'); break;
        case '\\': tmp_.push_back('\\'); break;
        case '/': tmp_.push_back('/'); break;
        case 'b': tmp_.push_back('\b'); break;
        case 'f': tmp_.push_back('\f'); break;
        case 'n': tmp_.push_back('\n'); break;
        case 'r': tmp_.push_back('\r'); break;
        case 't': tmp_.push_back('\t'); break;
        case 'u': {
          uint32_t cp;
          if (!read4(s_, i_, cp)) return false;
          i_ += 4;
          if (cp >= 0xd800 && cp < 0xdc00 && i_ + 6 <= s_.size() && s_[i_] == '\\' && s_[i_ + 1] == 'u') {
            uint32_t lo;
            if (read4(s_, i_ + 2, lo) && lo >= 0xdc00 && lo < 0xe000) {
              cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
              i_ += 6;
            }
          }
          appendUtf8(tmp_, cp);
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }

  bool value(int depth) {
    if (depth > kMaxDepth) return false;
    skipWs();
    if (i_ >= s_.size()) return false;
    char c = s_[i_];
    if (c == '{') return object(depth, nullptr);
    if (c == '[') return array(depth);
    if (c == '"') {
      if (!readString()) return false;
      w_.str(tmp_);
      return true;
    }
    if (s_.substr(i_, 4) == "true") {
      i_ += 4;
      w_.boolean(true);
      return true;
    }
    if (s_.substr(i_, 5) == "false") {
      i_ += 5;
      w_.boolean(false);
      return true;
    }
    if (s_.substr(i_, 4) == "null") {
      i_ += 4;
      w_.nil();
      return true;
    }
    return number();
  }

  bool number() {
    size_t start = i_;
    bool isFloat = false;
    if (peek('-')) ++i_;
    size_t digits = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    if (i_ == digits) return false;
    if (peek('.')) {
      isFloat = true;
      ++i_;
      size_t f = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      if (i_ == f) return false;
    }
    if (peek('e') || peek('E')) {
      isFloat = true;
      ++i_;
      if (peek('+') || peek('-')) ++i_;
      size_t e = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      if (i_ == e) return false;
    }
    std::string text(s_.substr(start, i_ - start));
    if (!isFloat) {
      errno = 0;
      if (text[0] == '-') {
        long long v = std::strtoll(text.c_str(), nullptr, 10);
        if (errno == 0) {
          w_.integer(v);
          return true;
        }
      } else {
        unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
        if (errno == 0) {
          w_.uint(v);
          return true;
        }
      }
    }
    w_.float64(std::strtod(text.c_str(), nullptr));
    return true;
  }

  size_t beginContainer() {
    size_t at = out_.size();
    out_.resize(at + 5);
    return at;
  }
  void endContainer(size_t at, uint32_t n, bool isMap) {
    size_t hdr = n < 16 ? 1 : n <= 0xffff ? 3 : 5;
    uint8_t* p = out_.data() + at;
    if (n < 16) {
      p[0] = static_cast<uint8_t>((isMap ? 0x80 : 0x90) | n);
    } else if (n <= 0xffff) {
      p[0] = isMap ? 0xde : 0xdc;
      p[1] = static_cast<uint8_t>(n >> 8);
      p[2] = static_cast<uint8_t>(n);
    } else {
      p[0] = isMap ? 0xdf : 0xdd;
      p[1] = static_cast<uint8_t>(n >> 24);
      p[2] = static_cast<uint8_t>(n >> 16);
      p[3] = static_cast<uint8_t>(n >> 8);
      p[4] = static_cast<uint8_t>(n);
    }
    if (hdr < 5) {
      std::memmove(p + hdr, p + 5, out_.size() - at - 5);
      out_.resize(out_.size() - (5 - hdr));
    }
  }

  // At '{'. Top level (members != nullptr): members are written bare (no map header).
  bool object(int depth, std::vector<JsonMember>* members) {
    ++i_;
    size_t at = members ? 0 : beginContainer();
    uint32_t n = 0;
    skipWs();
    if (peek('}')) {
      ++i_;
      if (!members) endContainer(at, 0, true);
      return true;
    }
    while (true) {
      skipWs();
      if (!readString()) return false;
      JsonMember m;
      w_.str(tmp_);
      m.keyLen = tmp_.size();
      m.keyOff = out_.size() - m.keyLen;
      skipWs();
      if (!peek(':')) return false;
      ++i_;
      m.valueOff = out_.size();
      if (!value(depth + 1)) return false;
      m.valueLen = out_.size() - m.valueOff;
      if (members) members->push_back(m);
      ++n;
      skipWs();
      if (peek(',')) {
        ++i_;
        continue;
      }
      if (peek('}')) {
        ++i_;
        break;
      }
      return false;
    }
    if (!members) endContainer(at, n, true);
    return true;
  }

  bool array(int depth) {
    ++i_;
    size_t at = beginContainer();
    uint32_t n = 0;
    skipWs();
    if (peek(']')) {
      ++i_;
      endContainer(at, 0, false);
      return true;
    }
    while (true) {
      if (!value(depth + 1)) return false;
      ++n;
      skipWs();
      if (peek(',')) {
        ++i_;
        continue;
      }
      if (peek(']')) {
        ++i_;
        break;
      }
      return false;
    }
    endContainer(at, n, false);
    return true;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
  std::vector<uint8_t>& out_;
  codec::MsgpackWriter w_;
  std::string tmp_;
};

}  // namespace

bool jsonObjectToMsgpack(std::string_view text, std::vector<uint8_t>& out, std::vector<JsonMember>& members) {
  Converter c(text, out);
  c.skipWs();
  if (!c.peek('{')) return false;
  if (!c.object(0, &members)) return false;
  c.skipWs();
  return c.atEnd();
}

void unescapeJsonString(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c != '\\' || i + 1 >= in.size()) {
      out.push_back(c);
      continue;
    }
    char e = in[i + 1];
    switch (e) {
      case '"': out.push_back('"'); ++i; break;
      case '\\': out.push_back('\\'); ++i; break;
      case '/': out.push_back('/'); ++i; break;
      case 'b': out.push_back('\b'); ++i; break;
      case 'f': out.push_back('\f'); ++i; break;
      case 'n': out.push_back('\n'); ++i; break;
      case 'r': out.push_back('\r'); ++i; break;
      case 't': out.push_back('\t'); ++i; break;
      case 'u': {
        uint32_t cp;
        if (!read4(in, i + 2, cp)) {
          out.push_back(c);
          break;
        }
        i += 5;
        if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < in.size() && in[i + 1] == '\\' && in[i + 2] == 'u') {
          uint32_t lo;
          if (read4(in, i + 3, lo) && lo >= 0xdc00 && lo < 0xe000) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            i += 6;
          }
        }
        appendUtf8(out, cp);
        break;
      }
      default:
        out.push_back(c);
    }
  }
}

}  // namespace firelane::parser
