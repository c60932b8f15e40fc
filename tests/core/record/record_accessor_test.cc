// Tests for record accessors and templates: syntax errors, nested lookups, arrays, duplicates, and
// value rendering, on records packed by msgpack-c.
#include "core/record/record_accessor.h"

#include <catch2/catch.hpp>

#include "filters/filter_test_util.h"

using firelane::filtertest::Pack;
using namespace firelane::record;

namespace {

std::vector<uint8_t> nestedRecord() {
  Pack p;
  p.map(4).kv("log", "hello");
  p.str("kubernetes").map(2).kv("namespace_name", "prod").str("labels").map(1).kv("app", "web");
  p.str("list").array(3).i64(10).str("two").map(1).kv("k", "v");
  p.str("n").i64(-42);
  return p.bytes();
}

std::string text(Bytes v) {
  std::string s;
  REQUIRE(appendValueText(s, v));
  return s;
}

}  // namespace

TEST_CASE("record accessor: parse forms and errors", "[record]") {
  auto a = RecordAccessor::parse("$kubernetes['labels'][\"app\"][3]");
  REQUIRE(a.ok());
  REQUIRE(a->path().size() == 4);
  CHECK(a->key() == "kubernetes");
  CHECK(a->path()[1].key == "labels");
  CHECK(a->path()[2].key == "app");
  CHECK(a->path()[3].isIndex);
  CHECK(a->path()[3].index == 3);

  auto plain = RecordAccessor::parse("weird[key");
  REQUIRE(plain.ok());
  CHECK(plain->path().size() == 1);
  CHECK(plain->key() == "weird[key");

  CHECK(RecordAccessor::parse("").message() == "empty key");
  CHECK(RecordAccessor::parse("$").message() == "record accessor '$' has no key name");
  CHECK(RecordAccessor::parse("$a['b'").message() == "invalid record accessor '$a['b'': missing ']'");
  CHECK(RecordAccessor::parse("$a['b]").message() == "invalid record accessor '$a['b]': missing closing quote in subscript");
  CHECK(RecordAccessor::parse("$a[b]").message() ==
        "invalid record accessor '$a[b]': expected a quoted key or an array index inside '[...]'");
  CHECK(RecordAccessor::parse("$a['b']x").message() == "invalid record accessor '$a['b']x': unexpected 'x' after a key");
  CHECK(RecordAccessor::parse("$a[").message() == "invalid record accessor '$a[': unterminated '['");
  CHECK_FALSE(RecordAccessor::parse("$a[99999999999]").ok());
}

TEST_CASE("record accessor: lookups", "[record]") {
  auto rec = nestedRecord();
  auto get = [&](const char* s) { return RecordAccessor::parse(s)->find(rec); };
  std::string_view sv;
  REQUIRE(stringValue(get("$log"), sv));
  CHECK(sv == "hello");
  REQUIRE(stringValue(get("log"), sv));
  CHECK(sv == "hello");
  CHECK(text(get("$kubernetes['namespace_name']")) == "prod");
  CHECK(text(get("$kubernetes['labels']['app']")) == "web");
  CHECK(text(get("$list[0]")) == "10");
  CHECK(text(get("$list[1]")) == "two");
  CHECK(text(get("$list[2]['k']")) == "v");
  CHECK(text(get("$n")) == "-42");
  CHECK(text(get("$kubernetes['labels']")) == R"({"app":"web"})");
  CHECK(get("$missing").empty());
  CHECK(get("$list[3]").empty());
  CHECK(get("$log['x']").empty());
  CHECK(get("$list['x']").empty());
  CHECK(get("$kubernetes[0]").empty());
  CHECK(get("$kubernetes['nope']").empty());
  // Not a map / malformed / truncated.
  std::vector<uint8_t> notMap = {0x91, 0x01};
  CHECK(RecordAccessor::parse("$a")->find(notMap).empty());
  std::vector<uint8_t> cut(rec.begin(), rec.end() - 3);
  CHECK(RecordAccessor::parse("$n")->find(cut).empty());
  CHECK(RecordAccessor::parse("$n")->find({}).empty());
}

TEST_CASE("record accessor: duplicate keys (last wins), bin keys, non-string keys", "[record]") {
  Pack p;
  p.map(4).kv("a", "first").i64(7).str("int key").bin("a").str("bin key").kv("a", "last");
  auto rec = p.bytes();
  std::string_view sv;
  REQUIRE(stringValue(RecordAccessor::parse("$a")->find(rec), sv));
  CHECK(sv == "last");
  Bytes keyRange;
  Bytes v = findKey(rec, "a", &keyRange);
  REQUIRE(stringValue(v, sv));
  CHECK(sv == "last");
  CHECK(keyRange.size() == 2);
}

TEST_CASE("record accessor: value rendering", "[record]") {
  Pack p;
  p.map(8).str("i").i64(123).str("u").i64(-5).str("f").f64(1.5).str("t").boolean(true);
  p.str("n").nil().str("b").bin("\x01\xff").str("s").str("x\xff").str("a").array(2).i64(1).str("z");
  auto rec = p.bytes();
  auto get = [&](const char* k) { return findKey(rec, k); };
  CHECK(text(get("i")) == "123");
  CHECK(text(get("u")) == "-5");
  CHECK(text(get("f")) == "1.500000");
  CHECK(text(get("t")) == "true");
  CHECK(text(get("n")) == "null");
  CHECK(text(get("b")) == "01ff");
  CHECK(text(get("s")) == "x\xff");
  CHECK(text(get("a")) == R"([1,"z"])");
  std::string_view sv;
  CHECK_FALSE(stringValue(get("i"), sv));
  REQUIRE(stringValue(get("b"), sv));
  CHECK(sv == "\x01\xff");
  std::vector<uint8_t> ext = {0xd4, 0x01, 0x02};
  std::string out;
  CHECK_FALSE(appendValueText(out, ext));
}

TEST_CASE("record template: tag parts and captures and keys", "[record]") {
  auto rec = nestedRecord();
  auto t = RecordTemplate::parse("new.$TAG[1].$kubernetes['namespace_name'].$1-$0.$TAG,$n $missing$");
  REQUIRE(t.ok());
  CHECK(t->usesCaptures());
  std::string out;
  std::string_view caps[] = {"whole", "one"};
  CHECK_FALSE(t->render(out, "app.web.x", rec, caps));
  CHECK(out == "new.web.prod.one-whole.app.web.x,-42 $");
  out.clear();
  auto t2 = RecordTemplate::parse("$TAG[0]|$TAG[5]|$kubernetes['labels']['app']");
  REQUIRE(t2.ok());
  CHECK(t2->render(out, "solo", rec));
  CHECK(out == "solo||web");
  CHECK_FALSE(RecordTemplate::parse("$TAG[x]").ok());
  CHECK_FALSE(RecordTemplate::parse("$TAG[1").ok());
  CHECK(RecordTemplate::parse("a.$b[").message() == "invalid record accessor '$b[': unterminated '[' in 'a.$b['");
}
