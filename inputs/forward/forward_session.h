// The security layer of one forward input connection: optional TLS (server side) and the optional
// shared-key handshake (HELO / PING / PONG, with user authentication). A pure byte transform: the
// connection feeds it what it reads and sends what takeOutput() returns. Loop thread only.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/net/tls.h"
#include "core/proto/forward/handshake.h"

namespace firelane::inputs::forward {

// Immutable, shared by every connection of the input.
struct SecurityConfig {
  std::string sharedKey;        // empty: no handshake, unless emptySharedKey
  bool emptySharedKey = false;  // empty_shared_key: the handshake with a zero-length key
  std::string selfHostname;
  std::vector<proto::forward::UserPassword> users;  // security.users; empty: no user check
  std::shared_ptr<net::TlsContext> tls;             // null: plain TCP
  bool handshake() const { return emptySharedKey || !sharedKey.empty(); }
  bool enabled() const { return tls || handshake(); }
};

class ServerSession {
 public:
  explicit ServerSession(const SecurityConfig& config);
  ~ServerSession();

  enum class Result { Continue, Close };
  // Call once after accept: queues the HELO when there is no TLS handshake to wait for.
  void start();
  // Bytes read from the socket. Appends the application bytes (forward frames) to `plain`. On Close,
  // errorKind()/error() say why (empty kind: a clean close by the peer); takeOutput() may still hold
  // a final PONG to send before closing.
  Result onData(std::span<const uint8_t> raw, std::string& plain);
  // Wraps application bytes (acks) for the wire. False when TLS fails.
  bool wrap(std::span<const uint8_t> data, std::string& out);
  // Bytes to send now (moves them out).
  std::string takeOutput() { return std::move(out_); }
  bool open() const { return state_ == State::Open; }

  const char* errorKind() const { return errorKind_; }  // "auth_failed", "tls_failed", "handshake_invalid"
  const std::string& error() const { return error_; }   // never holds a secret

 private:
  enum class State { Tls, AwaitPing, Open, Closed };
  void afterTls();
  void sendPlain(std::string_view data);
  Result handshakeBytes(std::string& plain);
  Result closeWith(const char* kind, std::string message);

  const SecurityConfig& config_;
  std::unique_ptr<net::TlsSession> tls_;
  State state_ = State::Open;
  std::string nonce_;
  std::string authSalt_;
  std::string hs_;       // handshake bytes not parsed yet
  std::string scratch_;  // decrypted bytes
  std::string out_;
  const char* errorKind_ = "";
  std::string error_;
};

}  // namespace firelane::inputs::forward
