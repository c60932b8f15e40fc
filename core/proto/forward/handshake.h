// The forward protocol's shared-key handshake (HELO / PING / PONG) as pure functions: message
// encoders, bounds-checked parsers and the SHA-512 digests, shared by the forward input (server)
// and the forward output (client). No I/O; secrets only pass through, never into error texts.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace firelane::proto::forward {

// Lower-case hex SHA-512 of the concatenation of `parts`.
std::string sha512Hex(std::initializer_list<std::string_view> parts);

// sha512_hex(salt + hostname + nonce + shared_key): PING (client hostname) and PONG (server hostname).
std::string sharedKeyDigest(std::string_view salt, std::string_view hostname, std::string_view nonce,
                            std::string_view sharedKey);
// sha512_hex(auth_salt + username + password): PING's password digest.
std::string passwordDigest(std::string_view authSalt, std::string_view username, std::string_view password);

// `n` random bytes from the OpenSSL RNG.
std::string randomBytes(size_t n);

struct Helo {
  std::string nonce;
  std::string auth;  // salt for user authentication; empty = no users
  bool keepalive = true;
};
struct Ping {
  std::string hostname;
  std::string sharedKeySalt;
  std::string sharedKeyDigest;
  std::string username;
  std::string passwordDigest;
};
struct Pong {
  bool ok = false;
  std::string reason;
  std::string hostname;
  std::string sharedKeyDigest;
};

void encodeHelo(const Helo& helo, std::vector<uint8_t>& out);
void encodePing(const Ping& ping, std::vector<uint8_t>& out);
void encodePong(const Pong& pong, std::vector<uint8_t>& out);

enum class ParseStatus { Ok, NeedMore, Invalid };
// Each parses one message at the front of `input`; on Ok sets `consumed`. Strings may arrive as
// msgpack str or bin. Anything else than the expected message is Invalid.
ParseStatus parseHelo(std::span<const uint8_t> input, Helo& helo, size_t& consumed);
ParseStatus parsePing(std::span<const uint8_t> input, Ping& ping, size_t& consumed);
ParseStatus parsePong(std::span<const uint8_t> input, Pong& pong, size_t& consumed);

// Server side: checks a PING against the key and users (pairs of user, password). Returns "" when
// accepted, else the reason for the PONG ("shared_key mismatch", "username/password mismatch").
struct UserPassword {
  std::string user;
  std::string password;
};
std::string checkPing(const Ping& ping, std::string_view nonce, std::string_view authSalt,
                      std::string_view sharedKey, std::span<const UserPassword> users);

}  // namespace firelane::proto::forward
