// TLS and HELO/PING/PONG for forward input connections.
#include "inputs/forward/forward_session.h"

namespace firelane::inputs::forward {

namespace pf = proto::forward;

namespace {
constexpr size_t kMaxHandshakeBytes = 64 * 1024;  // a PING is a few hundred bytes
}

ServerSession::ServerSession(const SecurityConfig& config) : config_(config) {}
ServerSession::~ServerSession() = default;

void ServerSession::start() {
  if (config_.tls) {
    tls_ = std::make_unique<net::TlsSession>(config_.tls, "");
    state_ = State::Tls;
    return;
  }
  afterTls();
}

void ServerSession::afterTls() {
  if (!config_.handshake()) {
    state_ = State::Open;
    return;
  }
  state_ = State::AwaitPing;
  pf::Helo helo;
  nonce_ = pf::randomBytes(16);
  helo.nonce = nonce_;
  if (!config_.users.empty()) authSalt_ = pf::randomBytes(16);
  helo.auth = authSalt_;
  std::vector<uint8_t> msg;
  pf::encodeHelo(helo, msg);
  sendPlain(std::string_view(reinterpret_cast<const char*>(msg.data()), msg.size()));
}

void ServerSession::sendPlain(std::string_view data) {
  if (tls_) {
    tls_->writePlain(data);
    out_ += tls_->takeOutput();
  } else {
    out_.append(data);
  }
}

ServerSession::Result ServerSession::closeWith(const char* kind, std::string message) {
  state_ = State::Closed;
  errorKind_ = kind;
  error_ = std::move(message);
  return Result::Close;
}

ServerSession::Result ServerSession::onData(std::span<const uint8_t> raw, std::string& plain) {
  if (state_ == State::Closed) return Result::Close;
  if (tls_) {
    tls_->feed(raw);
    if (state_ == State::Tls) {
      auto st = tls_->handshake();
      out_ += tls_->takeOutput();
      if (st == net::TlsSession::State::Failed) return closeWith("tls_failed", tls_->error());
      if (st == net::TlsSession::State::Handshaking) return Result::Continue;
      afterTls();
    }
    scratch_.clear();
    bool ok = tls_->readPlain(scratch_);
    out_ += tls_->takeOutput();
    if (state_ == State::AwaitPing) {
      hs_ += scratch_;
    } else {
      plain += scratch_;
    }
    if (!ok) {
      // The caller still decodes what was decrypted before closing; a close_notify is no error.
      if (tls_->error() == "TLS connection closed by peer") return closeWith("", "");
      return closeWith("tls_failed", tls_->error());
    }
  } else if (state_ == State::AwaitPing) {
    hs_.append(reinterpret_cast<const char*>(raw.data()), raw.size());
  } else {
    plain.append(reinterpret_cast<const char*>(raw.data()), raw.size());
  }
  if (state_ == State::AwaitPing) return handshakeBytes(plain);
  return Result::Continue;
}

ServerSession::Result ServerSession::handshakeBytes(std::string& plain) {
  pf::Ping ping;
  size_t used = 0;
  auto st = pf::parsePing({reinterpret_cast<const uint8_t*>(hs_.data()), hs_.size()}, ping, used);
  if (st == pf::ParseStatus::NeedMore) {
    if (hs_.size() > kMaxHandshakeBytes) return closeWith("handshake_invalid", "handshake message too large");
    return Result::Continue;
  }
  pf::Pong pong;
  pong.hostname = config_.selfHostname;
  std::vector<uint8_t> msg;
  if (st == pf::ParseStatus::Invalid) {
    pong.reason = "invalid ping message";
    pf::encodePong(pong, msg);
    sendPlain(std::string_view(reinterpret_cast<const char*>(msg.data()), msg.size()));
    return closeWith("handshake_invalid", "expected PING");
  }
  std::string reason = pf::checkPing(ping, nonce_, authSalt_, config_.sharedKey, config_.users);
  if (!reason.empty()) {
    pong.reason = reason;
    pf::encodePong(pong, msg);
    sendPlain(std::string_view(reinterpret_cast<const char*>(msg.data()), msg.size()));
    return closeWith("auth_failed", reason + " (client hostname '" + ping.hostname + "')");
  }
  pong.ok = true;
  pong.sharedKeyDigest = pf::sharedKeyDigest(ping.sharedKeySalt, config_.selfHostname, nonce_, config_.sharedKey);
  pf::encodePong(pong, msg);
  sendPlain(std::string_view(reinterpret_cast<const char*>(msg.data()), msg.size()));
  state_ = State::Open;
  plain.append(hs_, used, std::string::npos);
  hs_.clear();
  hs_.shrink_to_fit();
  return Result::Continue;
}

bool ServerSession::wrap(std::span<const uint8_t> data, std::string& out) {
  std::string_view v(reinterpret_cast<const char*>(data.data()), data.size());
  if (!tls_) {
    out.append(v);
    return true;
  }
  if (!tls_->writePlain(v)) return false;
  out += tls_->takeOutput();
  return true;
}

}  // namespace firelane::inputs::forward
