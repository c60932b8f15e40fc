// TLS with OpenSSL over memory BIOs, so libuv owns the socket and TLS is a pure byte transform.
// Clients: verification on by default (system CAs), SNI, ALPN, client certificates. Servers
// (`server`): a certificate and key, optional client-certificate verification against `caFile`.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/status.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace firelane::net {

struct TlsOptions {
  bool server = false;  // accept side: crtFile/keyFile required; `verify` asks for client certificates
  bool verify = true;
  std::string caFile;   // PEM bundle; empty = the system store
  std::string crtFile;  // client certificate (PEM)
  std::string keyFile;  // its key
  std::string vhost;    // name for SNI and verification; empty = the host connected to
  std::vector<std::string> alpn;  // e.g. {"h2", "http/1.1"}
};

// Immutable after creation; shared by every connection of an upstream (SSL_CTX is refcounted and
// thread-safe for SSL_new).
class TlsContext {
 public:
  static Result<std::shared_ptr<TlsContext>> create(const TlsOptions& options);
  ~TlsContext();
  SSL_CTX* raw() const { return ctx_; }
  const TlsOptions& options() const { return options_; }

 private:
  TlsContext() = default;
  SSL_CTX* ctx_ = nullptr;
  TlsOptions options_;
  std::vector<unsigned char> alpnWire_;
  friend class TlsSession;
};

// One TLS session (client, or server when the context is). Feed it ciphertext from the socket, take ciphertext to send, read and
// write plaintext. Single-threaded.
class TlsSession {
 public:
  TlsSession(std::shared_ptr<TlsContext> ctx, const std::string& host);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  enum class State { Handshaking, Ready, Failed };
  // Ciphertext from the network.
  void feed(std::span<const uint8_t> data);
  // Advances the handshake; returns Ready once done, Failed with error() set on failure.
  State handshake();
  // Decrypts what is available into `out` (appends). Returns false on a fatal error or close_notify.
  bool readPlain(std::string& out);
  // Encrypts plaintext; the ciphertext is then available through takeOutput().
  bool writePlain(std::string_view data);
  // Ciphertext to send (moves it out).
  std::string takeOutput();
  std::string alpnSelected() const;
  const std::string& error() const { return error_; }

 private:
  std::string sslError(const char* what, int rc);
  std::shared_ptr<TlsContext> ctx_;
  SSL* ssl_ = nullptr;
  BIO* rbio_ = nullptr;  // network -> SSL (owned by ssl_)
  BIO* wbio_ = nullptr;  // SSL -> network (owned by ssl_)
  State state_ = State::Handshaking;
  std::string error_;
};

}  // namespace firelane::net
