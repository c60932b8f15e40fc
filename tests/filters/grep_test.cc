// Tests for the grep filter: Regex/Exclude on plain and nested keys, legacy/and/or combination,
// zero-copy keeps, bytes accounting, odd values (non-UTF-8, 1 MB, numbers, missing) and config errors.
#include "filters/grep/grep.h"

#include <catch2/catch.hpp>

#include "filters/filter_test_util.h"

using namespace firelane;
using namespace firelane::filtertest;

namespace {

auto reg = &filters::grep::registerPlugin;

std::vector<std::string> run(const std::string& conf, const std::vector<std::vector<uint8_t>>& recs,
                             FilterResult* result = nullptr) {
  auto f = startFilter(reg, "grep", conf);
  auto batch = makeBatch(recs);
  FilterResult r = f->filter->apply(batch);
  if (result) *result = r;
  CHECK(batch.bytes == sumBytes(batch));
  return jsonOf(batch);
}

}  // namespace

TEST_CASE("grep: Regex keeps matching records without copying them", "[filters][grep]") {
  auto f = startFilter(reg, "grep", "    Regex log ^err\n");
  auto batch = makeBatch({strMap({{"log", "error 1"}}), strMap({{"log", "info"}}), strMap({{"log", "err 2"}})});
  const uint8_t* first = batch.events[0].record.data();
  const uint8_t* third = batch.events[2].record.data();
  size_t owners = batch.owners.size();
  CHECK(f->filter->apply(batch) == FilterResult::Modified);
  REQUIRE(batch.events.size() == 2);
  CHECK(batch.events[0].record.data() == first);
  CHECK(batch.events[1].record.data() == third);
  CHECK(batch.owners.size() == owners);
  CHECK(batch.bytes == sumBytes(batch));

  auto all = makeBatch({strMap({{"log", "err"}})});
  CHECK(f->filter->apply(all) == FilterResult::Unchanged);
  auto none = makeBatch({strMap({{"log", "info"}})});
  CHECK(f->filter->apply(none) == FilterResult::DropAll);
  CHECK(none.bytes == 0);
}

TEST_CASE("grep: Exclude, unanchored search, missing keys and non-string values", "[filters][grep]") {
  FilterResult r;
  auto out = run("    Exclude log debug\n",
                 {strMap({{"log", "a debug line"}}), strMap({{"other", "debug"}}), strMap({{"log", "info"}})}, &r);
  CHECK(r == FilterResult::Modified);
  CHECK(out == std::vector<std::string>{R"({"other":"debug"})", R"({"log":"info"})"});

  // Numbers and booleans never match (Fluent Bit matches only strings); a missing key fails a Regex.
  Pack n;
  n.map(1).str("code").i64(500);
  Pack b;
  b.map(1).str("code").bin("500");
  out = run("    Regex code ^5\n", {n.bytes(), b.bytes(), strMap({{"code", "503"}}), strMap({{"x", "5"}})});
  CHECK(out == std::vector<std::string>{R"({"code":"500"})", R"({"code":"503"})"});
}

TEST_CASE("grep: nested keys, arrays and record accessor syntax", "[filters][grep]") {
  Pack p1;
  p1.map(1).str("kubernetes").map(1).kv("namespace_name", "prod");
  Pack p2;
  p2.map(1).str("kubernetes").map(1).kv("namespace_name", "dev");
  Pack p3;
  p3.map(1).str("tags").array(2).str("a").str("prod");
  auto out = run("    Regex $kubernetes['namespace_name'] ^prod$\n", {p1.bytes(), p2.bytes(), p3.bytes()});
  CHECK(out == std::vector<std::string>{R"({"kubernetes":{"namespace_name":"prod"}})"});
  out = run("    Regex $tags[1] prod\n", {p1.bytes(), p3.bytes()});
  CHECK(out == std::vector<std::string>{R"({"tags":["a","prod"]})"});
}

TEST_CASE("grep: non-UTF-8 bytes and 1 MB values", "[filters][grep]") {
  std::string big(1 << 20, 'a');
  big += "NEEDLE";
  auto out = run("    Regex log NEEDLE$\n    Regex msg x\n",
                 {strMap({{"log", big}}), strMap({{"log", "bad \xff\xfe bytes NEEDLE"}}), strMap({{"log", "\xff"}})});
  REQUIRE(out.size() == 2);
  CHECK(out[0].size() > (1u << 20));
  CHECK(out[1] == R"({"log":"bad \ufffd\ufffd bytes NEEDLE"})");
  out = run("    Regex log \\xff\n", {strMap({{"log", "a\xff"}}), strMap({{"log", "b"}})});
  CHECK(out.size() <= 1);  // re2 in UTF-8 mode: an invalid byte is no code point; never crashes
}

TEST_CASE("grep: legacy order: the first deciding rule wins", "[filters][grep]") {
  auto recs = std::vector<std::vector<uint8_t>>{
      strMap({{"a", "yes"}, {"b", "no"}}),
      strMap({{"a", "no"}, {"b", "yes"}}),
      strMap({{"a", "yes"}, {"b", "yes"}}),
  };
  // Regex a yes matches first -> kept at once, even when later rules would exclude.
  auto out = run("    Regex a yes\n    Exclude b yes\n", recs);
  CHECK(out.size() == 2);
  CHECK(out[0] == R"({"a":"yes","b":"no"})");
  CHECK(out[1] == R"({"a":"yes","b":"yes"})");
  // Exclude first: a matching exclude drops, otherwise the Regex decides.
  out = run("    Exclude b yes\n    Regex a yes\n", recs);
  CHECK(out == std::vector<std::string>{R"({"a":"yes","b":"no"})"});
  // Several Regex in legacy mode: the first one decides.
  out = run("    Regex a yes\n    Regex b yes\n", recs);
  CHECK(out.size() == 2);
}

TEST_CASE("grep: Logical_Op and / or", "[filters][grep]") {
  auto recs = std::vector<std::vector<uint8_t>>{
      strMap({{"a", "yes"}, {"b", "no"}}),
      strMap({{"a", "no"}, {"b", "yes"}}),
      strMap({{"a", "yes"}, {"b", "yes"}}),
      strMap({{"a", "no"}, {"b", "no"}}),
  };
  CHECK(run("    Logical_Op and\n    Regex a yes\n    Regex b yes\n", recs).size() == 1);
  CHECK(run("    Logical_Op or\n    Regex a yes\n    Regex b yes\n", recs).size() == 3);
  CHECK(run("    Logical_Op AND\n    Exclude a yes\n    Exclude b yes\n", recs).size() == 3);
  CHECK(run("    Logical_Op or\n    Exclude a yes\n    Exclude b yes\n", recs).size() == 1);
  CHECK(run("    Logical_Op legacy\n", recs).size() == 4);
}

TEST_CASE("grep: records that are not maps and malformed bytes", "[filters][grep]") {
  std::vector<uint8_t> arr = {0x91, 0x01};
  std::vector<uint8_t> cut = {0x81, 0xa3, 'l', 'o'};
  auto out = run("    Exclude log x\n", {arr, cut});
  CHECK(out.size() == 2);  // nothing to match: an Exclude keeps them
  out = run("    Regex log x\n", {arr, cut});
  CHECK(out.empty());
}

TEST_CASE("grep: config errors name file:line, the key and re2's message", "[filters][grep]") {
  CHECK(configError(reg, "grep", "    Regex log (\n") == "t.conf:4: invalid Regex 'log (' in [FILTER] grep: missing ): (");
  CHECK(configError(reg, "grep", "    Exclude log\n") ==
        "t.conf:4: invalid value 'log' for 'Exclude' in [FILTER] grep: expected KEY REGEX");
  CHECK(configError(reg, "grep", "    Regex log (?=x)\n") ==
        "t.conf:4: invalid Regex 'log (?=x)' in [FILTER] grep: invalid perl operator: (?=");
  CHECK(configError(reg, "grep", "    Regex log (a)\\1\n") ==
        "t.conf:4: invalid Regex 'log (a)\\1' in [FILTER] grep: invalid escape sequence: \\1");
  CHECK(configError(reg, "grep", "    Regex log a++\n") ==
        "t.conf:4: invalid Regex 'log a++' in [FILTER] grep: bad repetition operator: ++");
  CHECK(configError(reg, "grep", "    Regex $a['x' y\n") ==
        "t.conf:4: invalid Regex '$a['x' y' in [FILTER] grep: invalid record accessor '$a['x'': missing ']'");
  CHECK(configError(reg, "grep", "    Logical_Op and\n    Regex a x\n    Exclude b y\n") ==
        "t.conf:4: Regex and Exclude cannot be combined with Logical_Op and in [FILTER] grep (use two grep "
        "filters)");
  CHECK(configError(reg, "grep", "    Logical_Op xor\n").find("t.conf:4: invalid value 'xor' for 'Logical_Op'") == 0);
  // Onigmo's /.../ delimiters and (?<name>) groups are accepted.
  CHECK(buildFilter(reg, "grep", "    Regex log /^(?<word>\\w+)$/\n").ok());
}
