// Tests for the modify filter: every rule (Set, Add, Remove, Remove_wildcard, Remove_regex, Rename,
// Hard_rename, Copy, Hard_copy, Move_to_start/end) and condition, rule order, untouched records kept
// as views, odd records (non-UTF-8, 1 MB values, nested maps, not-a-map) and config errors.
#include "filters/modify/modify.h"

#include <catch2/catch.hpp>

#include "filters/filter_test_util.h"

using namespace firelane;
using namespace firelane::filtertest;

namespace {

auto reg = &filters::modify::registerPlugin;
using Strs = std::vector<std::string>;

Strs run(const std::string& conf, const std::vector<std::vector<uint8_t>>& recs, FilterResult* result = nullptr) {
  auto f = startFilter(reg, "modify", conf);
  auto batch = makeBatch(recs);
  FilterResult r = f->filter->apply(batch);
  if (result) *result = r;
  CHECK(batch.bytes == sumBytes(batch));
  return jsonOf(batch);
}

std::string one(const std::string& conf, const std::vector<uint8_t>& rec) {
  auto out = run(conf, {rec});
  REQUIRE(out.size() == 1);
  return out[0];
}

const auto kRec = strMap({{"a", "1"}, {"b", "2"}, {"log", "hello"}});

}  // namespace

TEST_CASE("modify: Set and Add", "[filters][modify]") {
  // Set replaces every pair of the key and appends the new one at the end (Fluent Bit's order).
  CHECK(one("    Set a x\n", kRec) == R"({"b":"2","log":"hello","a":"x"})");
  CHECK(one("    Set new x\n", kRec) == R"({"a":"1","b":"2","log":"hello","new":"x"})");
  CHECK(one("    Set a \"two words\"\n", kRec) == R"({"b":"2","log":"hello","a":"two words"})");
  // Add only when the key is absent.
  CHECK(one("    Add a x\n", kRec) == R"({"a":"1","b":"2","log":"hello"})");
  CHECK(one("    Add c x\n", kRec) == R"({"a":"1","b":"2","log":"hello","c":"x"})");
  CHECK(one("    Add_if_not_present c x\n", kRec) == R"({"a":"1","b":"2","log":"hello","c":"x"})");
  // Duplicate keys: Set collapses them.
  Pack dup;
  dup.map(3).kv("k", "1").kv("o", "2").kv("k", "3");
  CHECK(one("    Set k v\n", dup.bytes()) == R"({"o":"2","k":"v"})");
}

TEST_CASE("modify: Remove, Remove_wildcard, Remove_regex", "[filters][modify]") {
  auto rec = strMap({{"kube_a", "1"}, {"kube_b", "2"}, {"log", "x"}, {"Kube_c", "3"}});
  CHECK(one("    Remove log\n", rec) == R"({"kube_a":"1","kube_b":"2","Kube_c":"3"})");
  CHECK(one("    Remove missing\n", rec) == R"({"kube_a":"1","kube_b":"2","log":"x","Kube_c":"3"})");
  CHECK(one("    Remove LOG\n", rec) == R"({"kube_a":"1","kube_b":"2","log":"x","Kube_c":"3"})");  // case-sensitive
  CHECK(one("    Remove_wildcard kube_\n", rec) == R"({"log":"x","Kube_c":"3"})");
  CHECK(one("    Remove_wildcard kube*\n", rec) == R"({"log":"x","Kube_c":"3"})");
  CHECK(one("    Remove_regex ^[Kk]ube_[ab]$\n", rec) == R"({"log":"x","Kube_c":"3"})");
  // Every key removed: an empty map (modify never drops a record).
  CHECK(one("    Remove_regex .\n", rec) == "{}");
  CHECK(configError(reg, "modify", "    Remove_wildcard \"\"\n") ==
        "t.conf:4: invalid Remove_wildcard '\"\"' in [FILTER] modify: expected KEY");
}

TEST_CASE("modify: Rename and Hard_rename", "[filters][modify]") {
  CHECK(one("    Rename a z\n", kRec) == R"({"z":"1","b":"2","log":"hello"})");   // in place
  CHECK(one("    Rename a b\n", kRec) == R"({"a":"1","b":"2","log":"hello"})");   // b exists: untouched
  CHECK(one("    Rename nope z\n", kRec) == R"({"a":"1","b":"2","log":"hello"})");
  CHECK(one("    Hard_rename a b\n", kRec) == R"({"b":"1","log":"hello"})");     // the old b goes
  CHECK(one("    Hard_rename a z\n", kRec) == R"({"z":"1","b":"2","log":"hello"})");
  CHECK(one("    Hard_rename nope b\n", kRec) == R"({"a":"1","b":"2","log":"hello"})");
  // Renaming a key to itself changes nothing (it must not delete the pair).
  CHECK(one("    Hard_rename a a\n", kRec) == R"({"a":"1","b":"2","log":"hello"})");
  CHECK(one("    Rename a a\n", kRec) == R"({"a":"1","b":"2","log":"hello"})");
}

TEST_CASE("modify: Copy and Hard_copy", "[filters][modify]") {
  CHECK(one("    Copy a z\n", kRec) == R"({"a":"1","z":"1","b":"2","log":"hello"})");  // after the source
  CHECK(one("    Copy a b\n", kRec) == R"({"a":"1","b":"2","log":"hello"})");
  CHECK(one("    Copy nope z\n", kRec) == R"({"a":"1","b":"2","log":"hello"})");
  CHECK(one("    Hard_copy a b\n", kRec) == R"({"a":"1","b":"1","log":"hello"})");
  CHECK(one("    Hard_copy a a\n", kRec) == R"({"a":"1","b":"2","log":"hello"})");  // to itself: no-op
  CHECK(one("    Hard_copy a z\n", kRec) == R"({"a":"1","z":"1","b":"2","log":"hello"})");
  // Nested values are copied as raw msgpack.
  Pack nested;
  nested.map(1).str("k8s").map(2).kv("ns", "prod").str("labels").array(2).str("x").i64(7);
  CHECK(one("    Copy k8s meta\n", nested.bytes()) ==
        R"({"k8s":{"ns":"prod","labels":["x",7]},"meta":{"ns":"prod","labels":["x",7]}})");
  // Two source pairs: ambiguous, untouched (as Fluent Bit).
  Pack dup;
  dup.map(2).kv("a", "1").kv("a", "2");
  CHECK(one("    Copy a z\n", dup.bytes()) == R"({"a":"1","a":"2"})");
}

TEST_CASE("modify: Move_to_start and Move_to_end", "[filters][modify]") {
  auto rec = strMap({{"a", "1"}, {"x_1", "2"}, {"b", "3"}, {"x_2", "4"}});
  CHECK(one("    Move_to_start x_\n", rec) == R"({"x_1":"2","x_2":"4","a":"1","b":"3"})");
  CHECK(one("    Move_to_end x_*\n", rec) == R"({"a":"1","b":"3","x_1":"2","x_2":"4"})");
}

TEST_CASE("modify: rules run in config order on the previous result", "[filters][modify]") {
  CHECK(one("    Rename a z\n    Copy z y\n    Remove b\n    Set log bye\n", kRec) ==
        R"({"z":"1","y":"1","log":"bye"})");
  // The reverse order sees other keys.
  CHECK(one("    Copy z y\n    Rename a z\n", kRec) == R"({"z":"1","b":"2","log":"hello"})");
}

TEST_CASE("modify: conditions", "[filters][modify]") {
  auto web = strMap({{"app", "web"}, {"level", "error"}, {"k", "v"}});
  auto db = strMap({{"app", "db"}, {"level", "info"}});
  Pack nested;
  nested.map(1).str("k8s").map(1).kv("ns", "prod");
  Pack boolRec;
  boolRec.map(1).str("ok").boolean(true);
  auto run2 = [&](const std::string& cond) {
    return run(cond + "    Add hit yes\n", {web, db, nested.bytes(), boolRec.bytes()});
  };
  auto hits = [&](const std::string& cond) {
    std::string mask;
    for (const auto& j : run2(cond)) mask += j.find("\"hit\":\"yes\"") != std::string::npos ? '1' : '0';
    return mask;
  };
  CHECK(hits("    Condition Key_exists level\n") == "1100");
  CHECK(hits("    Condition Key_exists $k8s['ns']\n") == "0010");
  CHECK(hits("    Condition Key_does_not_exist level\n") == "0011");
  CHECK(hits("    Condition Key_value_equals app web\n") == "1000");
  CHECK(hits("    Condition Key_value_equals app WEB\n") == "0000");  // case-sensitive
  CHECK(hits("    Condition Key_value_equals $k8s['ns'] prod\n") == "0010");
  CHECK(hits("    Condition Key_value_does_not_equal app web\n") == "0100");  // a missing key is no match
  CHECK(hits("    Condition Key_value_matches level ^err\n") == "1000");
  CHECK(hits("    Condition Key_value_matches ok ^true$\n") == "0001");  // booleans match as text
  CHECK(hits("    Condition Key_value_does_not_match level ^err\n") == "0100");
  CHECK(hits("    Condition A_key_matches ^le\n") == "1100");
  CHECK(hits("    Condition No_key_matches ^le\n") == "0011");
  CHECK(hits("    Condition Matching_keys_have_matching_values ^(app|level)$ ^(web|error|db)$\n") == "1011");
  CHECK(hits("    Condition Matching_keys_do_not_have_matching_values ^(app|level)$ ^(web|error|db)$\n") == "0100");
  // All conditions must hold.
  CHECK(hits("    Condition Key_exists level\n    Condition Key_value_equals app db\n") == "0100");
}

TEST_CASE("modify: untouched records stay views and odd records", "[filters][modify]") {
  auto f = startFilter(reg, "modify", "    Condition Key_exists log\n    Set log x\n");
  std::string big(1 << 20, 'z');
  auto batch = makeBatch({strMap({{"other", "1"}}), strMap({{"log", std::string("\xff\xfe", 2)}, {"big", big}}),
                          std::vector<uint8_t>{0x92, 0x01, 0x02}, std::vector<uint8_t>{0x82, 0xa1, 'a'}});
  const uint8_t* first = batch.events[0].record.data();
  const uint8_t* notMap = batch.events[2].record.data();
  size_t owners = batch.owners.size();
  CHECK(f->filter->apply(batch) == FilterResult::Modified);
  REQUIRE(batch.events.size() == 4);
  CHECK(batch.events[0].record.data() == first);   // condition false: the same bytes
  CHECK(batch.events[2].record.data() == notMap);  // not a map: passed on untouched
  CHECK(batch.owners.size() == owners + 1);        // every rewritten record in one new buffer
  CHECK(batch.bytes == sumBytes(batch));
  CHECK(json(batch.events[1].record) == R"({"big":")" + big + R"(","log":"x"})");
  CHECK(batch.events[3].record.size() == 3);  // malformed: untouched

  // Non-UTF-8 keys and values are compared and copied byte for byte.
  CHECK(one("    Rename \xff\xfe ok\n", strMap({{"\xff\xfe", "\xc3\x28"}})) == R"({"ok":"\ufffd("})");
  FilterResult r;
  run("    Remove nothing\n", {kRec}, &r);
  CHECK(r == FilterResult::Unchanged);
}

TEST_CASE("modify: config errors", "[filters][modify]") {
  for (const char* conf : {"    Set onlykey\n", "    Remove a b\n", "    Rename a\n", "    Copy \"a b\n",
                           "    Remove_regex (\n", "    Condition Key_exists\n", "    Condition Nope a\n",
                           "    Condition Key_value_matches a (\n", "    Condition A_key_matches (\n",
                           "    Sett a b\n"}) {
    INFO(conf);
    std::string e = configError(reg, "modify", conf);
    INFO(e);
    CHECK(e.find("t.conf:4: ") == 0);
    CHECK(e.find("[FILTER] modify") != std::string::npos);
  }
  CHECK(configError(reg, "modify", "    Set onlykey\n") ==
        "t.conf:4: invalid Set 'onlykey' in [FILTER] modify: expected KEY VALUE (quote words that contain blanks)");
  CHECK(configError(reg, "modify", "    Condition Key_value_equals a\n") ==
        "t.conf:4: invalid Condition 'Key_value_equals a' in [FILTER] modify: Key_value_equals expects KEY VALUE "
        "(quote words that contain blanks)");
  CHECK(configError(reg, "modify", "    Sett a b\n").find("did you mean 'Set'") != std::string::npos);
}
