// OpenSSL client contexts and memory-BIO sessions.
#include "core/net/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace firelane::net {
namespace {

std::string opensslErrors() {
  std::string out;
  unsigned long e;
  char buf[256];
  while ((e = ERR_get_error()) != 0) {
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

bool isIpAddress(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::create(const TlsOptions& options) {
  std::shared_ptr<TlsContext> c(new TlsContext());
  c->options_ = options;
  c->ctx_ = SSL_CTX_new(options.server ? TLS_server_method() : TLS_client_method());
  if (!c->ctx_) return Status::error("TLS: cannot create context: " + opensslErrors());
  SSL_CTX_set_min_proto_version(c->ctx_, TLS1_2_VERSION);
  SSL_CTX_set_mode(c->ctx_, SSL_MODE_RELEASE_BUFFERS);
  if (options.server && options.crtFile.empty()) return Status::error("TLS: a server needs tls.crt_file");
  if (options.verify) {
    SSL_CTX_set_verify(c->ctx_, options.server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER,
                       nullptr);
    if (!options.caFile.empty()) {
      if (SSL_CTX_load_verify_locations(c->ctx_, options.caFile.c_str(), nullptr) != 1)
        return Status::error("TLS: cannot load tls.ca_file '" + options.caFile + "': " + opensslErrors());
    } else if (SSL_CTX_set_default_verify_paths(c->ctx_) != 1) {
      return Status::error("TLS: cannot load the system CA store: " + opensslErrors());
    }
  } else {
    SSL_CTX_set_verify(c->ctx_, SSL_VERIFY_NONE, nullptr);
  }
  if (!options.crtFile.empty()) {
    if (SSL_CTX_use_certificate_chain_file(c->ctx_, options.crtFile.c_str()) != 1)
      return Status::error("TLS: cannot load tls.crt_file '" + options.crtFile + "': " + opensslErrors());
    const std::string& key = options.keyFile.empty() ? options.crtFile : options.keyFile;
    if (SSL_CTX_use_PrivateKey_file(c->ctx_, key.c_str(), SSL_FILETYPE_PEM) != 1)
      return Status::error("TLS: cannot load tls.key_file '" + key + "': " + opensslErrors());
  }
  for (const auto& p : options.alpn) {
    c->alpnWire_.push_back(static_cast<unsigned char>(p.size()));
    c->alpnWire_.insert(c->alpnWire_.end(), p.begin(), p.end());
  }
  return c;
}

TlsContext::~TlsContext() {
  if (ctx_) SSL_CTX_free(ctx_);
}

TlsSession::TlsSession(std::shared_ptr<TlsContext> ctx, const std::string& host) : ctx_(std::move(ctx)) {
  ssl_ = SSL_new(ctx_->raw());
  rbio_ = BIO_new(BIO_s_mem());
  wbio_ = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(rbio_, -1);
  SSL_set_bio(ssl_, rbio_, wbio_);
  if (ctx_->options().server) {
    SSL_set_accept_state(ssl_);
    return;
  }
  SSL_set_connect_state(ssl_);
  const std::string& name = ctx_->options().vhost.empty() ? host : ctx_->options().vhost;
  if (!isIpAddress(name)) SSL_set_tlsext_host_name(ssl_, name.c_str());
  if (ctx_->options().verify) {
    if (isIpAddress(name)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str());
    } else {
      SSL_set1_host(ssl_, name.c_str());
    }
  }
  if (!ctx_->alpnWire_.empty())
    SSL_set_alpn_protos(ssl_, ctx_->alpnWire_.data(), static_cast<unsigned>(ctx_->alpnWire_.size()));
}

TlsSession::~TlsSession() {
  if (ssl_) SSL_free(ssl_);
}

void TlsSession::feed(std::span<const uint8_t> data) {
  if (!data.empty()) BIO_write(rbio_, data.data(), static_cast<int>(data.size()));
}

std::string TlsSession::sslError(const char* what, int rc) {
  int err = SSL_get_error(ssl_, rc);
  std::string msg = std::string(what) + " failed";
  long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    msg += ": certificate verify failed: ";
    msg += X509_verify_cert_error_string(verify);
    ERR_clear_error();
    return msg;
  }
  std::string detail = opensslErrors();
  if (!detail.empty()) {
    msg += ": " + detail;
  } else if (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN) {
    msg += ": connection closed by peer";
  } else {
    msg += ": ssl error " + std::to_string(err);
  }
  return msg;
}

TlsSession::State TlsSession::handshake() {
  if (state_ != State::Handshaking) return state_;
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    state_ = State::Ready;
  } else {
    int err = SSL_get_error(ssl_, rc);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      error_ = sslError("TLS handshake", rc);
      state_ = State::Failed;
    }
  }
  return state_;
}

bool TlsSession::readPlain(std::string& out) {
  char buf[16384];
  for (;;) {
    int n = SSL_read(ssl_, buf, sizeof(buf));
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return true;
    if (err == SSL_ERROR_ZERO_RETURN) {
      error_ = "TLS connection closed by peer";
      return false;
    }
    error_ = sslError("TLS read", n);
    return false;
  }
}

bool TlsSession::writePlain(std::string_view data) {
  while (!data.empty()) {
    int n = SSL_write(ssl_, data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 20)));
    if (n <= 0) {
      error_ = sslError("TLS write", n);
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string TlsSession::takeOutput() {
  std::string out;
  size_t pending = BIO_ctrl_pending(wbio_);
  if (pending == 0) return out;
  out.resize(pending);
  int n = BIO_read(wbio_, out.data(), static_cast<int>(pending));
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

std::string TlsSession::alpnSelected() const {
  const unsigned char* p = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_, &p, &len);
  return p ? std::string(reinterpret_cast<const char*>(p), len) : std::string();
}

}  // namespace firelane::net
