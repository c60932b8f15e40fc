// End to end: forward -> the real firelane binary -> http output -> a fake HTTP server on
// 127.0.0.1. Checks method, URI, headers, Basic auth, Content-Type and gzip per format, the body of
// each format event for event, retries on 500 and on connection resets delivering every event
// exactly once, 4xx answers dropped without retry, and the password never reaching stderr.
#include <msgpack.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <ctime>
#include <functional>
#include <thread>
#include <map>
#include <mutex>

#include "core/codec/base64.h"
#include "e2e/e2e_util.h"
#include "support/decompress.h"
#include "support/connect_proxy.h"
#include "support/http_test_server.h"
#include "support/test_certs.h"

using namespace firelane::e2e;

namespace {

const std::string kUser = "fl-user";
const std::string kPassword = "h77p-pa55-s3cr3t";

// The requests the fake server saw, checked as a strict receiver would, and how it answers.
class Receiver {
 public:
  using Answer = std::function<HttpReply(size_t, const HttpRequestIn&)>;
  // `answer(n, request)` picks the reply to the n-th request (0-based); default: 200 to everything.
  // With `pki`, serves TLS only with its server certificate.
  explicit Receiver(Answer answer = {}, const TestPki* pki = nullptr)
      : answer_(std::move(answer)), server_([this](const HttpRequestIn& r) { return onRequest(r); }) {
    if (pki) server_.enableTls(*pki);
    server_.start();
  }
  uint64_t tlsHandshakes() const { return server_.tlsHandshakes(); }
  ~Receiver() { server_.stop(); }

  uint16_t port() const { return server_.port(); }

  struct Seen {
    HttpRequestIn req;
    std::string body;  // decompressed
    int status = 0;    // what the server answered (0: reset)
  };
  std::vector<Seen> seen() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }
  std::vector<std::string> violations() const {
    std::lock_guard<std::mutex> lock(mu_);
    return violations_;
  }
  // Bodies of the requests answered 2xx.
  std::vector<std::string> acceptedBodies() const {
    std::vector<std::string> out;
    for (const auto& s : seen())
      if (s.status >= 200 && s.status < 300) out.push_back(s.body);
    return out;
  }
  // Polls `pred` (over accepted bodies) until true or the deadline.
  bool waitFor(const std::function<bool(const std::vector<std::string>&)>& pred, Millis timeout = kTimeout) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred(acceptedBodies())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pred(acceptedBodies());
  }

 private:
  HttpReply onRequest(const HttpRequestIn& r) {
    Seen s;
    s.req = r;
    std::string violation;
    if (!r.hasHeader("Host")) violation = "no Host header";
    if (r.header("Content-Length") != std::to_string(r.body.size())) violation = "Content-Length does not match";
    if (r.header("Content-Encoding") == "gzip") {
      auto plain = firelane::testsupport::gunzip(r.body);
      if (!plain) violation = "body is not gzip";
      else s.body = *plain;
    } else if (r.hasHeader("Content-Encoding")) {
      violation = "unexpected Content-Encoding " + r.header("Content-Encoding");
    } else {
      s.body = r.body;
    }
    size_t n;
    HttpReply reply;
    {
      std::lock_guard<std::mutex> lock(mu_);
      n = count_++;
    }
    if (!violation.empty()) {
      reply = HttpReply::json(400, "{}");
    } else if (answer_) {
      reply = answer_(n, r);
    }
    s.status = reply.action == HttpReply::Action::Respond ? reply.status : 0;
    std::lock_guard<std::mutex> lock(mu_);
    if (!violation.empty()) violations_.push_back(violation);
    seen_.push_back(std::move(s));
    return reply;
  }

  Answer answer_;
  mutable std::mutex mu_;
  size_t count_ = 0;
  std::vector<Seen> seen_;
  std::vector<std::string> violations_;
  HttpTestServer server_;
};

// [SERVICE] (one worker, fast flush and backoff, debug logs so that a leaked secret would show) +
// forward on 127.0.0.1:0 + the http output to the receiver with `output` lines added.
std::string httpConfig(const Receiver& r, const std::string& output, const std::string& flush = "0.05") {
  return "[SERVICE]\n"
         "    Flush " + flush + "\n"
         "    Grace 10\n"
         "    Log_Level debug\n"
         "    workers 1\n"
         "    scheduler.base 0.05\n"
         "    scheduler.cap 0.2\n"
         "\n[INPUT]\n"
         "    Name forward\n"
         "    Listen 127.0.0.1\n"
         "    Port 0\n"
         "\n[OUTPUT]\n"
         "    Name http\n"
         "    Match *\n"
         "    Host 127.0.0.1\n"
         "    Port " + std::to_string(r.port()) + "\n" + output;
}

void sendEvents(Firelane& f, const std::string& tag, const std::vector<Event>& events, size_t perFrame = 100) {
  auto client = f.connect();
  for (size_t i = 0; i < events.size(); i += perFrame) {
    size_t n = std::min(perFrame, events.size() - i);
    REQUIRE(client->send(buildForward(tag, std::span<const Event>(events.data() + i, n))));
  }
}

// SIGTERM, REQUIRE exit 0, and the whole stderr, which must not hold the password (nor its base64).
std::string stop(Firelane& f) {
  REQUIRE(f.proc().sendSignal(SIGTERM));
  auto code = f.proc().waitExit(kTimeout);
  REQUIRE(f.proc().waitOutputClosed(kTimeout));
  std::string err = f.proc().stderrText();
  INFO(err);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(err.find(kPassword) == std::string::npos);
  CHECK(err.find(firelane::codec::base64(kUser + ":" + kPassword)) == std::string::npos);
  return err;
}

// Splits a json_lines body into its lines (each must end in '\n').
std::vector<std::string> splitLines(const std::string& body) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < body.size()) {
    size_t nl = body.find('\n', at);
    REQUIRE(nl != std::string::npos);
    out.push_back(body.substr(at, nl - at));
    at = nl + 1;
  }
  return out;
}

// Splits concatenated JSON objects of flat records (no braces inside strings in these tests).
std::vector<std::string> splitObjects(std::string body) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < body.size()) {
    REQUIRE(body[at] == '{');
    size_t end = body.find('}', at);
    REQUIRE(end != std::string::npos);
    out.push_back(body.substr(at, end + 1 - at));
    at = end + 1;
  }
  return out;
}

// Every event of a json_lines body per id.
std::vector<std::string> allLines(const std::vector<std::string>& bodies) {
  std::vector<std::string> out;
  for (const auto& b : bodies)
    for (auto& l : splitLines(b)) out.push_back(std::move(l));
  return out;
}

// Decodes a msgpack body of [EventTime, {str: str}] entries into the e2e Event shape.
std::vector<Event> decodeMsgpack(const std::string& body) {
  std::vector<Event> out;
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  while (off < body.size()) {
    REQUIRE(msgpack_unpack_next(&u, body.data(), body.size(), &off) == MSGPACK_UNPACK_SUCCESS);
    const msgpack_object& o = u.data;
    REQUIRE(o.type == MSGPACK_OBJECT_ARRAY);
    REQUIRE(o.via.array.size == 2);
    const msgpack_object& t = o.via.array.ptr[0];
    REQUIRE(t.type == MSGPACK_OBJECT_EXT);
    REQUIRE(t.via.ext.type == 0);
    REQUIRE(t.via.ext.size == 8);
    auto be32 = [](const char* p) {
      const auto* b = reinterpret_cast<const uint8_t*>(p);
      return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | uint32_t(b[3]);
    };
    Event e;
    e.seconds = be32(t.via.ext.ptr);
    e.nanos = be32(t.via.ext.ptr + 4);
    const msgpack_object& m = o.via.array.ptr[1];
    REQUIRE(m.type == MSGPACK_OBJECT_MAP);
    for (uint32_t i = 0; i < m.via.map.size; ++i) {
      const auto& kv = m.via.map.ptr[i];
      REQUIRE(kv.key.type == MSGPACK_OBJECT_STR);
      REQUIRE(kv.val.type == MSGPACK_OBJECT_STR);
      e.record.push_back({std::string(kv.key.via.str.ptr, kv.key.via.str.size),
                          std::string(kv.val.via.str.ptr, kv.val.via.str.size)});
    }
    out.push_back(std::move(e));
  }
  msgpack_unpacked_destroy(&u);
  return out;
}

}  // namespace

TEST_CASE("http output e2e: json_lines with gzip and Basic auth and user headers", "[e2e][http_output]") {
  Receiver r;
  Firelane f;
  f.start(httpConfig(r, "    URI /ingest/v1\n    Format json_lines\n    compress gzip\n"
                        "    http_user " + kUser + "\n    http_passwd " + kPassword + "\n"
                        "    header X-Api-Key abc 123\n    Header X-Tenant t1\n"));
  auto events = makeEvents("a", 50);
  sendEvents(f, "app.log", events, 10);
  REQUIRE(r.waitFor([](const auto& bodies) { return allLines(bodies).size() >= 50; }));
  stop(f);

  CHECK(r.violations().empty());
  auto expected = jsonLines(events);
  CHECK(allLines(r.acceptedBodies()) == expected);  // in order, each once
  for (const auto& s : r.seen()) {
    CHECK(s.req.method == "POST");
    CHECK(s.req.target == "/ingest/v1");
    CHECK(s.req.header("Content-Type") == "application/x-ndjson");
    CHECK(s.req.header("Content-Encoding") == "gzip");
    CHECK(s.req.header("Authorization") == "Basic " + firelane::codec::base64(kUser + ":" + kPassword));
    CHECK(s.req.header("X-Api-Key") == "abc 123");
    CHECK(s.req.header("X-Tenant") == "t1");
    CHECK(s.req.header("User-Agent").rfind("firelane/", 0) == 0);
    CHECK(s.req.header("Host") == "127.0.0.1:" + std::to_string(r.port()));
  }
}

TEST_CASE("http output e2e: each format's body and Content-Type", "[e2e][http_output]") {
  struct Case {
    std::string format;
    std::string contentType;
  };
  for (const Case& c : {Case{"json", "application/json"}, Case{"json_stream", "application/json"},
                        Case{"msgpack", "application/msgpack"}, Case{"", "application/msgpack"}}) {
    INFO("format " << (c.format.empty() ? "(default)" : c.format));
    Receiver r;
    Firelane f;
    f.start(httpConfig(r, c.format.empty() ? "" : "    Format " + c.format + "\n    json_date_format iso8601\n"));
    auto events = makeEvents("f", 30);
    sendEvents(f, "app.fmt", events, 30);
    std::function<size_t(const std::string&)> countOf;
    if (c.contentType == "application/msgpack") {
      countOf = [](const std::string& b) { return decodeMsgpack(b).size(); };
    } else if (c.format == "json") {
      countOf = [](const std::string& b) {
        REQUIRE(b.size() >= 2);
        REQUIRE(b.front() == '[');
        REQUIRE(b.back() == ']');
        std::string inner = b.substr(1, b.size() - 2);
        for (size_t i = 0; i + 1 < inner.size(); ++i)
          if (inner[i] == '}' && inner[i + 1] == ',') inner.erase(i + 1, 1);
        return splitObjects(inner).size();
      };
    } else {
      countOf = [](const std::string& b) { return splitObjects(b).size(); };
    }
    REQUIRE(r.waitFor([&](const auto& bodies) {
      size_t n = 0;
      for (const auto& b : bodies) n += countOf(b);
      return n >= 30;
    }));
    stop(f);
    CHECK(r.violations().empty());
    for (const auto& s : r.seen()) {
      CHECK(s.req.method == "POST");
      CHECK(s.req.target == "/");
      CHECK(s.req.header("Content-Type") == c.contentType);
      CHECK_FALSE(s.req.hasHeader("Content-Encoding"));
      CHECK_FALSE(s.req.hasHeader("Authorization"));
    }
    // The whole stream, event for event, against what each format must carry.
    std::string all;
    for (const auto& b : r.acceptedBodies()) all += b;
    if (c.contentType == "application/msgpack") {
      auto got = decodeMsgpack(all);
      REQUIRE(got.size() == events.size());
      for (size_t i = 0; i < events.size(); ++i) {
        CHECK(got[i].seconds == events[i].seconds);
        CHECK(got[i].nanos == events[i].nanos);
        CHECK(got[i].record == events[i].record);
      }
    } else {
      std::vector<std::string> expected;
      for (const auto& e : events) {
        // iso8601 dates: "2023-11-14T22:13:20.<micros>Z" for 1700000000 + i seconds.
        std::string line = jsonLine(e, false);
        char date[40];
        time_t t = e.seconds;
        tm tmv;
        gmtime_r(&t, &tmv);
        strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tmv);
        char iso[64];
        snprintf(iso, sizeof(iso), "\"%s.%06uZ\"", date, e.nanos / 1000);
        std::string dbl = jsonDate(e.seconds, e.nanos);
        line.replace(line.find(dbl), dbl.size(), iso);
        expected.push_back(line);
      }
      std::string joined;
      if (c.format == "json") {
        for (const auto& b : r.acceptedBodies()) {
          CHECK(b.front() == '[');
          CHECK(b.find("}{") == std::string::npos);
        }
        // Bodies are arrays: "[a,b]" "[c]" -> compare the objects in order.
        std::string flat;
        for (const auto& b : r.acceptedBodies()) flat += b.substr(1, b.size() - 2) + ",";
        std::string want;
        for (const auto& e : expected) want += e + ",";
        CHECK(flat == want);
      } else {
        for (const auto& e : expected) joined += e;
        CHECK(all == joined);
      }
    }
  }
}

TEST_CASE("http output e2e: retries on 500 and on connection resets deliver every event exactly once",
          "[e2e][http_output]") {
  // Requests 0-1 get 500, 2-3 a reset (read, then RST without an answer), 4 a 503 with Retry-After 0,
  // then every 5th request fails again; all others 200.
  Receiver r([](size_t n, const HttpRequestIn&) {
    if (n < 2) return HttpReply::json(500, R"({"error":"busy"})");
    if (n < 4) return HttpReply::reset();
    if (n == 4) {
      HttpReply x = HttpReply::json(503, "{}");
      x.headers.push_back({"Retry-After", "0"});
      return x;
    }
    if (n % 5 == 0) return n % 10 == 0 ? HttpReply::reset() : HttpReply::json(500, "{}");
    return HttpReply::json(200, "{}");
  });
  Firelane f;
  f.start(httpConfig(r, "    Format json_lines\n    compress gzip\n    Retry_Limit no_limits\n"
                        "    http_user " + kUser + "\n    http_passwd " + kPassword + "\n"));
  auto events = makeEvents("r", 400);
  sendEvents(f, "app.retry", events, 20);
  REQUIRE(r.waitFor([](const auto& bodies) { return allLines(bodies).size() >= 400; }));
  std::string err = stop(f);
  CHECK(r.violations().empty());

  std::map<std::string, int> counts;
  for (const auto& line : allLines(r.acceptedBodies())) ++counts[fieldOf(line, "id")];
  CHECK(counts.size() == events.size());
  size_t dup = 0, missing = 0;
  for (const auto& e : events) {
    auto it = counts.find(e.record[0].second);
    if (it == counts.end()) ++missing;
    else if (it->second != 1) ++dup;
  }
  CHECK(missing == 0);
  CHECK(dup == 0);
  // The failures did happen, and were logged with the status and the server's answer.
  auto seen = r.seen();
  REQUIRE(seen.size() > 5);
  CHECK(seen[0].status == 500);
  CHECK(seen[2].status == 0);
  CHECK(err.find("HTTP status=500") != std::string::npos);
  CHECK(err.find(R"({"error":"busy"})") != std::string::npos);
}

TEST_CASE("http output e2e: a 4xx answer drops the chunk without retrying it", "[e2e][http_output]") {
  Receiver r([](size_t n, const HttpRequestIn&) {
    return n == 0 ? HttpReply::json(400, R"({"error":"bad"})") : HttpReply::json(201, "");
  });
  Firelane f;
  f.start(httpConfig(r, "    Format json_lines\n    Retry_Limit no_limits\n"));
  auto first = makeEvents("x", 5);
  sendEvents(f, "app.bad", first, 5);
  REQUIRE(r.waitFor([&](const auto&) { return !r.seen().empty(); }));
  auto second = makeEvents("y", 5);
  sendEvents(f, "app.good", second, 5);
  REQUIRE(r.waitFor([](const auto& bodies) { return allLines(bodies).size() >= 5; }));
  std::string err = stop(f);
  CHECK(r.violations().empty());
  CHECK(allLines(r.acceptedBodies()) == jsonLines(second));
  CHECK(r.seen().size() == 2);  // the rejected chunk was not sent again
  CHECK(err.find("HTTP status=400") != std::string::npos);
  CHECK(err.find("will not be retried") != std::string::npos);
}

TEST_CASE("http output e2e: --dry-run accepts the http output and hides the password", "[e2e][http_output]") {
  TempDir dir;
  std::string conf = dir.writeFile(
      "h.conf", "[INPUT]\n    Name forward\n    Listen 127.0.0.1\n    Port 0\n[OUTPUT]\n    Name http\n    Match *\n"
                "    http_user " + kUser + "\n    http_passwd " + kPassword + "\n    Port nope\n");
  auto proc = Process::spawn(firelaneBin(), {"--dry-run", "-c", conf});
  proc->closeStdin();
  auto code = proc->waitExit(kTimeout);
  proc->waitOutputClosed(kTimeout);
  std::string err = proc->stderrText();
  INFO(err);
  CHECK(code == std::optional<int>(1));
  CHECK(err.find("h.conf:10: invalid value 'nope' for 'Port' in [OUTPUT] http") != std::string::npos);
  CHECK(err.find(kPassword) == std::string::npos);

  conf = dir.writeFile("ok.conf", "[INPUT]\n    Name forward\n    Listen 127.0.0.1\n    Port 0\n[OUTPUT]\n"
                                  "    Name http\n    Match *\n    http_user " + kUser + "\n    http_passwd " +
                                  kPassword + "\n    Format json\n");
  auto ok = Process::spawn(firelaneBin(), {"--dry-run", "-c", conf});
  ok->closeStdin();
  CHECK(ok->waitExit(kTimeout) == std::optional<int>(0));
  std::string out = ok->readStdoutToEof(kTimeout);
  ok->waitOutputClosed(kTimeout);
  CHECK(out.find("configuration test is successful") != std::string::npos);
  CHECK(out.find(kPassword) == std::string::npos);
  CHECK(ok->stderrText().find(kPassword) == std::string::npos);
}

TEST_CASE("http output e2e: TLS with tls.ca_file through a CONNECT proxy with PUT", "[e2e][http_output][tls]") {
  TestPki pki;
  Receiver r({}, &pki);
  ConnectProxy proxy;
  proxy.start();
  Firelane f;
  f.start(httpConfig(r, "    tls on\n    tls.ca_file " + pki.caFile() + "\n    tls.vhost localhost\n"
                        "    proxy http://127.0.0.1:" + std::to_string(proxy.port()) + "\n"
                        "    http_method PUT\n    uri bulk\n    Format json_lines\n"));
  auto events = makeEvents("t", 40);
  sendEvents(f, "app.tls", events, 10);
  REQUIRE(r.waitFor([](const auto& bodies) { return allLines(bodies).size() >= 40; }));
  stop(f);
  CHECK(r.violations().empty());
  CHECK(allLines(r.acceptedBodies()) == jsonLines(events));
  CHECK(r.tlsHandshakes() >= 1);
  REQUIRE_FALSE(proxy.requests().empty());
  CHECK(proxy.requests()[0] == "CONNECT 127.0.0.1:" + std::to_string(r.port()) + " HTTP/1.1");
  for (const auto& s : r.seen()) {
    CHECK(s.req.method == "PUT");
    CHECK(s.req.target == "/bulk");
    CHECK(s.req.header("Host") == "localhost:" + std::to_string(r.port()));
  }
}

TEST_CASE("http output e2e: a server certificate from an unknown CA is refused", "[e2e][http_output][tls]") {
  TestPki pki;
  Receiver r({}, &pki);
  Firelane f;
  f.start(httpConfig(r, "    tls on\n    tls.ca_file " + pki.unknownCaFile() + "\n    Format json\n"
                        "    Retry_Limit 1\n"));
  sendEvents(f, "app.tls", makeEvents("u", 3), 3);
  // Every attempt fails the handshake; after the retry the chunk is dropped with the reason.
  auto dropped = f.proc().waitForStderr("dropping 3 records", kTimeout);
  REQUIRE(dropped.has_value());
  CHECK(dropped->find("certificate verify failed") != std::string::npos);
  stop(f);
  CHECK(r.seen().empty());
}


TEST_CASE("http output e2e: header_tag sends one request per tag and a retry resends only the failed tag",
          "[e2e][http_output]") {
  // The first request for app.b fails; everything else is accepted.
  std::atomic<bool> failedB{false};
  Receiver r([&](size_t, const HttpRequestIn& req) {
    if (req.header("X-Tag") == "app.b" && !failedB.exchange(true)) return HttpReply::json(500, "{}");
    return HttpReply::json(200, "{}");
  });
  Firelane f;
  // A long Flush so that both tags' batches wait in the same chunk.
  f.start(httpConfig(r, "    Format json_lines\n    header_tag X-Tag\n    Retry_Limit no_limits\n", "0.5"));
  auto a = makeEvents("a", 40);
  auto b = makeEvents("b", 40);
  {
    // One write, so one read queues every batch at once: a single chunk with both tags, interleaved.
    std::string frames;
    for (size_t i = 0; i < 40; i += 10) {
      frames += buildForward("app.a", std::span<const Event>(a.data() + i, 10));
      frames += buildForward("app.b", std::span<const Event>(b.data() + i, 10));
    }
    auto client = f.connect();
    REQUIRE(client->send(frames));
  }
  REQUIRE(r.waitFor([](const auto& bodies) { return allLines(bodies).size() >= 80; }));
  stop(f);
  CHECK(r.violations().empty());
  CHECK(failedB.load());

  std::map<std::string, int> counts;
  for (const auto& s : r.seen()) {
    auto lines = splitLines(s.body);
    REQUIRE_FALSE(lines.empty());
    const std::string tag = s.req.header("X-Tag");
    CHECK((tag == "app.a" || tag == "app.b"));
    // Every event of a request carries the tag its header names.
    for (const auto& l : lines) CHECK(fieldOf(l, "id")[0] == tag.back());
    // The header comes right after Content-Type, as Fluent Bit adds it.
    size_t ct = 0, xt = 0;
    for (size_t i = 0; i < s.req.headers.size(); ++i) {
      if (s.req.headers[i].first == "Content-Type") ct = i;
      if (s.req.headers[i].first == "X-Tag") xt = i;
    }
    CHECK(xt == ct + 1);
    if (s.status == 200)
      for (const auto& l : lines) ++counts[fieldOf(l, "id")];
  }
  size_t dup = 0;
  for (const auto& [id, n] : counts) dup += n != 1;
  CHECK(counts.size() == 80);
  CHECK(dup == 0);
  // One chunk: app.a (accepted), app.b (500), then only app.b again.
  auto seen = r.seen();
  REQUIRE(seen.size() == 3);
  CHECK(seen[2].req.header("X-Tag") == "app.b");
  CHECK(seen[2].status == 200);
  CHECK(splitLines(seen[2].body).size() == 40);
}
