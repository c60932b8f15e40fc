// End to end: every forward mode and time encoding in, exact stdout json_lines out; acks; unix
// sockets; tag_prefix / Tag overrides with Match and Match_Regex routing.
#include <arpa/inet.h>
#include <signal.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "e2e/e2e_util.h"

namespace firelane::e2e {
namespace {

struct ModeCase {
  const char* name;
  std::function<std::string(const std::vector<Event>&, const ForwardOptions&)> build;
  bool integerTime = false;
  size_t events = 5;
};

std::vector<ModeCase> allModes() {
  using TF = TimeFormat;
  return {
      {"Message 3 elements, integer time",
       [](const std::vector<Event>& ev, const ForwardOptions& o) {
         std::string out;
         for (size_t i = 0; i < ev.size(); ++i) {
           out += buildMessage("app.one", ev[i], TF::Integer, i + 1 == ev.size() ? o : ForwardOptions{});
         }
         return out;
       },
       true},
      {"Message 4 elements, EventTime fixext8",
       [](const std::vector<Event>& ev, const ForwardOptions& o) {
         std::string out;
         ForwardOptions empty;
         empty.emptyMap = true;  // what Docker sends
         for (size_t i = 0; i < ev.size(); ++i) {
           out += buildMessage("app.one", ev[i], TF::EventTimeFixExt8, i + 1 == ev.size() && o.present() ? o : empty);
         }
         return out;
       }},
      {"Message, EventTime ext8",
       [](const std::vector<Event>& ev, const ForwardOptions& o) {
         std::string out;
         for (size_t i = 0; i < ev.size(); ++i) {
           out += buildMessage("app.one", ev[i], TF::EventTimeExt8, i + 1 == ev.size() ? o : ForwardOptions{});
         }
         return out;
       }},
      {"Message, [EventTime, {}] time",
       [](const std::vector<Event>& ev, const ForwardOptions& o) {
         std::string out;
         for (size_t i = 0; i < ev.size(); ++i) {
           out += buildMessage("app.one", ev[i], TF::EventTimeWithMetadata, i + 1 == ev.size() ? o : ForwardOptions{});
         }
         return out;
       }},
      {"Forward, EventTime",
       [](const std::vector<Event>& ev, const ForwardOptions& o) { return buildForward("app.one", ev, TF::EventTimeFixExt8, o); }},
      {"Forward, integer time",
       [](const std::vector<Event>& ev, const ForwardOptions& o) { return buildForward("app.one", ev, TF::Integer, o); },
       true},
      {"Forward, [EventTime, {}] time",
       [](const std::vector<Event>& ev, const ForwardOptions& o) {
         return buildForward("app.one", ev, TF::EventTimeWithMetadata, o);
       }},
      {"PackedForward, bin",
       [](const std::vector<Event>& ev, const ForwardOptions& o) {
         return buildPackedForward("app.one", ev, TF::EventTimeFixExt8, PayloadType::Bin, o);
       }},
      {"PackedForward, str",
       [](const std::vector<Event>& ev, const ForwardOptions& o) {
         return buildPackedForward("app.one", ev, TF::EventTimeExt8, PayloadType::Str, o);
       }},
      {"PackedForward with size option",
       [](const std::vector<Event>& ev, const ForwardOptions& o) {
         ForwardOptions withSize = o;
         withSize.size = ev.size();
         return buildPackedForward("app.one", ev, TF::EventTimeFixExt8, PayloadType::Bin, withSize);
       }},
      {"CompressedPackedForward, one gzip member",
       [](const std::vector<Event>& ev, const ForwardOptions& o) {
         return buildCompressedPackedForward("app.one", ev, TF::EventTimeFixExt8, 1, o);
       }},
      {"CompressedPackedForward, several gzip members",
       [](const std::vector<Event>& ev, const ForwardOptions& o) {
         return buildCompressedPackedForward("app.one", ev, TF::EventTimeFixExt8, 3, o);
       },
       false, 7},
  };
}

}  // namespace

TEST_CASE("forward: every mode and time encoding prints the exact json lines", "[e2e][forward]") {
  for (const auto& mode : allModes()) {
    DYNAMIC_SECTION(mode.name) {
      Firelane fl;
      fl.start(forwardToStdoutConfig());
      auto events = makeEvents("m", mode.events);
      events[0].record.push_back({"text", "quote \" backslash \\ tab \t newline \n unicode \xc3\xa9 bad \xff"});
      auto client = fl.connect();
      std::string wire = std::string(kHeartbeat) + mode.build(events, {}) + std::string(kHeartbeat);
      REQUIRE(client->send(wire, kTimeout));
      CHECK(fl.lines(events.size()) == jsonLines(events, mode.integerTime));
    }
  }
}

TEST_CASE("forward: a chunk option is acked in every mode", "[e2e][forward][ack]") {
  for (const auto& mode : allModes()) {
    DYNAMIC_SECTION(mode.name) {
      Firelane fl;
      fl.start(forwardToStdoutConfig());
      auto client = fl.connect();
      auto first = makeEvents("a", mode.events);
      auto second = makeEvents("b", mode.events, 100);
      ForwardOptions opts;
      opts.chunk = "Y2h1bmstMQ==";
      INFO(client->lastError());
      REQUIRE(client->sendWithAck(mode.build(first, opts), *opts.chunk, kTimeout));
      opts.chunk = "Y2h1bmstMg==";
      REQUIRE(client->sendWithAck(mode.build(second, opts), *opts.chunk, kTimeout));
      auto expected = jsonLines(first, mode.integerTime);
      for (const auto& l : jsonLines(second, mode.integerTime)) expected.push_back(l);
      CHECK(fl.lines(expected.size()) == expected);
    }
  }
}

TEST_CASE("forward: messages without chunk get no response", "[e2e][forward][ack]") {
  Firelane fl;
  fl.start(forwardToStdoutConfig());
  auto client = fl.connect();
  auto events = makeEvents("n", 3);
  REQUIRE(client->send(buildForward("t", events), kTimeout));
  ForwardOptions opts;
  opts.chunk = "last";
  auto more = makeEvents("n", 1, 3);
  REQUIRE(client->send(buildForward("t", more, TimeFormat::EventTimeFixExt8, opts), kTimeout));
  // The first response on the connection must be the ack of the only message that asked for one.
  auto ack = client->readAck(kTimeout);
  INFO(client->lastError());
  REQUIRE(ack.has_value());
  CHECK(*ack == "last");
  CHECK(fl.lines(4).size() == 4);
}

TEST_CASE("forward: acks come on accept, not on flush", "[e2e][forward][ack]") {
  Firelane fl;
  fl.start(forwardToStdoutConfig("", "5"));  // Flush 5: an ack tied to the flush would take seconds
  auto client = fl.connect();
  auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < 200; ++i) {
    ForwardOptions opts;
    opts.chunk = "fast-" + std::to_string(i);
    INFO(client->lastError());
    REQUIRE(client->sendWithAck(buildForward("t", makeEvents("f", 1, i), TimeFormat::EventTimeFixExt8, opts),
                                *opts.chunk, kTimeout));
  }
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(4));
}

TEST_CASE("forward: frames split at every byte and frames batched in one write", "[e2e][forward]") {
  Firelane fl;
  fl.start(forwardToStdoutConfig());
  auto client = fl.connect();
  auto events = makeEvents("s", 6);
  std::string wire = buildMessage("t", events[0]) + buildForward("t", std::vector<Event>(events.begin() + 1, events.begin() + 3)) +
                     buildPackedForward("t", std::vector<Event>(events.begin() + 3, events.end()));
  SECTION("one byte per send") {
    for (char c : wire) REQUIRE(client->send(std::string_view(&c, 1), kTimeout));
  }
  SECTION("all in one send") { REQUIRE(client->send(wire, kTimeout)); }
  CHECK(fl.lines(events.size()) == jsonLines(events));
}

TEST_CASE("forward: unix socket with unix_perm", "[e2e][forward][unix]") {
  Firelane fl;
  std::string path = fl.dir().file("fw.sock");
  fl.start(
      "[SERVICE]\n    Flush 0.05\n"
      "[INPUT]\n    Name forward\n    unix_path " + path + "\n    unix_perm 0600\n"
      "[OUTPUT]\n    Name stdout\n    Match *\n");
  CHECK(fl.unixPath() == path);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);

  auto client = fl.connectUnix();
  auto events = makeEvents("u", 4);
  ForwardOptions opts;
  opts.chunk = "unix-1";
  INFO(client->lastError());
  REQUIRE(client->sendWithAck(buildPackedForward("u", events, TimeFormat::EventTimeFixExt8, PayloadType::Bin, opts),
                              "unix-1", kTimeout));
  CHECK(fl.lines(events.size()) == jsonLines(events));
}

TEST_CASE("forward: tag_prefix and Tag rewrite tags; Match and Match_Regex route to two outputs",
          "[e2e][forward][routing]") {
  Firelane fl;
  std::string path = fl.dir().file("b.sock");
  // Input A (tcp) prefixes "pre."; input B (unix) replaces every tag with "override".
  // Output 1 takes pre.keep.*; output 2 takes exactly "override" and "pre.keep.two" (regex).
  fl.start(
      "[SERVICE]\n    Flush 0.05\n"
      "[INPUT]\n    Name forward\n    Listen 127.0.0.1\n    Port 0\n    tag_prefix pre.\n"
      "[INPUT]\n    Name forward\n    unix_path " + path + "\n    Tag override\n"
      "[OUTPUT]\n    Name stdout\n    Match pre.keep.*\n"
      "[OUTPUT]\n    Name stdout\n    Match_Regex ^(override|pre\\.keep\\.two)$\n");
  auto a = fl.connect();
  auto b = fl.connectUnix();
  auto ev = [](const char* id) { return Event{1700000000, 0, {{"id", id}}}; };
  // Dropped events go first on each connection: had they been routed, they would print before the
  // events that follow them on the same connection and output.
  REQUIRE(a->send(buildMessage("drop.one", ev("a-drop")), kTimeout));        // pre.drop.one: no route
  REQUIRE(a->send(buildMessage("override", ev("a-prefixed")), kTimeout));    // pre.override: no route
  REQUIRE(a->send(buildMessage("keep.one", ev("a-keep-one")), kTimeout));    // pre.keep.one -> output 1
  REQUIRE(a->send(buildMessage("keep.two", ev("a-keep-two")), kTimeout));    // pre.keep.two -> outputs 1, 2
  REQUIRE(b->send(buildMessage("pre.keep.one", ev("b-over")), kTimeout));    // override -> output 2 only

  auto lines = fl.lines(4);
  auto counts = countBy(lines, "id");
  CHECK(counts["a-keep-one"] == 1);
  CHECK(counts["a-keep-two"] == 2);
  CHECK(counts["b-over"] == 1);
  CHECK(counts.count("a-drop") == 0);
  CHECK(counts.count("a-prefixed") == 0);
  auto extra = fl.proc().takeStdoutLines();
  CHECK(extra.empty());
}

TEST_CASE("forward: record values of every msgpack type render as JSON", "[e2e][forward]") {
  Firelane fl;
  fl.start(forwardToStdoutConfig());
  auto client = fl.connect();
  Packer p;
  p.array(3).str("types").time(1700000000, 500000000, TimeFormat::EventTimeFixExt8);
  p.map(8);
  p.str("s").str("text");
  p.str("pos").integer(42);
  p.str("neg").integer(-7);
  p.str("big").integer(1234567890123LL);
  p.str("yes").boolean(true);
  p.str("nil").nil();
  p.str("arr").array(3).integer(1).str("x").boolean(false);
  p.str("obj").map(2).str("k").str("v").str("inner").map(1).str("n").integer(0);
  REQUIRE(client->send(p.take(), kTimeout));
  auto lines = fl.lines(1);
  CHECK(lines[0] ==
        R"({"date":1700000000.500000,"s":"text","pos":42,"neg":-7,"big":1234567890123,"yes":true,"nil":null,)"
        R"("arr":[1,"x",false],"obj":{"k":"v","inner":{"n":0}}})");
}

TEST_CASE("forward: a 1 MiB record and a frame just under buffer_max_size arrive intact", "[e2e][forward]") {
  Firelane fl;
  fl.start(forwardToStdoutConfig());  // buffer_max_size default: 6144000 bytes
  auto client = fl.connect();
  Event big{1700000000, 0, {{"id", "big"}, {"log", std::string(1 << 20, 'L')}}};
  ForwardOptions opts;
  opts.chunk = "big";
  INFO(client->lastError());
  REQUIRE(client->sendWithAck(buildMessage("big", big, TimeFormat::EventTimeFixExt8, opts), "big", kTimeout));
  // ~5.5 MB PackedForward: 5500 events of ~1000 bytes.
  std::vector<Event> many;
  for (size_t i = 0; i < 5500; ++i) {
    many.push_back(Event{1700000000, 0, {{"id", "many" + std::to_string(i)}, {"log", std::string(980, 'm')}}});
  }
  std::string frame = buildPackedForward("many", many, TimeFormat::EventTimeFixExt8, PayloadType::Bin, opts);
  REQUIRE(frame.size() < 6144000);
  REQUIRE(frame.size() > 5400000);
  REQUIRE(client->sendWithAck(frame, "big", kTimeout));
  auto lines = fl.lines(1 + many.size(), Millis(20000));
  CHECK(lines[0] == jsonLine(big));
  CHECK(lines.back() == jsonLine(many.back()));
  CHECK(countBy(lines, "id").size() == 1 + many.size());
}

TEST_CASE("forward: stdout Format msgpack writes each event as msgpack", "[e2e][forward][msgpack]") {
  Firelane fl;
  fl.start(
      "[SERVICE]\n    Flush 0.05\n"
      "[INPUT]\n    Name forward\n    Listen 127.0.0.1\n    Port 0\n"
      "[OUTPUT]\n    Name stdout\n    Match *\n    Format msgpack\n");
  auto client = fl.connect();
  auto events = makeEvents("mp", 20);
  ForwardOptions opts;
  opts.chunk = "mp";
  INFO(client->lastError());
  REQUIRE(client->sendWithAck(buildForward("mp", events, TimeFormat::EventTimeFixExt8, opts), "mp", kTimeout));
  REQUIRE(fl.proc().sendSignal(SIGTERM));
  REQUIRE(fl.proc().waitExit(kTimeout) == std::optional<int>(0));
  std::string out = fl.proc().readStdoutToEof(kTimeout);

  // Each event: an array whose first element is the time (EventTime, [EventTime, meta], int or
  // float) and whose last element is the record map.
  std::vector<std::pair<Event, bool>> decoded;  // event, whether nanoseconds were available
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t offset = 0;
  while (offset < out.size() && msgpack_unpack_next(&u, out.data(), out.size(), &offset) == MSGPACK_UNPACK_SUCCESS) {
    const msgpack_object& root = u.data;
    REQUIRE(root.type == MSGPACK_OBJECT_ARRAY);
    REQUIRE(root.via.array.size >= 2);
    Event e;
    bool hasNanos = false;
    msgpack_object t = root.via.array.ptr[0];
    if (t.type == MSGPACK_OBJECT_ARRAY && t.via.array.size > 0) t = t.via.array.ptr[0];
    if (t.type == MSGPACK_OBJECT_EXT && t.via.ext.type == 0 && t.via.ext.size == 8) {
      uint32_t be[2];
      std::memcpy(be, t.via.ext.ptr, sizeof be);  // ext bytes are not aligned
      e.seconds = ntohl(be[0]);
      e.nanos = ntohl(be[1]);
      hasNanos = true;
    } else if (t.type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
      e.seconds = static_cast<uint32_t>(t.via.u64);
    } else if (t.type == MSGPACK_OBJECT_FLOAT64 || t.type == MSGPACK_OBJECT_FLOAT32) {
      e.seconds = static_cast<uint32_t>(t.via.f64);
    } else {
      FAIL("unexpected time type " << t.type);
    }
    const msgpack_object& rec = root.via.array.ptr[root.via.array.size - 1];
    REQUIRE(rec.type == MSGPACK_OBJECT_MAP);
    for (uint32_t i = 0; i < rec.via.map.size; ++i) {
      const auto& kv = rec.via.map.ptr[i];
      REQUIRE(kv.key.type == MSGPACK_OBJECT_STR);
      REQUIRE(kv.val.type == MSGPACK_OBJECT_STR);
      e.record.emplace_back(std::string(kv.key.via.str.ptr, kv.key.via.str.size),
                            std::string(kv.val.via.str.ptr, kv.val.via.str.size));
    }
    decoded.emplace_back(std::move(e), hasNanos);
  }
  msgpack_unpacked_destroy(&u);
  CHECK(offset == out.size());
  REQUIRE(decoded.size() == events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    CHECK(decoded[i].first.record == events[i].record);
    CHECK(decoded[i].first.seconds == events[i].seconds);
    if (decoded[i].second) CHECK(decoded[i].first.nanos == events[i].nanos);
  }
}

TEST_CASE("forward: Match wildcards span dots and are case-sensitive", "[e2e][forward][routing]") {
  Firelane fl;
  fl.start(
      "[SERVICE]\n    Flush 0.05\n"
      "[INPUT]\n    Name forward\n    Listen 127.0.0.1\n    Port 0\n"
      "[OUTPUT]\n    Name stdout\n    Match app.*.web\n");
  auto client = fl.connect();
  for (const char* tag : {"app.web", "APP.x.web", "app.x.web.extra", "app.x.y.web", "app.a.web"}) {
    REQUIRE(client->send(buildMessage(tag, Event{1700000000, 0, {{"tag", tag}}}), kTimeout));
  }
  auto lines = fl.lines(2);
  CHECK(fieldOf(lines[0], "tag") == "app.x.y.web");
  CHECK(fieldOf(lines[1], "tag") == "app.a.web");
  CHECK(fl.proc().takeStdoutLines().empty());
}

TEST_CASE("forward: Match_Regex wins over Match on the same output", "[e2e][forward][routing]") {
  Firelane fl;
  fl.start(
      "[SERVICE]\n    Flush 0.05\n"
      "[INPUT]\n    Name forward\n    Listen 127.0.0.1\n    Port 0\n"
      "[OUTPUT]\n    Name stdout\n    Match *\n    Match_Regex ^app\\.[0-9]+$\n");
  auto client = fl.connect();
  REQUIRE(client->send(buildMessage("other", Event{1700000000, 0, {{"id", "other"}}}), kTimeout));
  REQUIRE(client->send(buildMessage("app.x1", Event{1700000000, 0, {{"id", "letters"}}}), kTimeout));
  REQUIRE(client->send(buildMessage("app.12", Event{1700000000, 0, {{"id", "digits"}}}), kTimeout));
  auto lines = fl.lines(1);
  CHECK(fieldOf(lines[0], "id") == "digits");
  CHECK(fl.proc().takeStdoutLines().empty());
}

}  // namespace firelane::e2e
