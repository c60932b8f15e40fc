// Tests for the forward handshake: SHA-512 digests recomputed here with OpenSSL's one-shot SHA512
// over the documented concatenations, HELO/PING/PONG round trips against msgpack-c, and the
// server's checks (shared key, users) with the reasons the spec gives.
#include <msgpack.h>
#include <openssl/sha.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "core/proto/forward/handshake.h"

using namespace firelane::proto::forward;

namespace {

std::string sha512HexOf(const std::string& s) {
  unsigned char md[SHA512_DIGEST_LENGTH];
  SHA512(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  char hex[SHA512_DIGEST_LENGTH * 2 + 1];
  for (int i = 0; i < SHA512_DIGEST_LENGTH; ++i) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  return std::string(hex, SHA512_DIGEST_LENGTH * 2);
}

std::span<const uint8_t> bytesOf(const std::vector<uint8_t>& v) { return {v.data(), v.size()}; }

// A PING packed by msgpack-c (as another client would send it).
std::vector<uint8_t> packPing(const std::vector<std::string>& fields, bool binSalt) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 1 + fields.size());
  msgpack_pack_str_with_body(&pk, "PING", 4);
  for (size_t i = 0; i < fields.size(); ++i) {
    if (binSalt && i == 1) {
      msgpack_pack_bin_with_body(&pk, fields[i].data(), fields[i].size());
    } else {
      msgpack_pack_str_with_body(&pk, fields[i].data(), fields[i].size());
    }
  }
  std::vector<uint8_t> out(sb.data, sb.data + sb.size);
  msgpack_sbuffer_destroy(&sb);
  return out;
}

}  // namespace

TEST_CASE("sha512 digests follow the documented concatenations", "[proto][forward][handshake]") {
  // FIPS 180-2 test vector for "abc", split across the parts.
  CHECK(sharedKeyDigest("a", "b", "c", "") ==
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643"
        "ce80e2a9ac94fa54ca49f");
  std::string nonce = std::string("\x00\x01\xff\x10", 4) + "0123456789ab";
  CHECK(sharedKeyDigest("salt123", "agent-1", nonce, "s3cret") ==
        sha512HexOf(std::string("salt123") + "agent-1" + nonce + "s3cret"));
  CHECK(passwordDigest("authsalt", "alice", "pw") == sha512HexOf("authsaltalicepw"));
  CHECK(sharedKeyDigest("x", "h", "n", "k").size() == 128);
}

TEST_CASE("HELO encodes the nonce and auth salt and parses back", "[proto][forward][handshake]") {
  Helo h;
  h.nonce = randomBytes(16);
  h.auth = "";
  std::vector<uint8_t> wire;
  encodeHelo(h, wire);
  // msgpack-c sees ["HELO", {"nonce": bin16, "auth": bin0, "keepalive": true}]
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  REQUIRE(msgpack_unpack_next(&u, reinterpret_cast<const char*>(wire.data()), wire.size(), &off) ==
          MSGPACK_UNPACK_SUCCESS);
  CHECK(off == wire.size());
  REQUIRE(u.data.type == MSGPACK_OBJECT_ARRAY);
  REQUIRE(u.data.via.array.size == 2);
  CHECK(std::string(u.data.via.array.ptr[0].via.str.ptr, u.data.via.array.ptr[0].via.str.size) == "HELO");
  const msgpack_object& m = u.data.via.array.ptr[1];
  REQUIRE(m.type == MSGPACK_OBJECT_MAP);
  REQUIRE(m.via.map.size == 3);
  CHECK(m.via.map.ptr[0].val.type == MSGPACK_OBJECT_BIN);
  CHECK(m.via.map.ptr[0].val.via.bin.size == 16);
  msgpack_unpacked_destroy(&u);

  Helo back;
  size_t used = 0;
  REQUIRE(parseHelo(bytesOf(wire), back, used) == ParseStatus::Ok);
  CHECK(used == wire.size());
  CHECK(back.nonce == h.nonce);
  CHECK(back.auth.empty());
  CHECK(back.keepalive);
  // Every strict prefix needs more bytes.
  for (size_t n = 0; n < wire.size(); ++n) {
    std::vector<uint8_t> part(wire.begin(), wire.begin() + static_cast<long>(n));
    CHECK(parseHelo(bytesOf(part), back, used) == ParseStatus::NeedMore);
  }
}

TEST_CASE("PING from another packer is parsed and checked", "[proto][forward][handshake]") {
  std::string nonce = randomBytes(16);
  std::string salt = "0123456789abcdef";
  std::string digest = sha512HexOf(salt + "agent" + nonce + "key");
  for (bool binSalt : {false, true}) {
    auto wire = packPing({"agent", salt, digest, "", ""}, binSalt);
    Ping p;
    size_t used = 0;
    REQUIRE(parsePing(bytesOf(wire), p, used) == ParseStatus::Ok);
    CHECK(used == wire.size());
    CHECK(p.hostname == "agent");
    CHECK(p.sharedKeySalt == salt);
    CHECK(checkPing(p, nonce, "", "key", {}) == "");
    CHECK(checkPing(p, nonce, "", "other", {}) == "shared_key mismatch");
    CHECK(checkPing(p, randomBytes(16), "", "key", {}) == "shared_key mismatch");
  }
}

TEST_CASE("PING user authentication", "[proto][forward][handshake]") {
  std::string nonce = randomBytes(16);
  std::string authSalt = randomBytes(16);
  std::vector<UserPassword> users = {{"alice", "pw1"}, {"bob", "pw2"}};
  auto ping = [&](const std::string& user, const std::string& pw) {
    Ping p;
    p.hostname = "h";
    p.sharedKeySalt = "s";
    p.sharedKeyDigest = sha512HexOf("s" + std::string("h") + nonce + "key");
    p.username = user;
    p.passwordDigest = sha512HexOf(authSalt + user + pw);
    return p;
  };
  CHECK(checkPing(ping("bob", "pw2"), nonce, authSalt, "key", users) == "");
  CHECK(checkPing(ping("bob", "pw1"), nonce, authSalt, "key", users) == "username/password mismatch");
  CHECK(checkPing(ping("carol", "pw1"), nonce, authSalt, "key", users) == "username/password mismatch");
}

TEST_CASE("PONG round trip and invalid messages", "[proto][forward][handshake]") {
  Pong p;
  p.ok = false;
  p.reason = "shared_key mismatch";
  p.hostname = "agg";
  std::vector<uint8_t> wire;
  encodePong(p, wire);
  Pong back;
  size_t used = 0;
  REQUIRE(parsePong(bytesOf(wire), back, used) == ParseStatus::Ok);
  CHECK_FALSE(back.ok);
  CHECK(back.reason == "shared_key mismatch");
  CHECK(back.hostname == "agg");
  // A PONG is not a PING or a HELO; garbage is invalid, not "need more".
  Ping ping;
  Helo helo;
  CHECK(parsePing(bytesOf(wire), ping, used) == ParseStatus::Invalid);
  CHECK(parseHelo(bytesOf(wire), helo, used) == ParseStatus::Invalid);
  std::vector<uint8_t> junk = {0xc1, 0x00};
  CHECK(parsePong(bytesOf(junk), back, used) == ParseStatus::Invalid);
  std::vector<uint8_t> map = {0x80};
  CHECK(parsePing(bytesOf(map), ping, used) == ParseStatus::Invalid);
}
