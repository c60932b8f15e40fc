// Tests for the forward input's security layer without sockets: the HELO it sends, a PING with the
// right or wrong key / password, PONG contents, and frames after the PING passed through unchanged.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "core/proto/forward/handshake.h"
#include "inputs/forward/forward_session.h"

using namespace firelane::inputs::forward;
namespace pf = firelane::proto::forward;

namespace {

std::span<const uint8_t> spanOf(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

std::string pingFor(const pf::Helo& helo, const std::string& key, const std::string& user, const std::string& pw) {
  pf::Ping p;
  p.hostname = "agent-9";
  p.sharedKeySalt = "c2FsdA==";
  p.sharedKeyDigest = pf::sharedKeyDigest(p.sharedKeySalt, p.hostname, helo.nonce, key);
  p.username = user;
  p.passwordDigest = helo.auth.empty() ? "" : pf::passwordDigest(helo.auth, user, pw);
  std::vector<uint8_t> out;
  pf::encodePing(p, out);
  return std::string(out.begin(), out.end());
}

struct Started {
  ServerSession session;
  pf::Helo helo;
  explicit Started(const SecurityConfig& c) : session(c) {
    session.start();
    std::string hello = session.takeOutput();
    size_t used = 0;
    REQUIRE(pf::parseHelo(spanOf(hello), helo, used) == pf::ParseStatus::Ok);
    REQUIRE(used == hello.size());
  }
};

}  // namespace

TEST_CASE("forward session accepts a correct PING and passes later frames through", "[inputs][forward][security]") {
  SecurityConfig cfg;
  cfg.sharedKey = "the-key";
  cfg.selfHostname = "agg-1";
  cfg.users = {{"alice", "pw"}};
  Started s(cfg);
  CHECK(s.helo.nonce.size() == 16);
  CHECK(s.helo.auth.size() == 16);  // users configured: an auth salt is sent
  std::string ping = pingFor(s.helo, "the-key", "alice", "pw");
  std::string frames = "\x93\xa3" "app\x01\x80";
  std::string wire = ping + frames;
  std::string plain;
  // Byte by byte: the PING may arrive in pieces.
  for (size_t i = 0; i < wire.size(); ++i) {
    REQUIRE(s.session.onData(spanOf(wire.substr(i, 1)), plain) == ServerSession::Result::Continue);
    if (i + 1 < ping.size()) CHECK_FALSE(s.session.open());
  }
  CHECK(s.session.open());
  CHECK(plain == frames);
  std::string pongBytes = s.session.takeOutput();
  pf::Pong pong;
  size_t used = 0;
  REQUIRE(pf::parsePong(spanOf(pongBytes), pong, used) == pf::ParseStatus::Ok);
  CHECK(pong.ok);
  CHECK(pong.hostname == "agg-1");
  CHECK(pong.sharedKeyDigest == pf::sharedKeyDigest("c2FsdA==", "agg-1", s.helo.nonce, "the-key"));
}

TEST_CASE("forward session refuses a wrong key or password with the spec's reasons", "[inputs][forward][security]") {
  SecurityConfig cfg;
  cfg.sharedKey = "the-key";
  cfg.selfHostname = "agg-1";
  cfg.users = {{"alice", "pw"}};
  struct Case {
    std::string key, pw, reason;
  };
  for (const Case& c : {Case{"not-the-key", "pw", "shared_key mismatch"}, Case{"the-key", "nope", "username/password mismatch"}}) {
    Started s(cfg);
    std::string plain;
    CHECK(s.session.onData(spanOf(pingFor(s.helo, c.key, "alice", c.pw)), plain) == ServerSession::Result::Close);
    CHECK(plain.empty());
    CHECK(std::string(s.session.errorKind()) == "auth_failed");
    CHECK(s.session.error().find(c.reason) == 0);
    CHECK(s.session.error().find(c.key) == std::string::npos);
    std::string out = s.session.takeOutput();
    pf::Pong pong;
    size_t used = 0;
    REQUIRE(pf::parsePong(spanOf(out), pong, used) == pf::ParseStatus::Ok);
    CHECK_FALSE(pong.ok);
    CHECK(pong.reason == c.reason);
    // Nothing after a refusal is accepted.
    CHECK(s.session.onData(spanOf(std::string("\x93\xa3" "app\x01\x80")), plain) == ServerSession::Result::Close);
    CHECK(plain.empty());
  }
}

TEST_CASE("forward session closes on a non-PING first message", "[inputs][forward][security]") {
  SecurityConfig cfg;
  cfg.sharedKey = "k";
  Started s(cfg);
  CHECK(s.helo.auth.empty());
  std::string plain;
  CHECK(s.session.onData(spanOf(std::string("\x93\xa3" "app\x01\x80")), plain) == ServerSession::Result::Close);
  CHECK(std::string(s.session.errorKind()) == "handshake_invalid");
  CHECK(plain.empty());
}

TEST_CASE("forward session with empty_shared_key requires a PING made with the empty key", "[inputs][forward][security]") {
  SecurityConfig cfg;
  cfg.emptySharedKey = true;
  cfg.selfHostname = "agg-e";
  REQUIRE(cfg.enabled());
  {
    Started s(cfg);  // a HELO is sent although the key is empty
    std::string plain;
    CHECK(s.session.onData(spanOf(pingFor(s.helo, "", "", "")), plain) == ServerSession::Result::Continue);
    CHECK(s.session.open());
  }
  {
    Started s(cfg);
    std::string plain;
    CHECK(s.session.onData(spanOf(pingFor(s.helo, "k", "", "")), plain) == ServerSession::Result::Close);
    CHECK(std::string(s.session.errorKind()) == "auth_failed");
  }
  SecurityConfig none;  // neither key: no handshake at all
  CHECK_FALSE(none.enabled());
}
