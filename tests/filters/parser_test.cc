// Tests of the parser filter and the [PARSER] machinery behind it (regex/json/logfmt, Time_Format,
// Types, Reserve_Data, Preserve_Key, Unescape_Key), the shipped conf/parsers.conf and config errors.
#include <catch2/catch.hpp>

#include "core/config/pipeline.h"
#include "core/parser/log_parser.h"
#include "core/parser/time_format.h"
#include "core/record/record_accessor.h"
#include "filters/filter_test_util.h"
#include "filters/parser/parser.h"
#include "support/process.h"

using namespace firelane;
using namespace firelane::filtertest;

namespace {

constexpr int64_t kOrigTime = 1700000000000000000;

ServiceConfig withParsers(const std::string& text, testsupport::TempDir& dir) {
  std::string path = dir.writeFile("parsers.conf", text);
  auto set = parser::ParserSet::load({{path, "", ""}});
  INFO((set.ok() ? std::string() : set.message()));
  REQUIRE(set.ok());
  ServiceConfig s;
  s.parsers = *set;
  return s;
}

ServiceConfig shippedParsers() {
  auto set = parser::ParserSet::load({{std::string(FIRELANE_SOURCE_DIR) + "/conf/parsers.conf", "", ""}});
  INFO((set.ok() ? std::string() : set.message()));
  REQUIRE(set.ok());
  ServiceConfig s;
  s.parsers = *set;
  return s;
}

int64_t utcNs(int y, unsigned mo, unsigned d, int h, int mi, int s, int64_t frac = 0) {
  return (parser::daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s) * 1000000000LL + frac;
}

// Runs one record through a parser filter built from `entries`.
struct OneResult {
  FilterResult result;
  EventBatch batch;
};
OneResult runOne(const std::string& entries, const ServiceConfig& svc, std::vector<uint8_t> record) {
  auto r = startFilter(filters::parser::registerPlugin, "parser", entries, svc);
  OneResult out{FilterResult::Unchanged, makeBatch({record})};
  out.result = r->filter->apply(out.batch);
  return out;
}

}  // namespace

TEST_CASE("time format parses strptime directives with fractions and zones", "[filters][parser]") {
  auto f = parser::TimeFormat::parse("%d/%b/%Y:%H:%M:%S %z");
  REQUIRE(f.ok());
  int64_t ns = 0;
  REQUIRE(f->apply("10/Oct/2000:13:55:36 -0700", ns, 1999));
  CHECK(ns == utcNs(2000, 10, 10, 20, 55, 36));

  auto iso = parser::TimeFormat::parse("%Y-%m-%dT%H:%M:%S.%L%z");
  REQUIRE(iso.ok());
  REQUIRE(iso->apply("2023-11-14T22:13:20.123456789Z", ns, 0));
  CHECK(ns == utcNs(2023, 11, 14, 22, 13, 20, 123456789));
  REQUIRE(iso->apply("2023-11-14T22:13:20.5+05:30", ns, 0));
  CHECK(ns == utcNs(2023, 11, 14, 16, 43, 20, 500000000));
  CHECK_FALSE(iso->apply("2023-11-14 22:13:20.5Z", ns, 0));
  CHECK_FALSE(iso->apply("2023-13-14T22:13:20.5Z", ns, 0));

  // No year: the default year (syslog); Time_Offset applies without %z.
  auto sys = parser::TimeFormat::parse("%b %d %H:%M:%S");
  REQUIRE(sys.ok());
  REQUIRE(sys->apply("Feb  3 04:05:06", ns, 2024, 3600));
  CHECK(ns == utcNs(2024, 2, 3, 3, 5, 6));

  auto epoch = parser::TimeFormat::parse("%s.%L");
  REQUIRE(epoch.ok());
  REQUIRE(epoch->apply("1700000000.25", ns, 0));
  CHECK(ns == 1700000000250000000);

  auto bad = parser::TimeFormat::parse("%Y-%Q");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.message().find("%Q") != std::string::npos);
}

TEST_CASE("time format refuses times outside int64 nanoseconds instead of overflowing", "[filters][parser]") {
  // Found by the parser fuzz target (signed overflow, UBSan): epochs and dates past 2262 or before 1677.
  int64_t ns = 0;
  auto epoch = parser::TimeFormat::parse("%s.%L");
  REQUIRE(epoch.ok());
  CHECK_FALSE(epoch->apply("17000000032.5", ns, 0));
  CHECK_FALSE(epoch->apply("-30497596370.1", ns, 0));
  CHECK_FALSE(epoch->apply("9999999999999999999.1", ns, 0));
  REQUIRE(epoch->apply("9223372035.5", ns, 0));  // the last whole second that fits
  CHECK(ns == 9223372035500000000);
  auto date = parser::TimeFormat::parse("%Y-%m-%d %H:%M:%S");
  REQUIRE(date.ok());
  CHECK_FALSE(date->apply("9999-12-31 23:59:59", ns, 0));
  CHECK_FALSE(date->apply("0000-01-01 00:00:00", ns, 0));
  REQUIRE(date->apply("2262-04-11 23:47:16", ns, 0));
  CHECK(ns == 9223372036000000000);
}

TEST_CASE("shipped parsers.conf parses a typical line of each format", "[filters][parser]") {
  ServiceConfig svc = shippedParsers();
  struct Case {
    const char* parser;
    const char* line;
    std::vector<std::pair<std::string, std::string>> expect;  // key -> JSON value text
    int64_t timeNs;                                          // 0 = original time kept
  };
  const int year = parser::currentYear();
  std::vector<Case> cases = {
      {"json", R"({"level":"info","n":3,"nested":{"a":[1,2.5,null,true]},"time":"10/Oct/2000:13:55:36 +0000"})",
       {{"level", "\"info\""}, {"n", "3"}, {"nested", R"({"a":[1,2.5,null,true]})"}},
       utcNs(2000, 10, 10, 13, 55, 36)},
      {"docker", R"({"log":"hello\n","stream":"stdout","time":"2023-11-14T22:13:20.123456789Z"})",
       {{"log", "\"hello\\n\""}, {"stream", "\"stdout\""}, {"time", "\"2023-11-14T22:13:20.123456789Z\""}},
       utcNs(2023, 11, 14, 22, 13, 20, 123456789)},
      {"apache",
       R"(192.168.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://ref.example/" "Mozilla/4.08")",
       {{"host", "\"192.168.0.1\""}, {"user", "\"frank\""}, {"method", "\"GET\""}, {"path", "\"/apache_pb.gif\""},
        {"code", "\"200\""}, {"size", "\"2326\""}, {"referer", "\"http://ref.example/\""}, {"agent", "\"Mozilla/4.08\""}},
       utcNs(2000, 10, 10, 20, 55, 36)},
      {"apache2", R"~(10.0.0.2 - - [10/Oct/2000:13:55:36 +0000] "POST /login HTTP/1.1" 302 - "-" "curl/8.0 (x)")~",
       {{"host", "\"10.0.0.2\""}, {"user", "\"-\""}, {"method", "\"POST\""}, {"path", "\"/login\""},
        {"code", "\"302\""}, {"agent", "\"curl/8.0 (x)\""}},
       utcNs(2000, 10, 10, 13, 55, 36)},
      {"apache_error",
       "[Wed Oct 11 14:32:52 2000] [error] [client 127.0.0.1] client denied by server configuration: /export/home",
       {{"time", "\"Oct 11 14:32:52 2000\""}, {"level", "\"error\""}, {"client", "\"127.0.0.1\""},
        {"message", "\"client denied by server configuration: /export/home\""}},
       0},
      {"nginx",
       R"~(172.17.0.1 - - [14/Nov/2023:22:13:20 +0000] "GET /index.html HTTP/1.1" 200 612 "-" "Mozilla/5.0 (X11)")~",
       {{"remote", "\"172.17.0.1\""}, {"host", "\"-\""}, {"method", "\"GET\""}, {"path", "\"/index.html\""},
        {"code", "\"200\""}, {"size", "\"612\""}, {"agent", "\"Mozilla/5.0 (X11)\""}},
       utcNs(2023, 11, 14, 22, 13, 20)},
      {"syslog-rfc5424",
       "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 1234 ID47 [exampleSDID@32473 iut=\"3\"] An "
       "application event",
       {{"pri", "\"165\""}, {"host", "\"mymachine.example.com\""}, {"ident", "\"evntslog\""}, {"pid", "\"1234\""},
        {"msgid", "\"ID47\""}, {"extradata", "\"[exampleSDID@32473 iut=\\\"3\\\"]\""},
        {"message", "\"An application event\""}, {"time", "\"2003-10-11T22:14:15.003Z\""}},
       utcNs(2003, 10, 11, 22, 14, 15, 3000000)},
      {"syslog-rfc3164", "<34>Oct 11 22:14:15 mymachine su[42]: 'su root' failed for lonvick on /dev/pts/8",
       {{"pri", "\"34\""}, {"host", "\"mymachine\""}, {"ident", "\"su\""}, {"pid", "\"42\""},
        {"message", "\"'su root' failed for lonvick on /dev/pts/8\""}, {"time", "\"Oct 11 22:14:15\""}},
       utcNs(year, 10, 11, 22, 14, 15)},
      {"logfmt", R"(level=warn msg="disk \"sda\" full" pct=97 dry)",
       {{"level", "\"warn\""}, {"msg", "\"disk \\\"sda\\\" full\""}, {"pct", "\"97\""}, {"dry", "true"}}, 0},
  };
  for (const auto& c : cases) {
    INFO(c.parser << ": " << c.line);
    auto out = runOne("    Key_Name log\n    Parser " + std::string(c.parser) + "\n", svc,
                      strMap({{"log", c.line}, {"source", "stdout"}}));
    REQUIRE(out.result == FilterResult::Modified);
    REQUIRE(out.batch.events.size() == 1);
    std::string js = json(out.batch.events[0].record);
    INFO(js);
    for (const auto& [k, v] : c.expect) CHECK(js.find("\"" + k + "\":" + v) != std::string::npos);
    CHECK(js.find("\"source\"") == std::string::npos);  // no Reserve_Data
    CHECK(out.batch.events[0].timeNs == (c.timeNs ? c.timeNs : kOrigTime));
  }
}

TEST_CASE("parser regex named groups time key types and time keep", "[filters][parser]") {
  testsupport::TempDir dir;
  auto svc = withParsers(R"([PARSER]
    Name   kv
    Format regex
    Regex  ^(?<time>\S+) (?<level>\w+) n=(?<n>-?\d+) f=(?<f>\S+) ok=(?<ok>\w+) h=(?<h>\w+) (?<msg>.*)$
    Time_Key time
    Time_Format %Y-%m-%dT%H:%M:%S
    Time_Offset +0200
    Types n:integer f:float ok:bool h:hex
)",
                         dir);
  auto out = runOne("    Key_Name log\n    Parser kv\n", svc,
                    strMap({{"log", "2024-01-02T03:04:05 WARN n=-42 f=2.5 ok=true h=ff rest of it"}}));
  REQUIRE(out.result == FilterResult::Modified);
  CHECK(json(out.batch.events[0].record) == R"({"level":"WARN","n":-42,"f":2.5,"ok":true,"h":255,"msg":"rest of it"})");
  CHECK(out.batch.events[0].timeNs == utcNs(2024, 1, 2, 1, 4, 5));

  SECTION("a time that does not fit the format keeps the field and the event time") {
    auto r = startFilter(filters::parser::registerPlugin, "parser", "    Key_Name log\n    Parser kv\n", svc);
    auto b = makeBatch({strMap({{"log", "yesterday WARN n=1 f=1.5 ok=no h=0 x"}})});
    REQUIRE(r->filter->apply(b) == FilterResult::Modified);
    CHECK(json(b.events[0].record) == R"({"time":"yesterday","level":"WARN","n":1,"f":1.5,"ok":false,"h":0,"msg":"x"})");
    CHECK(b.events[0].timeNs == kOrigTime);
    CHECK(r->ctx.counters().errors.get("time_format_mismatch") == 1);
  }
}

TEST_CASE("parser reserve data preserve key and first matching parser wins", "[filters][parser]") {
  testsupport::TempDir dir;
  auto svc = withParsers(R"([PARSER]
    Name   digits
    Format regex
    Regex  ^(?<num>\d+)$

[PARSER]
    Name   word
    Format regex
    Regex  ^(?<word>\w+)$

[PARSER]
    Name   js
    Format json
)",
                         dir);
  auto rec = strMap({{"a", "1"}, {"log", "abc"}, {"z", "2"}});
  SECTION("plain: only the parsed fields") {
    auto out = runOne("    Key_Name log\n    Parser digits\n    Parser word\n", svc, rec);
    CHECK(json(out.batch.events[0].record) == R"({"word":"abc"})");
  }
  SECTION("Reserve_Data keeps the other fields after the parsed ones") {
    auto out = runOne("    Key_Name log\n    Parser word\n    Reserve_Data on\n", svc, rec);
    CHECK(json(out.batch.events[0].record) == R"({"word":"abc","a":"1","z":"2"})");
  }
  SECTION("Preserve_Key keeps the original field too") {
    auto out = runOne("    Key_Name log\n    Parser word\n    Preserve_Key on\n", svc, rec);
    CHECK(json(out.batch.events[0].record) == R"({"word":"abc","log":"abc"})");
    auto both = runOne("    Key_Name log\n    Parser word\n    Preserve_Key on\n    Reserve_Data on\n", svc, rec);
    CHECK(json(both.batch.events[0].record) == R"({"word":"abc","a":"1","log":"abc","z":"2"})");
  }
  SECTION("the first parser in config order that matches wins") {
    auto out = runOne("    Key_Name log\n    Parser digits\n    Parser word\n", svc, strMap({{"log", "123"}}));
    CHECK(json(out.batch.events[0].record) == R"({"num":"123"})");
  }
  SECTION("a parsed key replaces a reserved one of the same name") {
    auto out = runOne("    Key_Name log\n    Parser js\n    Reserve_Data on\n", svc,
                      strMap({{"a", "old"}, {"log", R"({"a":"new","b":{"c":[1]}})"}}));
    CHECK(json(out.batch.events[0].record) == R"({"a":"new","b":{"c":[1]}})");
  }
}

TEST_CASE("parser passes unmatched and unusable records unchanged without copying", "[filters][parser]") {
  testsupport::TempDir dir;
  auto svc = withParsers("[PARSER]\n    Name js\n    Format json\n[PARSER]\n    Name w\n    Format regex\n    Regex ^(?<w>\\w+)$\n",
                         dir);
  auto r = startFilter(filters::parser::registerPlugin, "parser", "    Key_Name log\n    Parser js\n    Parser w\n", svc);
  Pack nonString;
  nonString.map(1).str("log").i64(5);
  Pack nested;
  nested.map(1).str("log").map(1).kv("a", "b");
  auto batch = makeBatch({strMap({{"msg", "no log key"}}), strMap({{"log", "not json {"}}), nonString.bytes(),
                          nested.bytes(), strMap({{"log", "[1,2]"}}), strMap({{"log", "{\"a\":1} trailing"}})});
  std::vector<const uint8_t*> before;
  for (auto& e : batch.events) before.push_back(e.record.data());
  size_t bytes = batch.bytes;
  CHECK(r->filter->apply(batch) == FilterResult::Unchanged);
  REQUIRE(batch.events.size() == before.size());
  for (size_t i = 0; i < before.size(); ++i) CHECK(batch.events[i].record.data() == before[i]);
  CHECK(batch.bytes == bytes);
  CHECK(batch.owners.size() == 1);

  SECTION("in a mixed batch only the parsed record is rewritten") {
    auto mixed = makeBatch({strMap({{"log", "skip me"}}), strMap({{"log", "word"}}), strMap({{"x", "y"}})});
    const uint8_t* first = mixed.events[0].record.data();
    const uint8_t* third = mixed.events[2].record.data();
    CHECK(r->filter->apply(mixed) == FilterResult::Modified);
    CHECK(mixed.events[0].record.data() == first);
    CHECK(mixed.events[2].record.data() == third);
    CHECK(json(mixed.events[1].record) == R"({"w":"word"})");
    CHECK(mixed.bytes == sumBytes(mixed));
  }
}

TEST_CASE("parser handles non-UTF-8 bytes huge values and bin strings", "[filters][parser]") {
  testsupport::TempDir dir;
  auto svc = withParsers(R"([PARSER]
    Name   any
    Format regex
    Regex  ^(?<head>\S+) (?<rest>(?s:.*))$

[PARSER]
    Name   js
    Format json

[PARSER]
    Name   lf
    Format logfmt
)",
                         dir);
  SECTION("invalid UTF-8 in json strings is copied as is") {
    std::string line = "{\"m\":\"caf\xe9 \xff\xfe\"}";
    auto out = runOne("    Key_Name log\n    Parser js\n", svc, strMap({{"log", line}}));
    REQUIRE(out.result == FilterResult::Modified);
    std::string_view s;
    REQUIRE(record::stringValue(record::findKey(out.batch.events[0].record, "m"), s));
    CHECK(s == "caf\xe9 \xff\xfe");
  }
  SECTION("invalid UTF-8 never crashes the regex path") {
    std::string line = "h\xff\xfe \xc3\x28 tail";
    auto out = runOne("    Key_Name log\n    Parser any\n", svc, strMap({{"log", line}}));
    REQUIRE(out.batch.events.size() == 1);
    if (out.result == FilterResult::Modified) CHECK(json(out.batch.events[0].record).find("tail") != std::string::npos);
  }
  SECTION("a 1 MiB value parses whole") {
    std::string big(1 << 20, 'x');
    auto out = runOne("    Key_Name log\n    Parser any\n", svc, strMap({{"log", "head " + big}}));
    REQUIRE(out.result == FilterResult::Modified);
    std::string_view s;
    REQUIRE(record::stringValue(record::findKey(out.batch.events[0].record, "rest"), s));
    CHECK(s.size() == big.size());
    std::string jsBig = "{\"k\":\"" + big + "\",\"arr\":[1]}";
    auto js = runOne("    Key_Name log\n    Parser js\n", svc, strMap({{"log", jsBig}}));
    REQUIRE(js.result == FilterResult::Modified);
    REQUIRE(record::stringValue(record::findKey(js.batch.events[0].record, "k"), s));
    CHECK(s.size() == big.size());
  }
  SECTION("bin values are parsed like strings") {
    Pack p;
    p.map(1).str("log").bin("a=1 b=two");
    auto out = runOne("    Key_Name log\n    Parser lf\n", svc, p.bytes());
    CHECK(json(out.batch.events[0].record) == R"({"a":"1","b":"two"})");
  }
  SECTION("deeply nested json is rejected, not overflowed") {
    std::string deep(200, '[');
    auto out = runOne("    Key_Name log\n    Parser js\n", svc, strMap({{"log", "{\"a\":" + deep}}));
    CHECK(out.result == FilterResult::Unchanged);
  }
  SECTION("json escapes and surrogate pairs decode to UTF-8") {
    auto out = runOne("    Key_Name log\n    Parser js\n", svc,
                      strMap({{"log", R"({"e":"a\"b\\c\/\u00e9\ud83d\ude00","big":18446744073709551615,"neg":-9,"x":1e3})"}}));
    REQUIRE(out.result == FilterResult::Modified);
    std::string_view s;
    REQUIRE(record::stringValue(record::findKey(out.batch.events[0].record, "e"), s));
    CHECK(s == "a\"b\\c/\xc3\xa9\xf0\x9f\x98\x80");
    std::string js = json(out.batch.events[0].record);
    CHECK(js.find("\"big\":18446744073709551615") != std::string::npos);
    CHECK(js.find("\"neg\":-9") != std::string::npos);
    CHECK(js.find("\"x\":1000.0") != std::string::npos);
  }
}

TEST_CASE("parser Types apply to json strings and Logfmt_No_Bare_Keys rejects bare keys", "[filters][parser]") {
  testsupport::TempDir dir;
  auto svc = withParsers(R"([PARSER]
    Name   js
    Format json
    Types  n:integer f:float b:bool s:string

[PARSER]
    Name   strict
    Format logfmt
    Logfmt_No_Bare_Keys on
)",
                         dir);
  auto out = runOne("    Key_Name log\n    Parser js\n", svc,
                    strMap({{"log", R"({"n":"42","f":"0.5","b":"true","s":"7","o":{"n":"1"},"x":3})"}}));
  CHECK(json(out.batch.events[0].record) == R"({"n":42,"f":0.5,"b":true,"s":"7","o":{"n":"1"},"x":3})");
  auto bare = runOne("    Key_Name log\n    Parser strict\n", svc, strMap({{"log", "a=1 flag"}}));
  CHECK(bare.result == FilterResult::Unchanged);
  auto ok = runOne("    Key_Name log\n    Parser strict\n", svc, strMap({{"log", "a=1 b="}}));
  CHECK(json(ok.batch.events[0].record) == R"({"a":"1","b":""})");
}

TEST_CASE("parser Unescape_Key decodes the value before parsing", "[filters][parser]") {
  testsupport::TempDir dir;
  auto svc = withParsers("[PARSER]\n    Name js\n    Format json\n", dir);
  auto rec = strMap({{"log", R"({\"a\":\"b\"})"}});
  auto plain = runOne("    Key_Name log\n    Parser js\n", svc, rec);
  CHECK(plain.result == FilterResult::Unchanged);
  auto un = runOne("    Key_Name log\n    Parser js\n    Unescape_Key on\n", svc, rec);
  REQUIRE(un.result == FilterResult::Modified);
  CHECK(json(un.batch.events[0].record) == R"({"a":"b"})");
}

TEST_CASE("parser config errors name file and line", "[filters][parser]") {
  testsupport::TempDir dir;
  SECTION("unknown parser name in the filter") {
    auto svc = withParsers("[PARSER]\n    Name nginx\n    Format json\n", dir);
    std::string err = configError(filters::parser::registerPlugin, "parser", "    Key_Name log\n    Parser ngnix\n", svc);
    CHECK(err == "t.conf:5: unknown parser 'ngnix' in [FILTER] parser (did you mean 'nginx'?)");
  }
  SECTION("no parsers file at all") {
    std::string err = configError(filters::parser::registerPlugin, "parser", "    Key_Name log\n    Parser x\n");
    CHECK(err.find("t.conf:5: unknown parser 'x'") == 0);
    CHECK(err.find("Parsers_File") != std::string::npos);
  }
  SECTION("missing Key_Name") {
    auto svc = withParsers("[PARSER]\n    Name p\n    Format json\n", dir);
    std::string err = configError(filters::parser::registerPlugin, "parser", "    Parser p\n", svc);
    CHECK(err.find("missing required key 'Key_Name'") != std::string::npos);
  }
  auto loadErr = [&](const std::string& text) {
    std::string path = dir.writeFile("bad.conf", text);
    auto set = parser::ParserSet::load({{path, "main.conf:3", ""}});
    REQUIRE_FALSE(set.ok());
    return set.message();
  };
  SECTION("a regex re2 rejects names the parsers file line and re2's message") {
    std::string err = loadErr("[PARSER]\n    Name lb\n    Format regex\n    Regex ^(?<=x)(?<a>y)$\n");
    CHECK(err.find("bad.conf:4: invalid Regex in [PARSER] lb: ") != std::string::npos);
    CHECK(err.find("invalid perl operator: (?<") != std::string::npos);
    std::string back = loadErr("[PARSER]\n    Name br\n    Format regex\n    Regex (?<a>x)\\1\n");
    CHECK(back.find("bad.conf:4: invalid Regex in [PARSER] br: invalid escape sequence: \\1") != std::string::npos);
  }
  SECTION("bad Types, Time_Format, Time_Offset and unknown keys") {
    CHECK(loadErr("[PARSER]\n    Name t\n    Format json\n    Types a:int\n").find("bad.conf:4: invalid Types entry 'a:int'") !=
          std::string::npos);
    CHECK(loadErr("[PARSER]\n    Name t\n    Format json\n    Time_Format %Q\n").find("bad.conf:4: invalid Time_Format") !=
          std::string::npos);
    CHECK(loadErr("[PARSER]\n    Name t\n    Format json\n    Time_Offset 9h\n").find("bad.conf:4: invalid value '9h'") !=
          std::string::npos);
    CHECK(loadErr("[PARSER]\n    Name t\n    Format json\n    Tyme_Key x\n").find("bad.conf:4: unknown key 'Tyme_Key'") !=
          std::string::npos);
    CHECK(loadErr("[PARSER]\n    Name t\n    Format xml\n").find("bad.conf:3: invalid value 'xml'") != std::string::npos);
    CHECK(loadErr("[PARSER]\n    Name t\n    Format regex\n").find("bad.conf:1: missing required key 'Regex'") !=
          std::string::npos);
  }
  SECTION("a missing parsers file names the Parsers_File line") {
    auto set = parser::ParserSet::load({{"nope.conf", "main.conf:3", dir.path()}});
    REQUIRE_FALSE(set.ok());
    CHECK(set.message() == "main.conf:3: Parsers_File 'nope.conf': no such file");
  }
}

TEST_CASE("buildPipeline loads every Parsers_File relative to the config", "[filters][parser]") {
  testsupport::TempDir dir;
  dir.writeFile("a.conf", "[PARSER]\n    Name pa\n    Format json\n");
  dir.writeFile("b.conf",
                "[MULTILINE_PARSER]\n    name ml\n    type regex\n    flush_timeout 500\n"
                "    rule \"start_state\" \"/^start \"quoted\"/\" \"cont\"\n"
                "    rule \"cont\" \"/^\\s+at /\" \"cont\"\n");
  std::string main = dir.writeFile("main.conf",
                                   "[SERVICE]\n    Parsers_File a.conf\n    Parsers_File b.conf\n"
                                   "[INPUT]\n    Name dummy\n[FILTER]\n    Name parser\n    Match *\n    Key_Name log\n"
                                   "    Parser pa\n[OUTPUT]\n    Name null\n    Match *\n");
  Registry reg;
  filters::parser::registerPlugin(reg);
  auto doc = config::parseFile(main);
  REQUIRE(doc.ok());
  REQUIRE(doc->sections.size() == 4);
  auto set = parser::ParserSet::load({{"a.conf", "", dir.path()}, {"b.conf", "", dir.path()}});
  REQUIRE(set.ok());
  REQUIRE((*set)->find("pa"));
  const auto* ml = (*set)->findMultiline("ml");
  REQUIRE(ml);
  CHECK(ml->flushTimeoutMs == 500);
  REQUIRE(ml->rules.size() == 2);
  CHECK(ml->rules[0].from == std::vector<std::string>{"start_state"});
  CHECK(RE2::PartialMatch("start \"quoted\" x", *ml->rules[0].regex));
  CHECK(ml->rules[1].to == "cont");

  SECTION("a bad regex in a parsers file stops buildPipeline with its file and line") {
    dir.writeFile("b.conf", "[PARSER]\n    Name x\n    Format regex\n    Regex (?<a>x)++\n");
    auto d = config::parseFile(main);
    REQUIRE(d.ok());
    auto pc = buildPipeline(*d, reg);
    REQUIRE_FALSE(pc.ok());
    CHECK(pc.message().find("b.conf:4: invalid Regex in [PARSER] x") != std::string::npos);
  }
  SECTION("a bad multiline rule names its line") {
    dir.writeFile("b.conf", "[MULTILINE_PARSER]\n    name m\n    type regex\n    rule \"start_state\" \"/(/\" \"c\"\n");
    auto d = config::parseFile(main);
    auto pc = buildPipeline(*d, reg);
    REQUIRE_FALSE(pc.ok());
    CHECK(pc.message().find("b.conf:4: invalid rule in [MULTILINE_PARSER] m: invalid regex '/(/'") != std::string::npos);
  }
}
