// Tests for the record_modifier filter: Record (appended in config order, FireLens' ECS lines),
// Remove_key / Allowlist_key (Whitelist_key) with case-insensitive keys and 'prefix*', Uuid_key,
// views kept for untouched records, odd records and config errors.
#include "filters/record_modifier/record_modifier.h"

#include <catch2/catch.hpp>
#include <regex>

#include "filters/filter_test_util.h"

using namespace firelane;
using namespace firelane::filtertest;

namespace {

auto reg = &filters::record_modifier::registerPlugin;
using Strs = std::vector<std::string>;

Strs run(const std::string& conf, const std::vector<std::vector<uint8_t>>& recs, FilterResult* result = nullptr) {
  auto f = startFilter(reg, "record_modifier", conf);
  auto batch = makeBatch(recs);
  FilterResult r = f->filter->apply(batch);
  if (result) *result = r;
  CHECK(batch.bytes == sumBytes(batch));
  return jsonOf(batch);
}

const auto kDocker = strMap({{"container_id", "abc"}, {"container_name", "/app"}, {"source", "stdout"}, {"log", "hi"}});

}  // namespace

TEST_CASE("record_modifier: Record appends in config order", "[filters][record_modifier]") {
  FilterResult r;
  auto out = run("    Record ecs_cluster prod\n"
                 "    Record ecs_task_arn arn:aws:ecs:us-east-1:1:task/prod/abc\n"
                 "    Record ecs_task_definition web:42\n",
                 {kDocker}, &r);
  CHECK(r == FilterResult::Modified);
  CHECK(out == Strs{R"({"container_id":"abc","container_name":"/app","source":"stdout","log":"hi",)"
                    R"("ecs_cluster":"prod","ecs_task_arn":"arn:aws:ecs:us-east-1:1:task/prod/abc",)"
                    R"("ecs_task_definition":"web:42"})"});
  // Values keep inner blanks; one "quoted" value loses its quotes; an existing key is appended again
  // (Fluent Bit does not check).
  out = run("    Record msg hello  big world\n    Record q \"a b\"\n    Record log again\n", {kDocker});
  CHECK(out[0] == R"({"container_id":"abc","container_name":"/app","source":"stdout","log":"hi",)"
                  R"("msg":"hello  big world","q":"a b","log":"again"})");
  // 15 -> 17 pairs: the map header grows from fixmap to map16 and stays valid.
  Pack p;
  p.map(15);
  for (int i = 0; i < 15; ++i) p.kv("k" + std::to_string(i), "v");
  out = run("    Record x 1\n    Record y 2\n", {p.bytes()});
  CHECK(out[0].find(R"("k14":"v","x":"1","y":"2"})") != std::string::npos);
}

TEST_CASE("record_modifier: Remove_key", "[filters][record_modifier]") {
  auto rec = strMap({{"Log", "1"}, {"kube_a", "2"}, {"KUBE_b", "3"}, {"keep", "4"}});
  CHECK(run("    Remove_key log\n", {rec}) == Strs{R"({"kube_a":"2","KUBE_b":"3","keep":"4"})"});  // case-insensitive
  CHECK(run("    Remove_key kube*\n", {rec}) == Strs{R"({"Log":"1","keep":"4"})"});
  CHECK(run("    Remove_key nope\n    Remove_key keep\n", {rec}) == Strs{R"({"Log":"1","kube_a":"2","KUBE_b":"3"})"});
  // Nothing matched: the record is passed on untouched.
  FilterResult r;
  run("    Remove_key nope\n", {rec}, &r);
  CHECK(r == FilterResult::Unchanged);
  // Every key removed and nothing added: the record is dropped, as in Fluent Bit.
  auto out = run("    Remove_key log\n", {strMap({{"log", "x"}}), rec}, &r);
  CHECK(r == FilterResult::Modified);
  CHECK(out == Strs{R"({"kube_a":"2","KUBE_b":"3","keep":"4"})"});
  // Removing and adding in one go.
  CHECK(run("    Remove_key log\n    Record log new\n", {strMap({{"log", "old"}})}) == Strs{R"({"log":"new"})"});
}

TEST_CASE("record_modifier: Allowlist_key and Whitelist_key", "[filters][record_modifier]") {
  auto rec = strMap({{"Log", "1"}, {"kube_a", "2"}, {"KUBE_b", "3"}, {"other", "4"}});
  CHECK(run("    Allowlist_key log\n    Allowlist_key Kube_*\n", {rec}) ==
        Strs{R"({"Log":"1","kube_a":"2","KUBE_b":"3"})"});
  CHECK(run("    Whitelist_key other\n", {rec}) == Strs{R"({"other":"4"})"});
  // None allowed: dropped.
  FilterResult r;
  CHECK(run("    Allowlist_key nope\n", {rec}, &r).empty());
  CHECK(r == FilterResult::DropAll);
  // Allowlist then Record.
  CHECK(run("    Allowlist_key other\n    Record a b\n", {rec}) == Strs{R"({"other":"4","a":"b"})"});
}

TEST_CASE("record_modifier: Uuid_key", "[filters][record_modifier]") {
  auto out = run("    Uuid_key id\n", {kDocker, kDocker});
  REQUIRE(out.size() == 2);
  std::regex v4(R"re(,"id":"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"\}$)re");
  CHECK(std::regex_search(out[0], v4));
  CHECK(std::regex_search(out[1], v4));
  CHECK(out[0] != out[1]);
}

TEST_CASE("record_modifier: views, nested maps, non-UTF-8, huge values, not-maps", "[filters][record_modifier]") {
  auto f = startFilter(reg, "record_modifier", "    Remove_key drop\n");
  Pack nested;
  nested.map(2).str("k8s").map(1).str("drop").str("inner stays").kv("drop", "x");
  std::string big(1 << 20, 'b');
  auto batch = makeBatch({strMap({{"a", "1"}}), nested.bytes(), strMap({{"\xff", "\xfe"}, {"big", big}}),
                          std::vector<uint8_t>{0xa3, 'x', 'y', 'z'}, std::vector<uint8_t>{0x81, 0xa1}});
  const uint8_t* untouched = batch.events[0].record.data();
  CHECK(f->filter->apply(batch) == FilterResult::Modified);
  REQUIRE(batch.events.size() == 5);
  CHECK(batch.events[0].record.data() == untouched);
  CHECK(json(batch.events[1].record) == R"({"k8s":{"drop":"inner stays"}})");  // top-level keys only
  CHECK(json(batch.events[2].record) == R"({"\ufffd":"\ufffd","big":")" + big + "\"}");
  CHECK(batch.events[3].record.size() == 4);  // not a map: untouched
  CHECK(batch.events[4].record.size() == 2);  // malformed: untouched
  CHECK(batch.bytes == sumBytes(batch));
  CHECK(run("    Record big " + big + "\n", {strMap({{"a", "1"}})})[0] == R"({"a":"1","big":")" + big + "\"}");
}

TEST_CASE("record_modifier: config errors", "[filters][record_modifier]") {
  CHECK(configError(reg, "record_modifier", "    Record onlykey\n") ==
        "t.conf:4: invalid value 'onlykey' for 'Record' in [FILTER] record_modifier: expected KEY VALUE");
  CHECK(configError(reg, "record_modifier", "    Remove_key a\n    Allowlist_key b\n") ==
        "t.conf:5: Remove_key and Allowlist_key cannot be used together in [FILTER] record_modifier");
  CHECK(configError(reg, "record_modifier", "    Remove_key a\n    Whitelist_key b\n") ==
        "t.conf:5: Remove_key and Whitelist_key cannot be used together in [FILTER] record_modifier");
  CHECK(configError(reg, "record_modifier", "    Recrod a b\n").find("did you mean 'Record'") != std::string::npos);
  FilterResult r;
  run("", {kDocker}, &r);
  CHECK(r == FilterResult::Unchanged);
}
