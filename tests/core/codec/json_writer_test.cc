// Tests for the msgpack -> JSON writer: escaping, UTF-8 policy, every msgpack type, object merging,
// and a property test that checks outputs with an independent strict JSON validator.
#include "core/codec/json_writer.h"

#include <msgpack.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "support/strict_json.h"

using firelane::ExtraFields;
using firelane::codec::appendJsonObject;
using firelane::codec::appendJsonObjectWithDate;
using firelane::codec::appendJsonString;
using firelane::codec::appendJsonValue;
using firelane::testsupport::isValidJson;
using firelane::testsupport::refUtf8Length;
using firelane::testsupport::JsonValidator;

namespace {

// msgpack-c's packer, so inputs never depend on firelane's own reader.
class Packer {
 public:
  Packer() {
    msgpack_sbuffer_init(&sbuf_);
    msgpack_packer_init(&pk_, &sbuf_, msgpack_sbuffer_write);
  }
  ~Packer() { msgpack_sbuffer_destroy(&sbuf_); }
  Packer(const Packer&) = delete;
  Packer& operator=(const Packer&) = delete;

  msgpack_packer* pk() { return &pk_; }
  std::span<const uint8_t> bytes() const {
    return {reinterpret_cast<const uint8_t*>(sbuf_.data), sbuf_.size};
  }
  std::vector<uint8_t> vec() const { return {bytes().begin(), bytes().end()}; }

  Packer& str(std::string_view s) {
    msgpack_pack_str(&pk_, s.size());
    msgpack_pack_str_body(&pk_, s.data(), s.size());
    return *this;
  }
  Packer& bin(std::string_view s) {
    msgpack_pack_bin(&pk_, s.size());
    msgpack_pack_bin_body(&pk_, s.data(), s.size());
    return *this;
  }
  Packer& map(uint32_t n) {
    msgpack_pack_map(&pk_, n);
    return *this;
  }
  Packer& array(uint32_t n) {
    msgpack_pack_array(&pk_, n);
    return *this;
  }
  Packer& i64(int64_t v) {
    msgpack_pack_int64(&pk_, v);
    return *this;
  }
  Packer& f64(double v) {
    msgpack_pack_double(&pk_, v);
    return *this;
  }
  Packer& nil() {
    msgpack_pack_nil(&pk_);
    return *this;
  }
  Packer& boolean(bool v) {
    v ? msgpack_pack_true(&pk_) : msgpack_pack_false(&pk_);
    return *this;
  }

 private:
  msgpack_sbuffer sbuf_;
  msgpack_packer pk_;
};

std::string jsonString(std::string_view s) {
  std::string out;
  appendJsonString(out, s);
  return out;
}

std::string valueJson(const Packer& p) {
  std::string out;
  size_t used = appendJsonValue(out, p.bytes());
  CHECK(used == p.bytes().size());
  return out;
}

std::string objectJson(const Packer& p, const ExtraFields* extra = nullptr) {
  std::string out;
  appendJsonObject(out, p.bytes(), extra);
  return out;
}

bool refIsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = refUtf8Length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// Byte-at-a-time reference of the documented policy.
std::string refEscape(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c >= 0x80) {
      size_t n = refUtf8Length(s, i);
      if (n) {
        out.append(s.substr(i, n));
        i += n;
      } else {
        out += "\\ufffd";
        ++i;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  return out + "\"";
}


}  // namespace

TEST_CASE("json string: every control character, quote, backslash, DEL and slash", "[json]") {
  static const char* const kExpected[32] = {
      "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
      "\\b",     "\\t",     "\\n",     "\\u000b", "\\f",     "\\r",     "\\u000e", "\\u000f",
      "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
      "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f"};
  for (int c = 0; c < 32; ++c) {
    INFO("byte " << c);
    CHECK(jsonString(std::string(1, static_cast<char>(c))) == "\"" + std::string(kExpected[c]) + "\"");
  }
  CHECK(jsonString("\"") == R"("\"")");
  CHECK(jsonString("\\") == R"("\\")");
  CHECK(jsonString("\x7f") == "\"\x7f\"");
  CHECK(jsonString("a/b") == R"("a/b")");
  CHECK(jsonString("") == R"("")");
  CHECK(jsonString("say \"hi\"\n\tC:\\dir") == R"("say \"hi\"\n\tC:\\dir")");
}

TEST_CASE("json string: valid UTF-8 passes untouched, including range edges", "[json]") {
  const char* const kValid[] = {
      "\xc2\x80",          // U+0080, smallest 2-byte
      "\xc3\xa9",          // é
      "\xdf\xbf",          // U+07FF
      "\xe0\xa0\x80",      // U+0800, smallest 3-byte
      "\xe2\x82\xac",      // €
      "\xed\x9f\xbf",      // U+D7FF, just below the surrogates
      "\xee\x80\x80",      // U+E000, just above them
      "\xef\xbf\xbf",      // U+FFFF
      "\xf0\x90\x80\x80",  // U+10000, smallest 4-byte
      "\xf0\x9f\x98\x80",  // 😀
      "\xf4\x8f\xbf\xbf",  // U+10FFFF, the largest
  };
  for (const char* v : kValid) {
    INFO(v);
    CHECK(jsonString(v) == "\"" + std::string(v) + "\"");
    CHECK(jsonString(std::string("x") + v + "y") == "\"x" + std::string(v) + "y\"");
  }
  CHECK(jsonString("日本語のログ ü ß 😀") == "\"日本語のログ ü ß 😀\"");
}

// Policy: each byte that does not start a complete well-formed sequence becomes one U+FFFD (as the
// escape text \ufffd) and decoding resumes at the next byte. So a truncated 3-byte sequence gives
// two replacements, not one (this differs from WHATWG's "maximal subpart" rule on purpose: it is
// simple, stateless per byte, and never swallows a following valid character).
TEST_CASE("json string: invalid UTF-8 becomes one \\ufffd per invalid byte", "[json]") {
  const std::string r = "\\ufffd";
  struct Case {
    const char* in;
    std::string out;
  };
  const Case kCases[] = {
      {"\x80", r},                                  // lone continuation
      {"\xbf", r},                                  // lone continuation
      {"a\x80" "b", "a" + r + "b"},                 // lone continuation between ASCII
      {"\xc0\x80", r + r},                          // overlong NUL
      {"\xc1\xbf", r + r},                          // overlong 2-byte
      {"\xe0\x80\x80", r + r + r},                  // overlong 3-byte
      {"\xe0\x9f\xbf", r + r + r},                  // overlong 3-byte, top of the range
      {"\xf0\x80\x80\x80", r + r + r + r},          // overlong 4-byte
      {"\xf0\x8f\xbf\xbf", r + r + r + r},          // overlong 4-byte, top of the range
      {"\xed\xa0\x80", r + r + r},                  // surrogate U+D800
      {"\xed\xbf\xbf", r + r + r},                  // surrogate U+DFFF
      {"\xf4\x90\x80\x80", r + r + r + r},          // U+110000, above the maximum
      {"\xf5\x80\x80\x80", r + r + r + r},          // lead byte that can never appear
      {"\xff", r},                                  // ditto
      {"\xfe", r},                                  // ditto
      {"ab\xe2\x82", "ab" + r + r},                 // truncated 3-byte at end of string
      {"\xf0\x9f\x98", r + r + r},                  // truncated 4-byte at end
      {"\xc3", r},                                  // truncated 2-byte at end
      {"\xe2\x82" "A", r + r + "A"},                // truncated then ASCII
      {"\xf0\x9f\x98" "xyz", r + r + r + "xyz"},    // truncated 4-byte then ASCII
      {"\xc3\"", r + "\\\""},                       // truncated then a character that is escaped
      {"\x80\xc3\xa9", r + "\xc3\xa9"},             // invalid byte does not swallow a valid é
      {"\xe2\x82\xe2\x82\xac", r + r + "\xe2\x82\xac"},  // truncated € followed by a whole €
  };
  for (const auto& c : kCases) {
    INFO(Catch::Detail::stringify(std::string(c.in)));
    CHECK(jsonString(c.in) == "\"" + c.out + "\"");
    CHECK(jsonString(c.in) == refEscape(c.in));
  }
}

TEST_CASE("json string: special byte at every offset across SSE block boundaries", "[json]") {
  const std::string kSpecials[] = {
      "\"", "\\", "\n", "\x01", "\x1f", "\x7f", "\x80", "\xff", "\xc3\xa9", "\xe2\x82\xac",
      "\xf0\x9f\x98\x80", "\xe2\x82", "\xed\xa0\x80", "\xc3",
  };
  int checked = 0;
  for (const auto& special : kSpecials) {
    for (size_t total : {17, 31, 32, 33, 47, 48, 49, 64, 80}) {
      for (size_t offset = 0; offset <= 40 && offset < total; ++offset) {
        std::string s(total, 'x');
        for (size_t k = 0; k < total; ++k) s[k] = static_cast<char>('a' + k % 26);
        s.replace(offset, std::min(special.size(), total - offset), special);
        s.resize(total);
        INFO("special " << Catch::Detail::stringify(special) << " total " << total << " offset " << offset);
        REQUIRE(jsonString(s) == refEscape(s));
        ++checked;
      }
    }
  }
  // Two specials in one block, and specials at both ends.
  for (size_t a = 0; a < 40; ++a) {
    for (size_t b = a + 1; b < 41; ++b) {
      std::string s(41, 'q');
      s[a] = '"';
      s[b] = '\x02';
      REQUIRE(jsonString(s) == refEscape(s));
    }
  }
  CHECK(checked > 1000);
}

TEST_CASE("json string: all-escape and long inputs grow the output correctly", "[json]") {
  std::string allEscapes(100000, '\x01');
  CHECK(jsonString(allEscapes) == refEscape(allEscapes));
  std::string mixed;
  for (int i = 0; i < 50000; ++i) mixed += (i % 7 == 0) ? "\xe2\x82\xac" : (i % 11 == 0) ? "\xff" : "ab\"";
  CHECK(jsonString(mixed) == refEscape(mixed));
  // Appends after existing content and keeps it.
  std::string out = "prefix:";
  appendJsonString(out, "a\nb");
  CHECK(out == "prefix:\"a\\nb\"");
}

TEST_CASE("json value: integers of every width and sign edge", "[json]") {
  struct Case {
    std::function<void(msgpack_packer*)> pack;
    std::string json;
  };
  const Case kCases[] = {
      {[](msgpack_packer* p) { msgpack_pack_int64(p, 0); }, "0"},
      {[](msgpack_packer* p) { msgpack_pack_int64(p, 127); }, "127"},  // positive fixint
      {[](msgpack_packer* p) { msgpack_pack_int64(p, -1); }, "-1"},    // negative fixint
      {[](msgpack_packer* p) { msgpack_pack_int64(p, -32); }, "-32"},
      {[](msgpack_packer* p) { msgpack_pack_fix_uint8(p, 0); }, "0"},
      {[](msgpack_packer* p) { msgpack_pack_fix_uint8(p, 255); }, "255"},
      {[](msgpack_packer* p) { msgpack_pack_fix_uint16(p, 65535); }, "65535"},
      {[](msgpack_packer* p) { msgpack_pack_fix_uint32(p, 4294967295u); }, "4294967295"},
      {[](msgpack_packer* p) { msgpack_pack_fix_uint64(p, UINT64_MAX); }, "18446744073709551615"},
      {[](msgpack_packer* p) { msgpack_pack_fix_int8(p, -128); }, "-128"},
      {[](msgpack_packer* p) { msgpack_pack_fix_int8(p, 127); }, "127"},
      {[](msgpack_packer* p) { msgpack_pack_fix_int16(p, -32768); }, "-32768"},
      {[](msgpack_packer* p) { msgpack_pack_fix_int16(p, 32767); }, "32767"},
      {[](msgpack_packer* p) { msgpack_pack_fix_int32(p, INT32_MIN); }, "-2147483648"},
      {[](msgpack_packer* p) { msgpack_pack_fix_int32(p, INT32_MAX); }, "2147483647"},
      {[](msgpack_packer* p) { msgpack_pack_fix_int64(p, INT64_MIN); }, "-9223372036854775808"},
      {[](msgpack_packer* p) { msgpack_pack_fix_int64(p, INT64_MAX); }, "9223372036854775807"},
      {[](msgpack_packer* p) { msgpack_pack_fix_int64(p, -1); }, "-1"},
      {[](msgpack_packer* p) { msgpack_pack_int64(p, -33); }, "-33"},           // int8
      {[](msgpack_packer* p) { msgpack_pack_int64(p, 1700000000000LL); }, "1700000000000"},
  };
  for (const auto& c : kCases) {
    Packer p;
    c.pack(p.pk());
    INFO(c.json);
    CHECK(valueJson(p) == c.json);
  }
  Packer p;
  p.nil();
  CHECK(valueJson(p) == "null");
  Packer t;
  t.boolean(true);
  CHECK(valueJson(t) == "true");
  Packer f;
  f.boolean(false);
  CHECK(valueJson(f) == "false");
}

// Floats: shortest round-trip text; integral values keep a ".0" so they still read as floats.
TEST_CASE("json value: floats", "[json]") {
  auto d = [](double v) {
    Packer p;
    p.f64(v);
    return valueJson(p);
  };
  auto f = [](float v) {
    Packer p;
    msgpack_pack_float(p.pk(), v);
    return valueJson(p);
  };
  CHECK(d(0.1) == "0.1");
  CHECK(d(1e300) == "1e+300");
  CHECK(d(-0.0) == "-0.0");
  CHECK(d(0.0) == "0.0");
  CHECK(d(1.0) == "1.0");
  CHECK(d(-42.0) == "-42.0");
  CHECK(d(123456789.0) == "123456789.0");
  CHECK(d(1.5) == "1.5");
  CHECK(d(1e21) == "1e+21");
  CHECK(d(5e-324) == "5e-324");
  CHECK(d(std::numeric_limits<double>::max()) == "1.7976931348623157e+308");
  CHECK(d(std::nan("")) == "null");
  CHECK(d(std::numeric_limits<double>::infinity()) == "null");
  CHECK(d(-std::numeric_limits<double>::infinity()) == "null");
  CHECK(f(0.1f) == "0.1");  // float32 shortest, not 0.10000000149011612
  CHECK(f(3.0f) == "3.0");
  CHECK(f(-2.5f) == "-2.5");
  CHECK(f(std::numeric_limits<float>::quiet_NaN()) == "null");
  CHECK(f(std::numeric_limits<float>::infinity()) == "null");

  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    uint64_t bits = rng();
    double v;
    std::memcpy(&v, &bits, sizeof v);
    std::string text = d(v);
    if (!std::isfinite(v)) {
      CHECK(text == "null");
      continue;
    }
    REQUIRE(isValidJson(text));
    REQUIRE(std::strtod(text.c_str(), nullptr) == v);
  }
}

TEST_CASE("json value: nested arrays and maps, bin, ext", "[json]") {
  Packer p;
  p.map(3).str("a").array(3).i64(1).array(2).i64(2).map(1).str("b").nil().map(0);
  p.str("c").map(1).str("d").boolean(true);
  p.str("e").array(0);
  CHECK(valueJson(p) == R"({"a":[1,[2,{"b":null}],{}],"c":{"d":true},"e":[]})");

  Packer bin;
  bin.array(2).bin(std::string("a\0\"\xff\xc3\xa9", 6)).bin("");
  CHECK(valueJson(bin) == "[\"a\\u0000\\\"\\ufffd\xc3\xa9\",\"\"]");

  // Ext has no JSON meaning: every ext size, and the timestamp ext, become null and are skipped.
  Packer ext;
  ext.array(9);
  for (size_t n : {1, 2, 4, 8, 16, 3, 300, 70000}) {
    std::string body(n, 'z');
    msgpack_pack_ext(ext.pk(), n, 7);
    msgpack_pack_ext_body(ext.pk(), body.data(), n);
  }
  msgpack_timestamp ts{1700000000, 5};
  msgpack_pack_timestamp(ext.pk(), &ts);
  ext.i64(1);  // not part of the array: checks the consumed length below
  std::string out;
  size_t used = appendJsonValue(out, ext.bytes());
  CHECK(out == "[null,null,null,null,null,null,null,null,null]");
  CHECK(used == ext.bytes().size() - 1);

  // Long strings use str8/str16; the length is read from the right field.
  Packer longStr;
  longStr.array(2).str(std::string(200, 'L')).str(std::string(70000, 'M'));
  CHECK(valueJson(longStr) == "[\"" + std::string(200, 'L') + "\",\"" + std::string(70000, 'M') + "\"]");

  Packer big;
  big.array(20);
  for (int i = 0; i < 20; ++i) big.i64(i);
  std::string expected = "[";
  for (int i = 0; i < 20; ++i) expected += (i ? "," : "") + std::to_string(i);
  CHECK(valueJson(big) == expected + "]");
}

TEST_CASE("json object: non-string keys become strings of their JSON text", "[json]") {
  Packer p;
  p.map(8);
  p.i64(5).str("five");
  p.i64(-1).i64(1);
  p.nil().i64(2);
  p.boolean(true).i64(3);
  p.f64(1.5).i64(4);
  p.array(2).i64(1).str("a\n").i64(5);
  p.bin("bk").i64(6);
  p.map(0).i64(7);
  CHECK(objectJson(p) ==
        R"({"5":"five","-1":1,"null":2,"true":3,"1.5":4,"[1,\"a\\n\"]":5,"bk":6,"{}":7})");
  CHECK(isValidJson(objectJson(p)));
}

TEST_CASE("json object: empty map, extra fields, date key", "[json]") {
  Packer empty;
  empty.map(0);
  CHECK(objectJson(empty) == "{}");

  Packer rec;
  rec.map(2).str("log").str("hello").str("n").i64(3);
  CHECK(objectJson(rec) == R"({"log":"hello","n":3})");

  Packer kv;
  kv.str("ecs_cluster").str("prod").str("task").array(1).i64(9);
  ExtraFields extra{kv.vec(), 2};
  CHECK(objectJson(rec, &extra) == R"({"log":"hello","n":3,"ecs_cluster":"prod","task":[9]})");
  CHECK(objectJson(empty, &extra) == R"({"ecs_cluster":"prod","task":[9]})");
  ExtraFields none;
  CHECK(objectJson(rec, &none) == R"({"log":"hello","n":3})");
  CHECK(objectJson(empty, &none) == "{}");

  // map16 headers (more than 15 fields).
  Packer wide;
  wide.map(16);
  std::string expected = "{";
  for (int i = 0; i < 16; ++i) {
    wide.str("k" + std::to_string(i)).i64(i);
    expected += std::string(i ? "," : "") + "\"k" + std::to_string(i) + "\":" + std::to_string(i);
  }
  CHECK(objectJson(wide) == expected + "}");

  std::string out = "[";
  appendJsonObjectWithDate(out, "date", "1700000000.5", rec.bytes());
  CHECK(out == R"([{"date":1700000000.5,"log":"hello","n":3})");
  out.clear();
  appendJsonObjectWithDate(out, "@timestamp", "\"2024-01-01T00:00:00Z\"", empty.bytes());
  CHECK(out == R"({"@timestamp":"2024-01-01T00:00:00Z"})");
  out.clear();
  appendJsonObjectWithDate(out, "date", "1.5", empty.bytes(), &extra);
  CHECK(out == R"({"date":1.5,"ecs_cluster":"prod","task":[9]})");
  out.clear();
  appendJsonObjectWithDate(out, "date", "1.5", rec.bytes(), &extra);
  CHECK(out == R"({"date":1.5,"log":"hello","n":3,"ecs_cluster":"prod","task":[9]})");
  out.clear();
  appendJsonObjectWithDate(out, "", "1.5", rec.bytes());
  CHECK(out == R"({"log":"hello","n":3})");
  out.clear();
  appendJsonObjectWithDate(out, "d\"k", "1", empty.bytes());
  CHECK(out == R"({"d\"k":1})");

  // Many records appended into one reused buffer.
  std::string batch;
  for (int i = 0; i < 1000; ++i) {
    appendJsonObject(batch, rec.bytes(), &extra);
    batch += '\n';
  }
  CHECK(batch.size() == 1000 * (objectJson(rec, &extra).size() + 1));
}

TEST_CASE("json: truncated or hostile msgpack never reads past the end and stays valid JSON", "[json]") {
  Packer p;
  p.map(6).str("log").str(std::string(40, 'x') + "\n\xc3\xa9").str("n").f64(2.5);
  p.str("arr").array(3).i64(-70000).bin("bb").nil();
  p.str("m").map(1).i64(1).array(1).str("deep");
  p.str("u").i64(INT64_MIN);
  p.str("t").boolean(false);
  auto full = p.vec();
  for (size_t n = 0; n <= full.size(); ++n) {
    // A fresh heap copy of exactly n bytes, so ASan builds catch any over-read.
    std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<long>(n));
    std::string out;
    appendJsonObject(out, cut);
    INFO("prefix " << n << ": " << out);
    REQUIRE(isValidJson(out));
    std::string value;
    size_t used = appendJsonValue(value, cut);
    REQUIRE(used <= n);
    if (n > 0) REQUIRE(isValidJson(value));
  }
  CHECK(objectJson(p) == R"({"log":")" + std::string(40, 'x') +
                             "\\n\xc3\xa9\",\"n\":2.5,\"arr\":[-70000,\"bb\",null],\"m\":{\"1\":[\"deep\"]},"
                             "\"u\":-9223372036854775808,\"t\":false}");

  // A record that is not a map still yields an object.
  Packer notMap;
  notMap.i64(5);
  CHECK(objectJson(notMap) == "{}");

  // Nesting deeper than the writer recurses: the deep part becomes null, the rest is kept.
  Packer deep;
  deep.array(2);
  for (int i = 0; i < 10000; ++i) deep.array(1);
  deep.i64(1);
  deep.str("after");
  std::string out;
  size_t used = appendJsonValue(out, deep.bytes());
  CHECK(used == deep.bytes().size());
  CHECK(isValidJson(out));
  CHECK(out.find("null") != std::string::npos);
  CHECK(out.ends_with(",\"after\"]"));

  // A header claiming 4 billion elements with nothing behind it.
  const uint8_t hostile[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
  std::string h;
  CHECK(appendJsonValue(h, hostile) == sizeof hostile);
  CHECK(h == "[1]");
}

TEST_CASE("json property: random bytes always give valid JSON that decodes back", "[json]") {
  std::mt19937 rng(20240601);
  // Biased pieces so valid multi-byte UTF-8 is common and every error class appears.
  const std::vector<std::string> kPieces = {
      "a", "Z", " ", "\"", "\\", "/", "\n", "\x01", "\x7f", "\xc3\xa9", "\xe2\x82\xac",
      "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf", "\xee\x80\x80", "\x80", "\xc0\x80",
      "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\xff"};
  int validInputs = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s;
    const size_t len = rng() % 70;
    const int mode = iter % 3;
    while (s.size() < len) {
      if (mode == 0) {
        s += static_cast<char>(rng() & 0xff);  // uniform bytes: mostly invalid UTF-8 above 0x7f
      } else if (mode == 1) {
        s += kPieces[rng() % kPieces.size()];
      } else {
        s += kPieces[rng() % 15];  // only valid pieces
      }
    }
    const std::string json = jsonString(s);
    INFO("input " << Catch::Detail::stringify(s));
    REQUIRE(json == refEscape(s));
    auto decoded = JsonValidator(json).stringDocument();
    REQUIRE(decoded.has_value());
    if (refIsValidUtf8(s)) {
      ++validInputs;
      REQUIRE(*decoded == s);
    } else {
      REQUIRE(refIsValidUtf8(*decoded));
      REQUIRE(decoded->find("\xef\xbf\xbd") != std::string::npos);
    }
  }
  CHECK(validInputs > 5000);

  // Random msgpack documents (keys of any type, nested, random strings) give valid JSON objects.
  std::function<void(Packer&, int)> randomValue = [&](Packer& p, int depth) {
    std::string s(rng() % 20, ' ');
    for (auto& c : s) c = static_cast<char>(rng() & 0xff);
    switch (rng() % (depth > 3 ? 8 : 10)) {
      case 0: p.nil(); break;
      case 1: p.boolean(rng() & 1); break;
      case 2: p.i64(static_cast<int64_t>(static_cast<uint64_t>(rng()) << 32 | rng()) >> (rng() % 64)); break;
      case 3: {
        uint64_t bits = static_cast<uint64_t>(rng()) << 32 | rng();
        double v;
        std::memcpy(&v, &bits, sizeof v);
        p.f64(v);
        break;
      }
      case 4: p.str(s); break;
      case 5: p.bin(s); break;
      case 6: msgpack_pack_ext(p.pk(), s.size(), 3), msgpack_pack_ext_body(p.pk(), s.data(), s.size()); break;
      case 7: msgpack_pack_float(p.pk(), static_cast<float>(rng()) / 7.0f); break;
      case 8: {
        uint32_t n = rng() % 4;
        p.array(n);
        for (uint32_t i = 0; i < n; ++i) randomValue(p, depth + 1);
        break;
      }
      default: {
        uint32_t n = rng() % 4;
        p.map(n);
        for (uint32_t i = 0; i < 2 * n; ++i) randomValue(p, depth + 1);
        break;
      }
    }
  };
  for (int iter = 0; iter < 3000; ++iter) {
    Packer p;
    uint32_t n = rng() % 6;
    p.map(n);
    for (uint32_t i = 0; i < 2 * n; ++i) randomValue(p, 0);
    std::string out = objectJson(p);
    INFO(out);
    REQUIRE(isValidJson(out));
  }
}
