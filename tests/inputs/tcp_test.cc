// Tests for the tcp input's stream framing: JSON objects split anywhere across reads, strings with
// braces and escapes, malformed and oversized records, Format none with custom separators.
#include "inputs/tcp/tcp_framer.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace firelane::inputs::tcp;
using Error = StreamFramer::Error;

namespace {

struct Framed {
  std::vector<std::string> records;  // each record as compact JSON
  Error error = Error::None;
};

// Feeds `pieces` one by one (stopping at the first error), then finish() if `eof`.
Framed frame(const TcpConfig& cfg, const std::vector<std::string>& pieces, bool eof = false) {
  StreamFramer f(cfg);
  std::vector<uint8_t> out;
  std::vector<RecordSpan> spans;
  Framed r;
  for (const auto& p : pieces) {
    r.error = f.feed(p, out, spans);
    if (r.error != Error::None) break;
  }
  if (eof && r.error == Error::None) r.error = f.finish(out, spans);
  for (const auto& s : spans) {
    std::vector<uint8_t> one(out.begin() + static_cast<std::ptrdiff_t>(s.offset),
                             out.begin() + static_cast<std::ptrdiff_t>(s.offset + s.size));
    r.records.push_back(nlohmann::ordered_json::from_msgpack(one).dump());
  }
  return r;
}

TcpConfig jsonCfg(size_t bufferSize = 32768) {
  TcpConfig c;
  c.format = Format::Json;
  c.bufferSize = bufferSize;
  return c;
}

TcpConfig noneCfg(const std::string& sep = "\n", size_t bufferSize = 32768) {
  TcpConfig c;
  c.format = Format::None;
  c.separator = sep;
  c.bufferSize = bufferSize;
  return c;
}

}  // namespace

TEST_CASE("tcp framer: a stream of JSON objects gives one record each", "[inputs][tcp]") {
  auto r = frame(jsonCfg(), {"{\"a\":1}{\"b\":[1,{\"c\":\"}\"}]}\n  {\"s\":\"q\\\"{\"}\r\n"});
  CHECK(r.error == Error::None);
  CHECK(r.records == std::vector<std::string>{R"({"a":1})", R"({"b":[1,{"c":"}"}]})", R"({"s":"q\"{"})"});
}

TEST_CASE("tcp framer: objects split at every byte boundary are reassembled", "[inputs][tcp]") {
  std::string stream = R"({"log":"a \\ b \" {[ c","n":-1.5,"t":true} {"x":{"y":[]}})";
  for (size_t cut = 1; cut < stream.size(); ++cut) {
    auto r = frame(jsonCfg(), {stream.substr(0, cut), stream.substr(cut)}, true);
    INFO("cut at " << cut);
    REQUIRE(r.error == Error::None);
    CHECK(r.records == std::vector<std::string>{R"({"log":"a \\ b \" {[ c","n":-1.5,"t":true})", R"({"x":{"y":[]}})"});
  }
}

TEST_CASE("tcp framer: non-object JSON is malformed and earlier records are kept", "[inputs][tcp]") {
  CHECK(frame(jsonCfg(), {"{\"a\":1} [1,2]"}).records == std::vector<std::string>{R"({"a":1})"});
  CHECK(frame(jsonCfg(), {"{\"a\":1} [1,2]"}).error == Error::Malformed);
  CHECK(frame(jsonCfg(), {"hello\n"}).error == Error::Malformed);
  // Balanced braces but not JSON: the converter rejects it.
  auto bad = frame(jsonCfg(), {"{\"a\":1}", "{\"a\" 1}", "{\"b\":2}"});
  CHECK(bad.error == Error::Malformed);
  CHECK(bad.records == std::vector<std::string>{R"({"a":1})"});
}

TEST_CASE("tcp framer: an object over Buffer_Size is too large; one at the bound passes", "[inputs][tcp]") {
  std::string obj = "{\"log\":\"" + std::string(100, 'x') + "\"}";  // 110 bytes
  auto fits = frame(jsonCfg(obj.size()), {obj.substr(0, 50), obj.substr(50)});
  CHECK(fits.error == Error::None);
  CHECK(fits.records.size() == 1);
  auto over = frame(jsonCfg(obj.size() - 20), {obj.substr(0, 95), obj.substr(95)});
  CHECK(over.error == Error::TooLarge);
  CHECK(over.records.empty());
}

TEST_CASE("tcp framer: a stream ending inside an object is truncated; blanks at the end are fine", "[inputs][tcp]") {
  CHECK(frame(jsonCfg(), {"{\"a\":1}\n{\"b\""}, true).error == Error::Truncated);
  CHECK(frame(jsonCfg(), {"{\"a\":1}\n \n"}, true).error == Error::None);
}

TEST_CASE("tcp framer: Format none makes one log record per separator", "[inputs][tcp]") {
  auto r = frame(noneCfg(), {"one\ntw", "o\n\nthree {not json}\nlast"}, true);
  CHECK(r.error == Error::None);
  CHECK(r.records == std::vector<std::string>{R"({"log":"one"})", R"({"log":"two"})", R"({"log":"three {not json}"})",
                                              R"({"log":"last"})"});
}

TEST_CASE("tcp framer: a multi-byte separator split across reads", "[inputs][tcp]") {
  auto r = frame(noneCfg("<EOL>"), {"a<E", "OL>b<EOL", ">c<", "EOL>"});
  CHECK(r.error == Error::None);
  CHECK(r.records == std::vector<std::string>{R"({"log":"a"})", R"({"log":"b"})", R"({"log":"c"})"});
}

TEST_CASE("tcp framer: a line over Buffer_Size is too large", "[inputs][tcp]") {
  auto inOneRead = frame(noneCfg("\n", 8), {"short\n" + std::string(9, 'x') + "\nafter\n"});
  CHECK(inOneRead.error == Error::TooLarge);
  CHECK(inOneRead.records == std::vector<std::string>{R"({"log":"short"})"});
  auto noSeparatorYet = frame(noneCfg("\n", 8), {"12345", "6789"});
  CHECK(noSeparatorYet.error == Error::TooLarge);
  CHECK(frame(noneCfg("\n", 8), {"1234", "5678\n"}).error == Error::None);
}
