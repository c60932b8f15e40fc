// Tests for the rewrite_tag filter: Rule KEY REGEX NEW_TAG KEEP with captures, $TAG, $TAG[n] and
// record accessors in the new tag, KEEP true/false, first-matching-rule order, re-emitted events as
// views, odd records, and (through the real engine) no loops.
#include "filters/rewrite_tag/rewrite_tag.h"

#include <catch2/catch.hpp>

#include "filters/filter_test_util.h"

using namespace firelane;
using namespace firelane::filtertest;

namespace {

auto reg = &filters::rewrite_tag::registerPlugin;
using Strs = std::vector<std::string>;

struct Outcome {
  FilterResult result;
  Strs kept;
  std::vector<std::pair<std::string, Strs>> emitted;  // tag, records
};

Outcome run(const std::string& conf, const std::vector<std::vector<uint8_t>>& recs, const std::string& tag = "app.web") {
  auto f = startFilter(reg, "rewrite_tag", conf);
  auto batch = makeBatch(recs, tag);
  Outcome o;
  o.result = f->filter->apply(batch);
  CHECK(batch.bytes == sumBytes(batch));
  o.kept = jsonOf(batch);
  for (auto& b : f->ctx.emitted) {
    CHECK(b.bytes == sumBytes(b));
    o.emitted.emplace_back(b.tag, jsonOf(b));
  }
  return o;
}

}  // namespace

TEST_CASE("rewrite_tag: KEEP false moves records, KEEP true copies the view", "[filters][rewrite_tag]") {
  auto recs = std::vector<std::vector<uint8_t>>{strMap({{"level", "error"}, {"m", "1"}}),
                                                strMap({{"level", "info"}, {"m", "2"}}),
                                                strMap({{"level", "error"}, {"m", "3"}})};
  auto o = run("    Rule $level ^(error)$ alerts.$1 false\n", recs);
  CHECK(o.result == FilterResult::Modified);
  CHECK(o.kept == Strs{R"({"level":"info","m":"2"})"});
  REQUIRE(o.emitted.size() == 1);
  CHECK(o.emitted[0].first == "alerts.error");
  CHECK(o.emitted[0].second == Strs{R"({"level":"error","m":"1"})", R"({"level":"error","m":"3"})"});

  o = run("    Rule level ^error$ alerts true\n", recs);
  CHECK(o.result == FilterResult::Unchanged);
  CHECK(o.kept.size() == 3);
  REQUIRE(o.emitted.size() == 1);
  CHECK(o.emitted[0].second.size() == 2);

  // Every record moved: the original batch is dropped.
  o = run("    Rule m . all false\n", recs);
  CHECK(o.result == FilterResult::DropAll);
  REQUIRE(o.emitted.size() == 1);
  CHECK(o.emitted[0].second.size() == 3);
  // Nothing matched.
  o = run("    Rule m ^x$ none false\n", recs);
  CHECK(o.result == FilterResult::Unchanged);
  CHECK(o.emitted.empty());
}

TEST_CASE("rewrite_tag: emitted events are views of the same bytes", "[filters][rewrite_tag]") {
  auto f = startFilter(reg, "rewrite_tag", "    Rule log x new false\n");
  auto batch = makeBatch({strMap({{"log", "x"}}), strMap({{"log", "y"}})});
  const uint8_t* moved = batch.events[0].record.data();
  auto extra = std::make_shared<ExtraFields>();
  batch.extra = extra;
  CHECK(f->filter->apply(batch) == FilterResult::Modified);
  REQUIRE(f->ctx.emitted.size() == 1);
  const auto& e = f->ctx.emitted[0];
  CHECK(e.events[0].record.data() == moved);
  CHECK(e.owners == batch.owners);  // the same buffers, referenced
  CHECK(e.extra == batch.extra);    // shared fields (e.g. ECS) follow the events
}

TEST_CASE("rewrite_tag: tag templates and rule order", "[filters][rewrite_tag]") {
  Pack k8s;
  k8s.map(2).str("kubernetes").map(1).kv("namespace_name", "prod").kv("log", "GET /x 500");
  auto o = run("    Rule $log ^(\\w+)\\s(\\S+)\\s(\\d)\\d\\d$ $TAG.$kubernetes['namespace_name'].$1.$3xx.$TAG[1] false\n",
               {k8s.bytes()});
  REQUIRE(o.emitted.size() == 1);
  CHECK(o.emitted[0].first == "app.web.prod.GET.5xx.web");
  // The first matching rule wins; records of one new tag share one batch; different tags, different batches.
  auto recs = std::vector<std::vector<uint8_t>>{strMap({{"a", "1"}, {"b", "1"}}), strMap({{"a", "0"}, {"b", "1"}}),
                                                strMap({{"a", "1"}, {"b", "0"}})};
  o = run("    Rule a 1 first false\n    Rule b 1 second false\n", recs);
  REQUIRE(o.emitted.size() == 2);
  CHECK(o.emitted[0].first == "first");
  CHECK(o.emitted[0].second == Strs{R"({"a":"1","b":"1"})", R"({"a":"1","b":"0"})"});
  CHECK(o.emitted[1].first == "second");
  CHECK(o.emitted[1].second == Strs{R"({"a":"0","b":"1"})"});
  // A tag rendering empty (missing key) is skipped: the next rule or nothing.
  o = run("    Rule a 1 $missing false\n    Rule a 1 fallback false\n", {recs[0]});
  REQUIRE(o.emitted.size() == 1);
  CHECK(o.emitted[0].first == "fallback");
}

TEST_CASE("rewrite_tag: missing keys, non-strings, non-UTF-8, huge and odd records", "[filters][rewrite_tag]") {
  Pack num;
  num.map(1).str("code").i64(500);
  std::string big(1 << 20, 'q');
  std::vector<std::vector<uint8_t>> recs = {num.bytes(), strMap({{"other", "500"}}),
                                            strMap({{"code", std::string("5\xff\xfe", 3)}}),
                                            strMap({{"code", "500"}, {"big", big}}), std::vector<uint8_t>{0x92, 0x01, 0x02},
                                            std::vector<uint8_t>{0x81, 0xa4, 'c'}};
  auto o = run("    Rule code ^5 errors false\n", recs);
  CHECK(o.kept.size() == 4);  // number, missing key, not-a-map and malformed stay
  REQUIRE(o.emitted.size() == 1);
  REQUIRE(o.emitted[0].second.size() == 2);
  CHECK(o.emitted[0].second[0] == R"({"code":"5\ufffd\ufffd"})");
  CHECK(o.emitted[0].second[1].size() > big.size());
}

TEST_CASE("rewrite_tag: config errors", "[filters][rewrite_tag]") {
  CHECK(configError(reg, "rewrite_tag", "") == "[FILTER] rewrite_tag: [FILTER] rewrite_tag needs at least one Rule");
  for (const char* conf : {"    Rule a b c\n", "    Rule a ( c false\n", "    Rule a b c maybe\n",
                           "    Rule $a[ b c false\n", "    Rule \"a b c false\n"}) {
    INFO(conf);
    std::string e = configError(reg, "rewrite_tag", conf);
    INFO(e);
    CHECK(e.find("t.conf:4: invalid Rule") == 0);
  }
  CHECK(configError(reg, "rewrite_tag", "    Rule a b c maybe\n") ==
        "t.conf:4: invalid Rule 'a b c maybe' in [FILTER] rewrite_tag: KEEP must be true or false, not 'maybe'");
}
