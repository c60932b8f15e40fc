// Record accessor parsing and in-place lookup over msgpack records.
#include "core/record/record_accessor.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "core/codec/json_writer.h"
#include "core/proto/msgpack_cursor.h"

namespace firelane::record {

using proto::MsgpackCursor;
using proto::MsgpackHeader;
using proto::MsgpackStatus;
using proto::MsgpackType;

namespace {

// Parses the subscripts after the key name: ['a'] ["a"] [0].
Status parseSubscripts(std::string_view s, std::vector<PathStep>& path) {
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != '[') return Status::error("unexpected '" + std::string(s.substr(i)) + "' after a key");
    ++i;
    if (i >= s.size()) return Status::error("unterminated '['");
    PathStep step;
    if (s[i] == '\'' || s[i] == '"') {
      char q = s[i++];
      size_t close = s.find(q, i);
      if (close == std::string_view::npos) return Status::error("missing closing quote in subscript");
      step.key = std::string(s.substr(i, close - i));
      i = close + 1;
    } else if (s[i] >= '0' && s[i] <= '9') {
      uint64_t v = 0;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        v = v * 10 + static_cast<uint64_t>(s[i] - '0');
        if (v > UINT32_MAX) return Status::error("array index too large");
        ++i;
      }
      step.index = static_cast<uint32_t>(v);
      step.isIndex = true;
    } else {
      return Status::error("expected a quoted key or an array index inside '[...]'");
    }
    if (i >= s.size() || s[i] != ']') return Status::error("missing ']'");
    ++i;
    path.push_back(std::move(step));
  }
  return {};
}

bool keyEquals(MsgpackCursor& c, std::string_view key, bool& isMatch) {
  MsgpackHeader h;
  if (c.peek(h) != MsgpackStatus::Ok) return false;
  if (h.type == MsgpackType::Str || h.type == MsgpackType::Bin) {
    std::span<const uint8_t> b;
    if (c.readStrOrBin(b) != MsgpackStatus::Ok) return false;
    isMatch = b.size() == key.size() && (key.empty() || std::memcmp(b.data(), key.data(), key.size()) == 0);
    return true;
  }
  isMatch = false;
  return c.skip() == MsgpackStatus::Ok;
}

// Value of `key` in the map at the front of `c`'s span; empty when absent.
Bytes findInMap(Bytes map, std::string_view key, Bytes* keyRange) {
  MsgpackCursor c(map);
  uint32_t n;
  if (c.readMap(n) != MsgpackStatus::Ok) return {};
  Bytes found;
  for (uint32_t i = 0; i < n; ++i) {
    size_t keyStart = c.offset();
    bool match = false;
    if (!keyEquals(c, key, match)) return {};
    size_t keyEnd = c.offset();
    Bytes v;
    if (c.skip(v) != MsgpackStatus::Ok) return {};
    if (match) {
      found = v;
      if (keyRange) *keyRange = map.subspan(keyStart, keyEnd - keyStart);
    }
  }
  return found;
}

Bytes findInArray(Bytes array, uint32_t index) {
  MsgpackCursor c(array);
  uint32_t n;
  if (c.readArray(n) != MsgpackStatus::Ok || index >= n) return {};
  for (uint32_t i = 0; i < index; ++i)
    if (c.skip() != MsgpackStatus::Ok) return {};
  Bytes v;
  if (c.skip(v) != MsgpackStatus::Ok) return {};
  return v;
}

}  // namespace

Result<RecordAccessor> RecordAccessor::parse(std::string_view text) {
  RecordAccessor ra;
  ra.text_ = std::string(text);
  if (text.empty()) return Status::error("empty key");
  if (text[0] != '$') {
    ra.path_.push_back(PathStep{std::string(text)});
    return ra;
  }
  std::string_view body = text.substr(1);
  size_t bracket = body.find('[');
  std::string_view name = body.substr(0, bracket);
  if (name.empty()) return Status::error("record accessor '" + std::string(text) + "' has no key name");
  ra.path_.push_back(PathStep{std::string(name)});
  if (bracket != std::string_view::npos) {
    Status st = parseSubscripts(body.substr(bracket), ra.path_);
    if (!st) return Status::error("invalid record accessor '" + std::string(text) + "': " + st.message());
  }
  return ra;
}

RecordAccessor RecordAccessor::literal(std::string_view name) {
  RecordAccessor ra;
  ra.text_ = std::string(name);
  ra.path_.push_back(PathStep{std::string(name)});
  return ra;
}

Bytes RecordAccessor::find(Bytes record) const {
  if (path_.empty()) return {};
  Bytes v = findInMap(record, path_[0].key, nullptr);
  for (size_t i = 1; i < path_.size() && !v.empty(); ++i) {
    v = path_[i].isIndex ? findInArray(v, path_[i].index) : findInMap(v, path_[i].key, nullptr);
  }
  return v;
}

Bytes findKey(Bytes record, std::string_view key, Bytes* keyRange) { return findInMap(record, key, keyRange); }

bool stringValue(Bytes value, std::string_view& out) {
  if (value.empty()) return false;
  MsgpackCursor c(value);
  std::span<const uint8_t> b;
  if (c.readStrOrBin(b) != MsgpackStatus::Ok) return false;
  out = {reinterpret_cast<const char*>(b.data()), b.size()};
  return true;
}

bool appendValueText(std::string& out, Bytes value) {
  if (value.empty()) return false;
  MsgpackCursor c(value);
  MsgpackHeader h;
  if (c.peek(h) != MsgpackStatus::Ok) return false;
  char buf[64];
  int n = 0;
  switch (h.type) {
    case MsgpackType::Str: {
      std::string_view s;
      if (!stringValue(value, s)) return false;
      out.append(s);
      return true;
    }
    case MsgpackType::Bin: {
      std::string_view s;
      if (!stringValue(value, s)) return false;
      static const char* hex = "0123456789abcdef";
      for (unsigned char ch : s) {
        out.push_back(hex[ch >> 4]);
        out.push_back(hex[ch & 15]);
      }
      return true;
    }
    case MsgpackType::PosInt:
      n = std::snprintf(buf, sizeof buf, "%" PRIu64, h.uintValue());
      break;
    case MsgpackType::NegInt:
      n = std::snprintf(buf, sizeof buf, "%" PRId64, h.intValue());
      break;
    case MsgpackType::Float32:
    case MsgpackType::Float64:
      n = std::snprintf(buf, sizeof buf, "%f", h.floatValue());
      break;
    case MsgpackType::Bool:
      out.append(h.boolValue() ? "true" : "false");
      return true;
    case MsgpackType::Nil:
      out.append("null");
      return true;
    case MsgpackType::Map:
    case MsgpackType::Array: {
      Bytes raw;
      if (c.skip(raw) != MsgpackStatus::Ok) return false;
      codec::appendJsonValue(out, raw);
      return true;
    }
    case MsgpackType::Ext:
      return false;
  }
  if (n <= 0) return false;
  out.append(buf, static_cast<size_t>(std::min<int>(n, sizeof buf - 1)));
  return true;
}

Result<RecordTemplate> RecordTemplate::parse(std::string_view text) {
  RecordTemplate t;
  t.text_ = std::string(text);
  auto literal = [&](std::string_view s) {
    if (s.empty()) return;
    if (!t.parts_.empty() && t.parts_.back().kind == Kind::Literal) {
      t.parts_.back().literal.append(s);
      return;
    }
    Part p;
    p.literal = std::string(s);
    t.parts_.push_back(std::move(p));
  };
  size_t i = 0;
  while (i < text.size()) {
    size_t dollar = text.find('$', i);
    if (dollar == std::string_view::npos) {
      literal(text.substr(i));
      break;
    }
    literal(text.substr(i, dollar - i));
    size_t n = dollar + 1;
    if (n >= text.size()) {  // a trailing '$' is text
      literal("$");
      break;
    }
    if (text[n] >= '0' && text[n] <= '9') {
      Part p;
      p.kind = Kind::Capture;
      p.n = static_cast<uint32_t>(text[n] - '0');
      t.parts_.push_back(std::move(p));
      t.usesCaptures_ = true;
      i = n + 1;
      continue;
    }
    if (text.substr(n, 3) == "TAG") {
      size_t after = n + 3;
      if (after < text.size() && text[after] == '[') {
        size_t close = text.find(']', after);
        if (close == std::string_view::npos) return Status::error("missing ']' after $TAG[ in '" + t.text_ + "'");
        std::string_view num = text.substr(after + 1, close - after - 1);
        uint32_t v = 0;
        if (num.empty() || num.size() > 6) return Status::error("invalid $TAG[n] in '" + t.text_ + "'");
        for (char ch : num) {
          if (ch < '0' || ch > '9') return Status::error("invalid $TAG[n] in '" + t.text_ + "'");
          v = v * 10 + static_cast<uint32_t>(ch - '0');
        }
        Part p;
        p.kind = Kind::TagPart;
        p.n = v;
        t.parts_.push_back(std::move(p));
        i = close + 1;
        continue;
      }
      Part p;
      p.kind = Kind::Tag;
      t.parts_.push_back(std::move(p));
      i = after;
      continue;
    }
    // A key accessor runs to '.', ' ', ',', '"' or the next '$' outside quotes.
    size_t end = n;
    bool inQuote = false;
    for (; end < text.size(); ++end) {
      char ch = text[end];
      if (ch == '\'') inQuote = !inQuote;
      if (inQuote) continue;
      if (ch == '.' || ch == ' ' || ch == ',' || ch == '"' || ch == '$') break;
    }
    auto ra = RecordAccessor::parse(text.substr(dollar, end - dollar));
    if (!ra) return Status::error(ra.message() + " in '" + t.text_ + "'");
    Part p;
    p.kind = Kind::Key;
    p.accessor = std::move(*ra);
    t.parts_.push_back(std::move(p));
    i = end;
  }
  return t;
}

bool RecordTemplate::render(std::string& out, std::string_view tag, Bytes record,
                            std::span<const std::string_view> captures) const {
  bool all = true;
  for (const Part& p : parts_) {
    switch (p.kind) {
      case Kind::Literal:
        out.append(p.literal);
        break;
      case Kind::Key: {
        Bytes v = p.accessor.find(record);
        if (v.empty() || !appendValueText(out, v)) all = false;
        break;
      }
      case Kind::Capture:
        if (p.n < captures.size()) out.append(captures[p.n]);
        break;
      case Kind::Tag:
        out.append(tag);
        break;
      case Kind::TagPart: {
        size_t start = 0;
        uint32_t idx = 0;
        for (;;) {
          size_t dot = tag.find('.', start);
          if (idx == p.n) {
            out.append(tag.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
            break;
          }
          if (dot == std::string_view::npos) break;
          start = dot + 1;
          ++idx;
        }
        break;
      }
    }
  }
  return all;
}

}  // namespace firelane::record
