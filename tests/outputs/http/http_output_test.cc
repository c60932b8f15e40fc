// The http output's pure parts: request bodies in every format (exact bytes, every date format,
// extra fields), the headers it sends, Basic auth, status classification, and config errors that
// name file:line and never print the password.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "core/app/builtin_plugins.h"
#include "core/config/classic_parser.h"
#include "core/config/pipeline.h"
#include "filters/filter_test_util.h"
#include "outputs/http/http.h"

using namespace firelane;
using namespace firelane::outputs::http_output;
using firelane::filtertest::makeBatch;
using firelane::filtertest::Pack;
using firelane::filtertest::strMap;

namespace {

constexpr int64_t kT0 = 1700000000123456789;  // 2023-11-14T22:13:20.123456789Z
constexpr int64_t kT1 = 1700000001000000000;

Result<PipelineConfig> build(const std::string& outputLines) {
  Registry r;
  registerBuiltinPlugins(r);
  auto doc = config::parseString("[INPUT]\n    Name dummy\n[OUTPUT]\n    Name http\n    Match *\n" + outputLines,
                                 "http.conf", "/tmp");
  if (!doc) return doc.status();
  return buildPipeline(*doc, r);
}

// The typed config the factory holds (REQUIREs a valid config).
HttpOutputConfig configOf(const std::string& outputLines) {
  auto p = build(outputLines);
  INFO((p.ok() ? std::string() : p.message()));
  REQUIRE(p.ok());
  REQUIRE(p->outputs.size() == 1);
  auto* f = dynamic_cast<HttpOutputFactory*>(p->outputs[0].factory.get());
  REQUIRE(f != nullptr);
  return f->config();
}

std::string errorOf(const std::string& outputLines) {
  auto p = build(outputLines);
  REQUIRE_FALSE(p.ok());
  return p.message();
}

// Two events {"log":"one"} at kT0 and {"log":"two","n":"2"} at kT1, one batch; optional extra fields.
FlushChunk twoEvents(bool withExtra = false) {
  EventBatch b = makeBatch({strMap({{"log", "one"}}), strMap({{"log", "two"}, {"n", "2"}})});
  b.events[0].timeNs = kT0;
  b.events[1].timeNs = kT1;
  if (withExtra) {
    auto extra = std::make_shared<ExtraFields>();
    extra->kv = Pack().kv("ecs_cluster", "prod").bytes();
    extra->count = 1;
    b.extra = extra;
  }
  auto ref = std::make_shared<const EventBatch>(std::move(b));
  FlushChunk c;
  c.slices.push_back(BatchSlice{ref, 0, 2});
  c.events = 2;
  c.bytes = ref->bytes;
  return c;
}

std::string bodyFor(const std::string& outputLines, const FlushChunk& chunk) {
  HttpOutputConfig c = configOf(outputLines);
  std::string out = "stale";
  encodeBody(c, chunk, out);
  return out;
}

std::string header(const HttpOutputConfig& c, const std::string& name) {
  for (const auto& h : c.headers)
    if (config::iequals(h.name, name)) return h.value;
  return "<absent>";
}

}  // namespace

TEST_CASE("http output: json formats give exact bodies", "[outputs][http]") {
  FlushChunk chunk = twoEvents();
  CHECK(bodyFor("    Format json\n", chunk) ==
        R"([{"date":1700000000.123456,"log":"one"},{"date":1700000001.000000,"log":"two","n":"2"}])");
  CHECK(bodyFor("    Format json_lines\n", chunk) ==
        "{\"date\":1700000000.123456,\"log\":\"one\"}\n{\"date\":1700000001.000000,\"log\":\"two\",\"n\":\"2\"}\n");
  CHECK(bodyFor("    Format json_stream\n", chunk) ==
        R"({"date":1700000000.123456,"log":"one"}{"date":1700000001.000000,"log":"two","n":"2"})");
  // Format names are case-insensitive like every other value.
  CHECK(bodyFor("    format JSON_LINES\n", chunk).back() == '\n');
}

TEST_CASE("http output: json_date_format and json_date_key", "[outputs][http]") {
  FlushChunk chunk = twoEvents();
  CHECK(bodyFor("    Format json\n    json_date_format epoch\n", chunk) ==
        R"([{"date":1700000000,"log":"one"},{"date":1700000001,"log":"two","n":"2"}])");
  CHECK(bodyFor("    Format json\n    json_date_format epoch_ms\n", chunk) ==
        R"([{"date":1700000000123,"log":"one"},{"date":1700000001000,"log":"two","n":"2"}])");
  CHECK(bodyFor("    Format json\n    json_date_format iso8601\n", chunk) ==
        R"([{"date":"2023-11-14T22:13:20.123456Z","log":"one"},{"date":"2023-11-14T22:13:21.000000Z","log":"two","n":"2"}])");
  CHECK(bodyFor("    Format json\n    json_date_format java_sql_timestamp\n", chunk) ==
        R"([{"date":"2023-11-14 22:13:20.123456","log":"one"},{"date":"2023-11-14 22:13:21.000000","log":"two","n":"2"}])");
  CHECK(bodyFor("    Format json_lines\n    json_date_key @timestamp\n    json_date_format ISO8601\n", chunk) ==
        "{\"@timestamp\":\"2023-11-14T22:13:20.123456Z\",\"log\":\"one\"}\n"
        "{\"@timestamp\":\"2023-11-14T22:13:21.000000Z\",\"log\":\"two\",\"n\":\"2\"}\n");
  for (std::string off : {"false", "off", "Off"}) {
    CHECK(bodyFor("    Format json\n    json_date_key " + off + "\n", chunk) ==
          R"([{"log":"one"},{"log":"two","n":"2"}])");
  }
}

TEST_CASE("http output: extra fields follow the record in every format", "[outputs][http]") {
  FlushChunk chunk = twoEvents(true);
  CHECK(bodyFor("    Format json_stream\n    json_date_key false\n", chunk) ==
        R"({"log":"one","ecs_cluster":"prod"}{"log":"two","n":"2","ecs_cluster":"prod"})");
  std::string mp = bodyFor("    Format msgpack\n", chunk);
  std::string first = std::string("\x92\xd7\x00\x65\x53\xf1\x00\x07\x5b\xcd\x15", 11) +
                      "\x82\xa3log\xa3one\xab" "ecs_cluster\xa4prod";
  std::string second = std::string("\x92\xd7\x00\x65\x53\xf1\x01\x00\x00\x00\x00", 11) +
                       "\x83\xa3log\xa3two\xa1n\xa1" "2\xab" "ecs_cluster\xa4prod";
  CHECK(mp == first + second);
}

TEST_CASE("http output: msgpack is the default format: [EventTime record] entries", "[outputs][http]") {
  FlushChunk chunk = twoEvents();
  std::string expected = std::string("\x92\xd7\x00\x65\x53\xf1\x00\x07\x5b\xcd\x15", 11) + "\x81\xa3log\xa3one" +
                         std::string("\x92\xd7\x00\x65\x53\xf1\x01\x00\x00\x00\x00", 11) +
                         "\x82\xa3log\xa3two\xa1n\xa1" "2";
  CHECK(bodyFor("", chunk) == expected);
  HttpOutputConfig c = configOf("");
  CHECK(header(c, "Content-Type") == "application/msgpack");
}

TEST_CASE("http output: Content-Type per format as Fluent Bit sends it", "[outputs][http]") {
  CHECK(header(configOf("    Format json\n"), "Content-Type") == "application/json");
  CHECK(header(configOf("    Format json_stream\n"), "Content-Type") == "application/json");
  CHECK(header(configOf("    Format json_lines\n"), "Content-Type") == "application/x-ndjson");
  CHECK(header(configOf("    Format msgpack\n"), "Content-Type") == "application/msgpack");
}

TEST_CASE("http output: defaults and endpoint options", "[outputs][http]") {
  HttpOutputConfig d = configOf("");
  CHECK(d.upstream.host == "127.0.0.1");
  CHECK(d.upstream.port == 80);
  CHECK_FALSE(d.upstream.tls);
  CHECK(d.uri == "/");
  CHECK(d.method == "POST");
  CHECK(d.maxInFlight == 2);
  CHECK_FALSE(d.compress);
  CHECK(header(d, "Authorization") == "<absent>");
  CHECK(header(d, "Content-Encoding") == "<absent>");
  CHECK(d.upstream.http2 == firelane::http::Http2Mode::Off);

  HttpOutputConfig t = configOf("    host logs.example.com\n    tls on\n    tls.verify off\n    uri ingest/v1\n"
                                "    http_method put\n    workers 5\n    compress gzip\n");
  CHECK(t.upstream.host == "logs.example.com");
  CHECK(t.upstream.port == 443);
  CHECK(t.upstream.tls);
  CHECK_FALSE(t.upstream.tlsOptions.verify);
  CHECK(t.uri == "/ingest/v1");
  CHECK(t.method == "PUT");
  CHECK(t.maxInFlight == 5);
  CHECK(t.compress);
  CHECK(header(t, "Content-Encoding") == "gzip");

  HttpOutputConfig p = configOf("    Port 8080\n    tls on\n    tls.verify off\n    proxy http://127.0.0.1:3128\n");
  CHECK(p.upstream.port == 8080);
  CHECK(p.upstream.proxyHost == "127.0.0.1");
  CHECK(p.upstream.proxyPort == 3128);
}

TEST_CASE("http output: Basic auth and header order", "[outputs][http]") {
  CHECK(basicAuthorization("Aladdin", "open sesame") == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");  // RFC 7617
  CHECK(basicAuthorization("user", "") == "Basic dXNlcjo=");

  HttpOutputConfig c = configOf("    Format json\n    compress gzip\n    http_user Aladdin\n"
                                "    http_passwd open sesame\n    header X-Key abc def\n    header X-Other 1\n");
  std::vector<std::string> names;
  for (const auto& h : c.headers) names.push_back(h.name);
  CHECK(names == std::vector<std::string>{"Content-Type", "Content-Encoding", "Authorization", "User-Agent", "X-Key",
                                          "X-Other"});
  CHECK(header(c, "Authorization") == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  CHECK(header(c, "X-Key") == "abc def");
}

TEST_CASE("http output: allow_duplicated_headers", "[outputs][http]") {
  const std::string lines = "    Format json\n    header X-A 1\n    header x-a 2\n    header Content-Type text/plain\n";
  HttpOutputConfig dup = configOf(lines);
  size_t xa = 0, ct = 0;
  for (const auto& h : dup.headers) {
    xa += config::iequals(h.name, "X-A");
    ct += config::iequals(h.name, "Content-Type");
  }
  CHECK(xa == 2);
  CHECK(ct == 2);

  HttpOutputConfig last = configOf(lines + "    allow_duplicated_headers false\n");
  xa = ct = 0;
  for (const auto& h : last.headers) {
    xa += config::iequals(h.name, "X-A");
    ct += config::iequals(h.name, "Content-Type");
  }
  CHECK(xa == 1);
  CHECK(ct == 1);
  CHECK(header(last, "X-A") == "2");
  CHECK(header(last, "Content-Type") == "text/plain");
}

TEST_CASE("http output: status classification follows Fluent Bit", "[outputs][http]") {
  for (int s : {200, 201, 202, 203, 204, 205}) CHECK(classify(s) == Verdict::Ok);
  for (int s : {0, 100, 206, 301, 304, 408, 429, 500, 502, 503, 504}) CHECK(classify(s) == Verdict::Retry);
  for (int s : {400, 401, 403, 404, 405, 413, 422, 499}) CHECK(classify(s) == Verdict::Reject);
}

TEST_CASE("http output: config errors name file:line and the key", "[outputs][http]") {
  CHECK(errorOf("    Format gelf\n") ==
        "http.conf:6: invalid value for 'Format' in [OUTPUT] http: 'gelf' is not supported by firelane's http "
        "output; use json, json_lines, json_stream or msgpack");
  CHECK(errorOf("    Format xml\n").find("http.conf:6: invalid value 'xml' for 'Format' in [OUTPUT] http") == 0);
  CHECK(errorOf("    Port 70000\n") == "http.conf:6: invalid value for 'Port' in [OUTPUT] http: expected 0-65535");
  CHECK(errorOf("    Hots x\n") == "http.conf:6: unknown key 'Hots' in [OUTPUT] http (did you mean 'Host'?)");
  CHECK(errorOf("    header Good 1\n    header Bad\n") ==
        "http.conf:7: invalid value for 'header' in [OUTPUT] http: expected 'Name Value'");
  CHECK(errorOf("    json_date_format rfc3339\n").find("http.conf:6: invalid value 'rfc3339' for 'json_date_format'") ==
        0);
  CHECK(errorOf("    compress brotli\n").find("http.conf:6: invalid value 'brotli' for 'compress'") == 0);
  CHECK(errorOf("    proxy https://p:1\n").find("http.conf:6: proxy 'https://p:1': only http://") == 0);
  CHECK(errorOf("    workers 0\n") == "http.conf:6: invalid value for 'workers' in [OUTPUT] http: expected 1-256");
  CHECK(errorOf("    http_method GET\n").find("http.conf:6: invalid value 'GET' for 'http_method'") == 0);
  CHECK(errorOf("    tls on\n    tls.ca_file /nonexistent/ca.pem\n").find("http.conf:7: ") == 0);
  CHECK(errorOf("    URI /a b\n") ==
        "http.conf:6: invalid value for 'URI' in [OUTPUT] http: spaces and control characters must be percent-encoded");
  CHECK(errorOf("    header X-Ok 1\n    allow_duplicated_headers maybe\n")
            .find("http.conf:7: invalid value 'maybe' for 'allow_duplicated_headers'") == 0);
}

TEST_CASE("http output: the password never appears in config errors", "[outputs][http]") {
  const std::string secret = "pa55-w0rd-s3cr3t";
  std::string noUser = errorOf("    http_passwd " + secret + "\n");
  CHECK(noUser == "http.conf:6: 'http_passwd' in [OUTPUT] http needs 'http_user'");
  std::string other = errorOf("    http_user u\n    http_passwd " + secret + "\n    Port x\n");
  CHECK(other.find("http.conf:8:") == 0);
  CHECK(other.find(secret) == std::string::npos);
}

TEST_CASE("http output: header_tag splits a chunk into one request per tag", "[outputs][http]") {
  auto a1 = std::make_shared<const EventBatch>(makeBatch({strMap({{"log", "a1"}}), strMap({{"log", "a2"}})}, "app.a"));
  auto b1 = std::make_shared<const EventBatch>(makeBatch({strMap({{"log", "b1"}})}, "app.b"));
  auto a2 = std::make_shared<const EventBatch>(makeBatch({strMap({{"log", "a3"}})}, "app.a"));
  FlushChunk c;
  c.id = 7;
  for (const auto& b : {a1, b1, a2}) {
    c.slices.push_back(BatchSlice{b, 0, static_cast<uint32_t>(b->events.size())});
    c.events += b->events.size();
    c.bytes += b->bytes;
  }
  auto whole = splitRequests(c, false);
  REQUIRE(whole.size() == 1);
  CHECK(whole[0].events == 4);

  auto parts = splitRequests(c, true);
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].slices[0].tag() == "app.a");
  CHECK(parts[0].events == 3);
  CHECK(parts[0].bytes == a1->bytes + a2->bytes);
  CHECK(parts[0].id == 7);
  CHECK(parts[1].slices[0].tag() == "app.b");
  CHECK(parts[1].events == 1);
  HttpOutputConfig cfg = configOf("    Format json_stream\n    json_date_key off\n    header_tag X-Tag\n");
  CHECK(cfg.headerTag == "X-Tag");
  std::string body;
  encodeBody(cfg, parts[0], body);
  CHECK(body == R"({"log":"a1"}{"log":"a2"}{"log":"a3"})");

  CHECK(headerSafe("app.a") == "app.a");
  CHECK(headerSafe("bad\r\nX-Injected: 1") == "bad__X-Injected: 1");
  CHECK(errorOf("    header_tag X Tag\n") ==
        "http.conf:6: invalid value for 'header_tag' in [OUTPUT] http: expected a header name");
}
