// End to end: the forward input's `empty_shared_key` (Fluent Bit's option): the HELO/PING/PONG
// handshake is required and runs with a zero-length key. The client side is written here on
// msgpack-c and OpenSSL, independent of firelane's handshake code.
#include <msgpack.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <cstdio>

#include "e2e/e2e_util.h"

namespace firelane::e2e {
namespace {

std::string sha512Hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  REQUIRE(EVP_Digest(data.data(), data.size(), md, &n, EVP_sha512(), nullptr) == 1);
  std::string hex;
  char b[3];
  for (unsigned i = 0; i < n; ++i) {
    std::snprintf(b, sizeof(b), "%02x", md[i]);
    hex += b;
  }
  return hex;
}

std::string textOf(const msgpack_object& o) {
  if (o.type == MSGPACK_OBJECT_STR) return std::string(o.via.str.ptr, o.via.str.size);
  if (o.type == MSGPACK_OBJECT_BIN) return std::string(o.via.bin.ptr, o.via.bin.size);
  return {};
}

// One msgpack object read from the server. Its str/bin objects point into `bytes`.
struct Message {
  std::string bytes;
  msgpack_unpacked u;
  Message() { msgpack_unpacked_init(&u); }
  ~Message() { msgpack_unpacked_destroy(&u); }
  const msgpack_object& obj() const { return u.data; }
};

// Reads from the client's socket until one complete msgpack object arrived (bounded by kTimeout);
// REQUIREs success.
void readMessage(ForwardClient& c, Message& m) {
  std::string& buf = m.bytes;
  auto deadline = std::chrono::steady_clock::now() + kTimeout;
  for (;;) {
    size_t off = 0;
    if (!buf.empty() && msgpack_unpack_next(&m.u, buf.data(), buf.size(), &off) == MSGPACK_UNPACK_SUCCESS) {
      REQUIRE(off == buf.size());  // the server sends one message and waits for our answer
      return;
    }
    auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
    REQUIRE(left.count() > 0);
    pollfd p{c.fd(), POLLIN, 0};
    REQUIRE(::poll(&p, 1, static_cast<int>(left.count())) == 1);
    char chunk[4096];
    ssize_t n = ::recv(c.fd(), chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EAGAIN) continue;
    REQUIRE(n > 0);
    buf.append(chunk, static_cast<size_t>(n));
  }
}

const msgpack_object* mapValue(const msgpack_object& map, const std::string& key) {
  if (map.type != MSGPACK_OBJECT_MAP) return nullptr;
  for (uint32_t i = 0; i < map.via.map.size; ++i)
    if (textOf(map.via.map.ptr[i].key) == key) return &map.via.map.ptr[i].val;
  return nullptr;
}

struct PongSeen {
  bool ok = false;
  std::string reason, hostname, digest;
};

// Reads the HELO, answers with a PING built from `key`, returns the PONG and the nonce.
PongSeen handshake(ForwardClient& c, const std::string& key, std::string& nonce) {
  Message helo;
  readMessage(c, helo);
  const msgpack_object& h = helo.obj();
  REQUIRE(h.type == MSGPACK_OBJECT_ARRAY);
  REQUIRE(h.via.array.size == 2);
  REQUIRE(textOf(h.via.array.ptr[0]) == "HELO");
  const msgpack_object* n = mapValue(h.via.array.ptr[1], "nonce");
  REQUIRE(n);
  nonce = textOf(*n);
  CHECK(nonce.size() == 16);
  const msgpack_object* auth = mapValue(h.via.array.ptr[1], "auth");
  REQUIRE(auth);
  CHECK(textOf(*auth).empty());  // no security.users: no user authentication

  const std::string salt = "0123456789abcdef", host = "agent-empty";
  Packer ping;
  ping.array(6).str("PING").str(host).str(salt).str(sha512Hex(salt + host + nonce + key)).str("").str("");
  REQUIRE(c.send(ping.view()));

  Message pong;
  readMessage(c, pong);
  const msgpack_object& p = pong.obj();
  REQUIRE(p.type == MSGPACK_OBJECT_ARRAY);
  REQUIRE(p.via.array.size == 5);
  REQUIRE(textOf(p.via.array.ptr[0]) == "PONG");
  REQUIRE(p.via.array.ptr[1].type == MSGPACK_OBJECT_BOOLEAN);
  PongSeen s;
  s.ok = p.via.array.ptr[1].via.boolean;
  s.reason = textOf(p.via.array.ptr[2]);
  s.hostname = textOf(p.via.array.ptr[3]);
  s.digest = textOf(p.via.array.ptr[4]);
  if (s.ok) CHECK(s.digest == sha512Hex(salt + s.hostname + nonce + key));
  return s;
}

}  // namespace

TEST_CASE("forward input: empty_shared_key runs the handshake with a zero-length key", "[e2e][forward][security]") {
  Firelane agg;
  agg.start(forwardToStdoutConfig("    empty_shared_key on\n    self_hostname agg-empty\n"));
  auto events = makeEvents("e", 5);

  SECTION("a PING with the empty key is accepted and events flow") {
    auto c = agg.connect();
    std::string nonce;
    PongSeen pong = handshake(*c, "", nonce);
    CHECK(pong.ok);
    CHECK(pong.reason.empty());
    CHECK(pong.hostname == "agg-empty");
    REQUIRE(c->send(buildForward("app", events)));
    auto got = agg.lines(events.size());
    CHECK(countBy(got, "id").size() == events.size());
  }
  SECTION("a PING with a non-empty key is refused") {
    auto c = agg.connect();
    std::string nonce;
    PongSeen pong = handshake(*c, "some-Key-1", nonce);
    CHECK_FALSE(pong.ok);
    CHECK(pong.reason == "shared_key mismatch");
    CHECK(c->waitClosed(kTimeout));
    INFO("stderr:\n" << agg.proc().stderrText());
    CHECK(agg.proc().waitForStderr("auth_failed (shared_key mismatch", kTimeout));
  }
  SECTION("a client that skips the handshake is refused") {
    auto c = agg.connect();
    Message helo;
    readMessage(*c, helo);  // the server asks first
    REQUIRE(c->send(buildForward("app", events)));
    CHECK(c->waitClosed(kTimeout));
    INFO("stderr:\n" << agg.proc().stderrText());
    CHECK(agg.proc().waitForStderr("handshake_invalid", kTimeout));
  }
  // Nothing refused was printed (the accepted section consumed its own lines).
  CHECK(agg.proc().takeStdoutLines().empty());
}

TEST_CASE("forward input: empty_shared_key config checks", "[e2e][forward][security]") {
  TempDir dir;
  auto run = [&](const std::string& inputLines) {
    std::string conf = dir.writeFile("e.conf", "[INPUT]\n    Name forward\n    Listen 127.0.0.1\n    Port 0\n" +
                                                   inputLines + "[OUTPUT]\n    Name stdout\n    Match *\n");
    auto proc = Process::spawn(firelaneBin(), {"--dry-run", "-c", conf});
    auto code = proc->waitExit(kTimeout);
    proc->waitOutputClosed(kTimeout);
    INFO("stderr:\n" << proc->stderrText());
    REQUIRE(code);
    return std::make_pair(*code, proc->stderrText());
  };
  // Both keys at once is a mistake (Fluent Bit would silently use the empty one).
  auto [code, err] = run("    shared_key s3cret-K\n    empty_shared_key on\n");
  CHECK(code == 1);
  CHECK(err.find("e.conf:6: 'empty_shared_key' and 'shared_key' in [INPUT] forward exclude each other") !=
        std::string::npos);
  CHECK(err.find("s3cret-K") == std::string::npos);
  // security.users needs a handshake: the empty key provides one.
  CHECK(run("    empty_shared_key on\n    security.users alice pw-1\n").first == 0);
  auto [code2, err2] = run("    security.users alice pw-1\n");
  CHECK(code2 == 1);
  CHECK(err2.find("needs 'shared_key' (or 'empty_shared_key on')") != std::string::npos);
}

}  // namespace firelane::e2e
