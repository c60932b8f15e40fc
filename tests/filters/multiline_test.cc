// Tests of the multiline filter: Docker partial messages (16 KiB pieces, interleaving, lost pieces,
// the byte cap, flush_ms through a real uv timer) and stack-trace joins with the built-in and user
// multiline parsers.
#include <uv.h>

#include <catch2/catch.hpp>
#include <chrono>

#include "core/parser/log_parser.h"
#include "core/record/record_accessor.h"
#include "filters/filter_test_util.h"
#include "filters/multiline/multiline.h"
#include "support/process.h"

using namespace firelane;
using namespace firelane::filtertest;

namespace {

constexpr size_t kPiece = 16 * 1024;
const std::string kCid1(64, 'a');
const std::string kCid2(64, 'b');

std::vector<uint8_t> piece(const std::string& cid, const std::string& id, int ordinal, bool last,
                           const std::string& text) {
  return strMap({{"container_id", cid},
                 {"container_name", "/app"},
                 {"source", "stdout"},
                 {"log", text},
                 {"partial_message", "true"},
                 {"partial_id", id},
                 {"partial_ordinal", std::to_string(ordinal)},
                 {"partial_last", last ? "true" : "false"}});
}

std::vector<uint8_t> plain(const std::string& cid, const std::string& text, const char* source = "stdout") {
  return strMap({{"container_id", cid}, {"container_name", "/app"}, {"source", source}, {"log", text}});
}

// Splits `line` the way Docker's copier does: 16 KiB pieces, the last one shorter.
std::vector<std::vector<uint8_t>> dockerSplit(const std::string& cid, const std::string& id, const std::string& line) {
  std::vector<std::vector<uint8_t>> out;
  size_t n = (line.size() + kPiece - 1) / kPiece;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(piece(cid, id, static_cast<int>(i + 1), i + 1 == n, line.substr(i * kPiece, kPiece)));
  }
  return out;
}

std::string logOf(std::span<const uint8_t> rec) {
  std::string_view s;
  if (!record::stringValue(record::findKey(rec, "log"), s)) return "<none>";
  return std::string(s);
}

std::string big(size_t n, char seed) {
  std::string s(n, ' ');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (seed + i * 7 + i / 13) % 26);
  return s;
}

// A filter context on a real libuv loop (for the flush timer); a ref'd idle timer keeps the loop
// running while the test waits for a condition.
class LoopContext final : public FilterContext {
 public:
  LoopContext() {
    uv_loop_init(&loop_);
    uv_timer_init(&loop_, &keepAlive_);
    uv_timer_start(&keepAlive_, [](uv_timer_t*) {}, 2, 2);
  }
  ~LoopContext() override {
    uv_close(reinterpret_cast<uv_handle_t*>(&keepAlive_), nullptr);
    for (int i = 0; i < 100 && uv_loop_close(&loop_) == UV_EBUSY; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
  }
  uv_loop_t* loop() override { return &loop_; }
  unsigned workerId() const override { return 0; }
  const std::string& instanceName() const override { return name_; }
  FilterCounters& counters() override { return counters_; }
  void emit(EventBatch&& batch) override { emitted.push_back(std::move(batch)); }

  // Runs the loop until `cond` or 5 s passed; returns cond().
  template <typename F>
  bool runUntil(F cond) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!cond() && std::chrono::steady_clock::now() < deadline) uv_run(&loop_, UV_RUN_ONCE);
    return cond();
  }
  std::vector<EventBatch> emitted;

 private:
  uv_loop_t loop_;
  uv_timer_t keepAlive_;
  std::string name_ = "multiline.0";
  FilterCounters counters_;
};

struct LoopRunning {
  std::shared_ptr<FilterFactory> factory;
  FilterPtr filter;
  LoopContext ctx;
  ~LoopRunning() {
    if (!filter) return;
    bool closed = false;
    filter->close([&] { closed = true; });
    ctx.runUntil([&] { return closed; });
  }
};

std::unique_ptr<LoopRunning> startOnLoop(const std::string& entries, const ServiceConfig& svc = {}) {
  auto f = buildFilter(filters::multiline::registerPlugin, "multiline", entries, svc);
  INFO((f.ok() ? std::string() : f.message()));
  REQUIRE(f.ok());
  auto r = std::make_unique<LoopRunning>();
  r->factory = *f;
  r->filter = r->factory->create(0);
  REQUIRE(r->filter->start(r->ctx).ok());
  return r;
}

// Applies every record as its own batch (as Docker sends them: one event per message); returns the
// records that came out, in order.
std::vector<std::vector<uint8_t>> feed(Filter& f, const std::vector<std::vector<uint8_t>>& recs,
                                       const std::string& tag = "app-firelens-1") {
  std::vector<std::vector<uint8_t>> out;
  for (const auto& r : recs) {
    auto b = makeBatch({r}, tag);
    f.apply(b);
    for (auto& e : b.events) out.emplace_back(e.record.begin(), e.record.end());
  }
  return out;
}

}  // namespace

TEST_CASE("multiline partial_message joins a 100 KiB line split in 16 KiB pieces", "[filters][multiline]") {
  auto r = startFilter(filters::multiline::registerPlugin, "multiline",
                       "    mode partial_message\n    flush_ms 60000\n");
  std::string line = big(100 * 1024, 1);
  auto pieces = dockerSplit(kCid1, "p1", line);
  REQUIRE(pieces.size() == 7);

  SECTION("pieces in one batch become one record in place of the last piece") {
    std::vector<std::vector<uint8_t>> recs = {plain(kCid1, "before")};
    for (auto& p : pieces) recs.push_back(p);
    recs.push_back(plain(kCid1, "after"));
    auto b = makeBatch(recs);
    const uint8_t* beforePtr = b.events.front().record.data();
    const uint8_t* afterPtr = b.events.back().record.data();
    REQUIRE(r->filter->apply(b) == FilterResult::Modified);
    REQUIRE(b.events.size() == 3);
    CHECK(b.events[0].record.data() == beforePtr);  // passed through, not copied
    CHECK(b.events[2].record.data() == afterPtr);
    CHECK(logOf(b.events[1].record) == line);
    std::string js = json(b.events[1].record);
    CHECK(js.find("partial_") == std::string::npos);
    CHECK(js.find("\"container_id\":\"" + kCid1 + "\",\"container_name\":\"/app\",\"source\":\"stdout\",\"log\":\"") == 1);
    CHECK(b.bytes == sumBytes(b));
    CHECK(r->ctx.counters().recordsAdded.get() == 1);
  }

  SECTION("interleaved with other containers' lines and partial messages") {
    std::string line2 = big(40 * 1024, 5);
    auto pieces2 = dockerSplit(kCid2, "p2", line2);
    REQUIRE(pieces2.size() == 3);
    std::vector<std::vector<uint8_t>> recs;
    for (size_t i = 0; i < pieces.size(); ++i) {
      recs.push_back(pieces[i]);
      recs.push_back(plain(kCid2, "other " + std::to_string(i)));
      if (i < pieces2.size()) recs.push_back(pieces2[i]);
    }
    auto out = feed(*r->filter, recs);
    std::vector<std::string> logs;
    for (auto& o : out) logs.push_back(logOf(o));
    REQUIRE(logs.size() == 7 + 2);
    // Each joined record comes out where its last piece was; the other lines keep their order.
    CHECK(logs[0] == "other 0");
    CHECK(logs[1] == "other 1");
    CHECK(logs[2] == "other 2");
    CHECK(logs[3] == line2);
    CHECK(logs[4] == "other 3");
    CHECK(logs[5] == "other 4");
    CHECK(logs[6] == "other 5");
    CHECK(logs[7] == line);
    CHECK(logs[8] == "other 6");
    CHECK(r->ctx.counters().errors.get("partial_incomplete") == 0);
  }

  SECTION("pieces arriving out of order are joined by partial_ordinal") {
    std::vector<std::vector<uint8_t>> shuffled = {pieces[2], pieces[0], pieces[6], pieces[1],
                                                  pieces[4], pieces[3], pieces[5]};
    auto out = feed(*r->filter, shuffled);
    REQUIRE(out.size() == 1);
    CHECK(logOf(out[0]) == line);
  }
}

TEST_CASE("multiline partial_message passes other records unchanged", "[filters][multiline]") {
  auto r = startFilter(filters::multiline::registerPlugin, "multiline", "    mode partial_message\n");
  Pack nonString;
  nonString.map(2).kv("partial_message", "true").str("log").i64(3);
  auto b = makeBatch({plain(kCid1, "x\xff\xfe"), strMap({{"msg", "no log"}}), nonString.bytes(),
                      strMap({{"partial_message", "false"}, {"log", "whole"}})});
  std::vector<const uint8_t*> ptrs;
  for (auto& e : b.events) ptrs.push_back(e.record.data());
  CHECK(r->filter->apply(b) == FilterResult::Unchanged);
  REQUIRE(b.events.size() == 4);
  for (size_t i = 0; i < ptrs.size(); ++i) CHECK(b.events[i].record.data() == ptrs[i]);
}

TEST_CASE("multiline partial_message emits a group whose last piece is lost after flush_ms", "[filters][multiline]") {
  auto r = startOnLoop("    mode partial_message\n    flush_ms 50\n");
  std::string line = big(100 * 1024, 3);
  auto pieces = dockerSplit(kCid1, "lost", line);
  pieces.pop_back();  // the last piece never arrives
  std::vector<std::vector<uint8_t>> recs;
  for (auto& p : pieces) {
    recs.push_back(p);
    recs.push_back(plain(kCid2, "meanwhile"));
  }
  auto out = feed(*r->filter, recs);
  CHECK(out.size() == pieces.size());  // only the other container's lines
  for (auto& o : out) CHECK(logOf(o) == "meanwhile");
  REQUIRE(r->ctx.runUntil([&] { return !r->ctx.emitted.empty(); }));
  REQUIRE(r->ctx.emitted.size() == 1);
  const EventBatch& e = r->ctx.emitted[0];
  CHECK(e.tag == "app-firelens-1");
  REQUIRE(e.events.size() == 1);
  CHECK(logOf(e.events[0].record) == line.substr(0, 6 * kPiece));
  CHECK(json(e.events[0].record).find("partial_") == std::string::npos);
  CHECK(e.events[0].timeNs == 1700000000000000000);
  CHECK(r->ctx.counters().errors.get("partial_incomplete") == 1);

  SECTION("a late last piece after the flush is held and flushed on its own") {
    auto late = feed(*r->filter, {piece(kCid1, "lost", 7, true, "tail")});
    CHECK(late.empty());
    REQUIRE(r->ctx.runUntil([&] { return r->ctx.emitted.size() == 2; }));
    CHECK(logOf(r->ctx.emitted[1].events.at(0).record) == "tail");
    CHECK(r->ctx.counters().errors.get("partial_incomplete") == 2);
  }
}

TEST_CASE("multiline partial_message flushes at buffer_limit and at close", "[filters][multiline]") {
  auto r = startFilter(filters::multiline::registerPlugin, "multiline",
                       "    mode partial_message\n    buffer_limit 32KiB\n    flush_ms 60000\n");
  std::string line = big(100 * 1024, 9);
  auto pieces = dockerSplit(kCid1, "cap", line);
  auto out = feed(*r->filter, {pieces[0], pieces[1], pieces[2]});
  REQUIRE(out.size() == 1);
  CHECK(logOf(out[0]) == line.substr(0, 2 * kPiece));
  CHECK(r->ctx.counters().errors.get("partial_buffer_limit") == 1);

  bool closed = false;
  r->filter->close([&] { closed = true; });
  CHECK(closed);
  REQUIRE(r->ctx.emitted.size() == 1);
  CHECK(logOf(r->ctx.emitted[0].events.at(0).record) == line.substr(2 * kPiece, kPiece));
}

TEST_CASE("multiline partial_message keeps joining after a buffer_limit flush", "[filters][multiline]") {
  auto r = startFilter(filters::multiline::registerPlugin, "multiline",
                       "    mode partial_message\n    buffer_limit 32KiB\n    flush_ms 60000\n");
  std::string line = big(100 * 1024, 4);
  auto out = feed(*r->filter, dockerSplit(kCid1, "cap", line));
  REQUIRE(out.size() == 4);  // pieces 1-2, 3-4, 5-6 at the cap, then 7 completes the group
  std::string all;
  for (auto& o : out) {
    all += logOf(o);
    CHECK(json(o).find("partial_") == std::string::npos);
    CHECK(json(o).find("\"container_id\":\"" + kCid1 + "\"") != std::string::npos);
  }
  CHECK(all == line);
  CHECK(logOf(out[3]) == line.substr(6 * kPiece));
  CHECK(r->ctx.counters().errors.get("partial_buffer_limit") == 3);
  bool closed = false;
  r->filter->close([&] { closed = true; });
  CHECK(closed);
  CHECK(r->ctx.emitted.empty());  // nothing left held
}

TEST_CASE("multiline java stack traces are joined per stream", "[filters][multiline]") {
  auto r = startFilter(filters::multiline::registerPlugin, "multiline",
                       "    multiline.parser java\n    multiline.key_content log\n");
  std::vector<std::string> trace = {
      "Exception in thread \"main\" java.lang.IllegalStateException: boom",
      "\tat com.example.App.run(App.java:12)",
      "\tat com.example.App.main(App.java:5)",
      "Caused by: java.io.IOException: disk",
      "\tat com.example.Io.read(Io.java:40)",
      "\t... 2 more",
  };
  std::vector<std::vector<uint8_t>> recs = {plain(kCid1, "starting")};
  for (size_t i = 0; i < trace.size(); ++i) {
    recs.push_back(plain(kCid1, trace[i]));
    if (i == 2) recs.push_back(plain(kCid2, "other container line"));
    if (i == 3) recs.push_back(plain(kCid1, "stderr line", "stderr"));
  }
  recs.push_back(plain(kCid1, "next normal line"));
  auto out = feed(*r->filter, recs);
  std::vector<std::string> logs;
  for (auto& o : out) logs.push_back(logOf(o));
  std::string joined;
  for (size_t i = 0; i < trace.size(); ++i) joined += (i ? "\n" : "") + trace[i];
  REQUIRE(logs == std::vector<std::string>{"starting", "other container line", "stderr line", joined, "next normal line"});
}

TEST_CASE("multiline parser mode emits a join at buffer_limit and copes with odd bytes", "[filters][multiline]") {
  auto r = startFilter(filters::multiline::registerPlugin, "multiline",
                       "    multiline.parser java\n    buffer_limit 2KiB\n");
  std::vector<std::vector<uint8_t>> recs = {plain(kCid1, "java.lang.Error: bad \xff\xfe bytes")};
  std::string frame = "\tat x.Y.z(Y.java:1) " + std::string(600, 'p');
  for (int i = 0; i < 4; ++i) recs.push_back(plain(kCid1, frame));
  recs.push_back(plain(kCid1, "\tat \xc3\x28 odd frame"));
  recs.push_back(plain(kCid1, "plain"));
  auto out = feed(*r->filter, recs);
  REQUIRE(out.size() == 3);
  // The exception and its four frames reach 2 KiB and are emitted; the next frame starts no new join.
  CHECK(logOf(out[0]).size() >= 2048);
  CHECK(logOf(out[0]).rfind("java.lang.Error: bad \xff\xfe bytes\n\tat x.Y.z", 0) == 0);
  CHECK(logOf(out[0]).size() == 29 + 4 * (frame.size() + 1));
  CHECK(logOf(out[1]) == "\tat \xc3\x28 odd frame");
  CHECK(logOf(out[2]) == "plain");
  CHECK(r->ctx.counters().errors.get("multiline_buffer_limit") == 1);
  auto rest = feed(*r->filter, {plain(kCid1, "plain")});
  CHECK(logOf(rest.at(0)) == "plain");
}

TEST_CASE("multiline python and go traces and several parsers in a list", "[filters][multiline]") {
  auto r = startFilter(filters::multiline::registerPlugin, "multiline", "    multiline.parser go, python\n");
  std::vector<std::string> py = {
      "Traceback (most recent call last):",
      "  File \"/app/main.py\", line 3, in <module>",
      "    main()",
      "  File \"/app/main.py\", line 2, in main",
      "    raise ValueError(\"bad\")",
      "ValueError: bad",
  };
  std::vector<std::string> go = {
      "panic: runtime error: index out of range [3] with length 3",
      "",
      "goroutine 1 [running]:",
      "main.main()",
      "\t/app/main.go:8 +0x1d",
      "exit status 2",
  };
  std::vector<std::vector<uint8_t>> recs;
  for (auto& l : py) recs.push_back(plain(kCid1, l));
  recs.push_back(plain(kCid1, "after python"));
  for (auto& l : go) recs.push_back(plain(kCid1, l));
  recs.push_back(plain(kCid1, "after go"));
  auto out = feed(*r->filter, recs);
  std::vector<std::string> logs;
  for (auto& o : out) logs.push_back(logOf(o));
  std::string pyJoined, goJoined;
  for (size_t i = 0; i < py.size(); ++i) pyJoined += (i ? "\n" : "") + py[i];
  for (size_t i = 0; i + 1 < go.size(); ++i) goJoined += (i ? "\n" : "") + go[i];
  REQUIRE(logs == std::vector<std::string>{pyJoined, "after python", goJoined, "exit status 2", "after go"});
}

TEST_CASE("multiline docker and cri built-ins join line fragments", "[filters][multiline]") {
  SECTION("docker: fragments until one ends with a newline") {
    auto r = startFilter(filters::multiline::registerPlugin, "multiline", "    multiline.parser docker\n");
    auto out = feed(*r->filter, {plain(kCid1, "whole\n"), plain(kCid1, "par"), plain(kCid1, "tial\n")});
    REQUIRE(out.size() == 2);
    CHECK(logOf(out[0]) == "whole\n");
    CHECK(logOf(out[1]) == "partial\n");
  }
  SECTION("cri: _p P pieces until F") {
    auto r = startFilter(filters::multiline::registerPlugin, "multiline", "    multiline.parser cri\n");
    auto out = feed(*r->filter, {strMap({{"stream", "stdout"}, {"_p", "P"}, {"log", "one "}}),
                                 strMap({{"stream", "stdout"}, {"_p", "P"}, {"log", "two "}}),
                                 strMap({{"stream", "stdout"}, {"_p", "F"}, {"log", "three"}}),
                                 strMap({{"stream", "stdout"}, {"_p", "F"}, {"log", "single"}})});
    REQUIRE(out.size() == 2);
    CHECK(logOf(out[0]) == "one two three");
    CHECK(json(out[0]).find("\"_p\":\"P\"") != std::string::npos);  // first piece's other keys
    CHECK(logOf(out[1]) == "single");
  }
}

TEST_CASE("multiline user MULTILINE_PARSER rules and flush_timeout", "[filters][multiline]") {
  testsupport::TempDir dir;
  std::string path = dir.writeFile("ml.conf", R"([MULTILINE_PARSER]
    name          multiline-regex-test
    type          regex
    flush_timeout 40
    rule      "start_state"   "/([a-zA-Z]+ \d+ \d+\:\d+\:\d+)(.*)/"  "cont"
    rule      "cont"          "/^\s+at.*/"                     "cont"
)");
  auto set = parser::ParserSet::load({{path, "", ""}});
  REQUIRE(set.ok());
  ServiceConfig svc;
  svc.parsers = *set;
  auto r = startOnLoop("    multiline.parser multiline-regex-test\n    multiline.key_content message\n    flush_ms 60000\n", svc);
  auto rec = [](const std::string& m) { return strMap({{"message", m}, {"n", "1"}}); };
  auto out = feed(*r->filter, {rec("single line..."), rec("Dec 14 06:41:08 Exception in thread \"main\""),
                               rec("    at com.myproject.module.MyProject.badMethod(MyProject.java:22)"),
                               rec("    at com.myproject.module.MyProject.main(MyProject.java:6)")});
  REQUIRE(out.size() == 1);
  std::string_view s;
  REQUIRE(record::stringValue(record::findKey(out[0], "message"), s));
  CHECK(s == "single line...");
  // The pending join is emitted by the parser's flush_timeout (40 ms), not the filter's flush_ms.
  REQUIRE(r->ctx.runUntil([&] { return !r->ctx.emitted.empty(); }));
  auto& ev = r->ctx.emitted.at(0).events.at(0);
  REQUIRE(record::stringValue(record::findKey(ev.record, "message"), s));
  CHECK(s == "Dec 14 06:41:08 Exception in thread \"main\"\n"
             "    at com.myproject.module.MyProject.badMethod(MyProject.java:22)\n"
             "    at com.myproject.module.MyProject.main(MyProject.java:6)");
  CHECK(json(ev.record).find("\"n\":\"1\"") != std::string::npos);
  CHECK(r->ctx.counters().errors.get("partial_incomplete") == 0);
}

TEST_CASE("multiline config errors name file and line", "[filters][multiline]") {
  CHECK(configError(filters::multiline::registerPlugin, "multiline", "    multiline.parser java, nope\n") ==
        "t.conf:4: unknown multiline parser 'nope' in [FILTER] multiline (built-in: docker, cri, java, python, go; "
        "none loaded from Parsers_File)");
  CHECK(configError(filters::multiline::registerPlugin, "multiline", "    flush_ms 10\n") ==
        "t.conf:3: missing required key 'multiline.parser' in [FILTER] multiline (or set mode partial_message)");
  CHECK(configError(filters::multiline::registerPlugin, "multiline", "    mode partial\n").find(
            "t.conf:4: invalid value 'partial' for 'mode'") == 0);
  CHECK(configError(filters::multiline::registerPlugin, "multiline", "    mode partial_message\n    flush_ms 0\n")
            .find("t.conf:5: invalid value '0' for 'flush_ms'") == 0);
}
