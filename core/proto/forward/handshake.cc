// HELO / PING / PONG encoding, parsing and digests (Fluentd forward protocol v1, "Handshake").
#include "core/proto/forward/handshake.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/codec/msgpack_writer.h"
#include "core/proto/msgpack_cursor.h"

namespace firelane::proto::forward {
namespace {

void bin(codec::MsgpackWriter& w, std::vector<uint8_t>& out, std::string_view b) {
  size_t n = b.size();
  if (n <= 0xff) {
    out.push_back(0xc4);
    out.push_back(static_cast<uint8_t>(n));
  } else {
    out.push_back(0xc6);
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(n >> s));
  }
  w.raw(b.data(), n);
}

// Reads the array header and the message type string; Ok when it is `type` with `minItems`.
ParseStatus start(MsgpackCursor& c, std::string_view type, uint32_t minItems, uint32_t& items) {
  MsgpackStatus s = c.readArray(items);
  if (s == MsgpackStatus::Incomplete) return ParseStatus::NeedMore;
  if (s != MsgpackStatus::Ok || items < minItems || items > 16) return ParseStatus::Invalid;
  std::string_view t;
  s = c.readStr(t);
  if (s == MsgpackStatus::Incomplete) return ParseStatus::NeedMore;
  if (s != MsgpackStatus::Ok || t != type) return ParseStatus::Invalid;
  return ParseStatus::Ok;
}

ParseStatus map(MsgpackStatus s) {
  if (s == MsgpackStatus::Ok) return ParseStatus::Ok;
  return s == MsgpackStatus::Incomplete ? ParseStatus::NeedMore : ParseStatus::Invalid;
}

ParseStatus text(MsgpackCursor& c, std::string& out) {
  std::span<const uint8_t> b;
  ParseStatus p = map(c.readStrOrBin(b));
  if (p == ParseStatus::Ok) out.assign(reinterpret_cast<const char*>(b.data()), b.size());
  return p;
}

// Skips the remaining `n` items (later protocol versions may add some).
ParseStatus skipRest(MsgpackCursor& c, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) {
    ParseStatus p = map(c.skip());
    if (p != ParseStatus::Ok) return p;
  }
  return ParseStatus::Ok;
}

#define FL_TRY(expr)                              \
  do {                                            \
    ParseStatus p_ = (expr);                      \
    if (p_ != ParseStatus::Ok) return p_;         \
  } while (0)

}  // namespace

std::string sha512Hex(std::initializer_list<std::string_view> parts) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha512(), nullptr);
  for (std::string_view p : parts) EVP_DigestUpdate(ctx, p.data(), p.size());
  unsigned char md[64];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  static const char* hex = "0123456789abcdef";
  std::string out(len * 2, '0');
  for (unsigned i = 0; i < len; ++i) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  return out;
}

std::string sharedKeyDigest(std::string_view salt, std::string_view hostname, std::string_view nonce,
                            std::string_view sharedKey) {
  return sha512Hex({salt, hostname, nonce, sharedKey});
}

std::string passwordDigest(std::string_view authSalt, std::string_view username, std::string_view password) {
  return sha512Hex({authSalt, username, password});
}

std::string randomBytes(size_t n) {
  std::string out(n, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n));
  return out;
}

void encodeHelo(const Helo& helo, std::vector<uint8_t>& out) {
  codec::MsgpackWriter w(out);
  w.arrayHeader(2);
  w.str("HELO");
  w.mapHeader(3);
  w.str("nonce");
  bin(w, out, helo.nonce);
  w.str("auth");
  bin(w, out, helo.auth);
  w.str("keepalive");
  w.boolean(helo.keepalive);
}

void encodePing(const Ping& ping, std::vector<uint8_t>& out) {
  codec::MsgpackWriter w(out);
  w.arrayHeader(6);
  w.str("PING");
  w.str(ping.hostname);
  w.str(ping.sharedKeySalt);
  w.str(ping.sharedKeyDigest);
  w.str(ping.username);
  w.str(ping.passwordDigest);
}

void encodePong(const Pong& pong, std::vector<uint8_t>& out) {
  codec::MsgpackWriter w(out);
  w.arrayHeader(5);
  w.str("PONG");
  w.boolean(pong.ok);
  w.str(pong.reason);
  w.str(pong.hostname);
  w.str(pong.sharedKeyDigest);
}

ParseStatus parseHelo(std::span<const uint8_t> input, Helo& helo, size_t& consumed) {
  MsgpackCursor c(input);
  uint32_t items = 0;
  FL_TRY(start(c, "HELO", 2, items));
  uint32_t pairs = 0;
  FL_TRY(map(c.readMap(pairs)));
  helo = Helo{};
  for (uint32_t i = 0; i < pairs; ++i) {
    std::string_view key;
    FL_TRY(map(c.readStr(key)));
    if (key == "nonce") {
      FL_TRY(text(c, helo.nonce));
    } else if (key == "auth") {
      FL_TRY(text(c, helo.auth));
    } else if (key == "keepalive") {
      bool b = true;
      FL_TRY(map(c.readBool(b)));
      helo.keepalive = b;
    } else {
      FL_TRY(map(c.skip()));
    }
  }
  FL_TRY(skipRest(c, items - 2));
  if (helo.nonce.empty()) return ParseStatus::Invalid;
  consumed = c.offset();
  return ParseStatus::Ok;
}

ParseStatus parsePing(std::span<const uint8_t> input, Ping& ping, size_t& consumed) {
  MsgpackCursor c(input);
  uint32_t items = 0;
  FL_TRY(start(c, "PING", 6, items));
  ping = Ping{};
  FL_TRY(text(c, ping.hostname));
  FL_TRY(text(c, ping.sharedKeySalt));
  FL_TRY(text(c, ping.sharedKeyDigest));
  FL_TRY(text(c, ping.username));
  FL_TRY(text(c, ping.passwordDigest));
  FL_TRY(skipRest(c, items - 6));
  consumed = c.offset();
  return ParseStatus::Ok;
}

ParseStatus parsePong(std::span<const uint8_t> input, Pong& pong, size_t& consumed) {
  MsgpackCursor c(input);
  uint32_t items = 0;
  FL_TRY(start(c, "PONG", 5, items));
  pong = Pong{};
  bool ok = false;
  FL_TRY(map(c.readBool(ok)));
  pong.ok = ok;
  FL_TRY(text(c, pong.reason));
  FL_TRY(text(c, pong.hostname));
  FL_TRY(text(c, pong.sharedKeyDigest));
  FL_TRY(skipRest(c, items - 5));
  consumed = c.offset();
  return ParseStatus::Ok;
}

std::string checkPing(const Ping& ping, std::string_view nonce, std::string_view authSalt,
                      std::string_view sharedKey, std::span<const UserPassword> users) {
  std::string expected = sharedKeyDigest(ping.sharedKeySalt, ping.hostname, nonce, sharedKey);
  if (expected.size() != ping.sharedKeyDigest.size() ||
      CRYPTO_memcmp(expected.data(), ping.sharedKeyDigest.data(), expected.size()) != 0)
    return "shared_key mismatch";
  if (users.empty()) return "";
  for (const UserPassword& u : users) {
    if (u.user != ping.username) continue;
    std::string d = passwordDigest(authSalt, u.user, u.password);
    if (d.size() == ping.passwordDigest.size() &&
        CRYPTO_memcmp(d.data(), ping.passwordDigest.data(), d.size()) == 0)
      return "";
  }
  return "username/password mismatch";
}

}  // namespace firelane::proto::forward
