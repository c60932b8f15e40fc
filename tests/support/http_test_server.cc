// The threaded HTTP/1.1 test server: poll()-driven accept and connection threads woken by an eventfd
// on stop, requests parsed with http-parser.
#include "support/http_test_server.h"

#include <arpa/inet.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "support/test_certs.h"

namespace firelane::testsupport {
namespace {

bool iequal(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

struct ParseState {
  HttpRequestIn req;
  std::string field;
  bool lastWasValue = false;
  bool complete = false;
  bool keepAlive = true;
};

int onUrl(http_parser* p, const char* at, size_t n) {
  static_cast<ParseState*>(p->data)->req.target.append(at, n);
  return 0;
}
int onField(http_parser* p, const char* at, size_t n) {
  auto* s = static_cast<ParseState*>(p->data);
  if (s->lastWasValue) s->field.clear();
  s->field.append(at, n);
  s->lastWasValue = false;
  return 0;
}
int onValue(http_parser* p, const char* at, size_t n) {
  auto* s = static_cast<ParseState*>(p->data);
  if (!s->lastWasValue) s->req.headers.push_back({s->field, ""});
  s->req.headers.back().second.append(at, n);
  s->lastWasValue = true;
  return 0;
}
int onBody(http_parser* p, const char* at, size_t n) {
  static_cast<ParseState*>(p->data)->req.body.append(at, n);
  return 0;
}
int onComplete(http_parser* p) {
  auto* s = static_cast<ParseState*>(p->data);
  s->req.method = http_method_str(static_cast<http_method>(p->method));
  s->keepAlive = http_should_keep_alive(p) != 0;
  s->complete = true;
  http_parser_pause(p, 1);
  return 0;
}

bool writeAll(int fd, SSL* ssl, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    if (ssl) {
      int n = SSL_write(ssl, data.data() + off, static_cast<int>(data.size() - off));
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
      continue;
    }
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::string HttpRequestIn::header(const std::string& name) const {
  for (const auto& [k, v] : headers)
    if (iequal(k, name)) return v;
  return "";
}

bool HttpRequestIn::hasHeader(const std::string& name) const {
  for (const auto& h : headers)
    if (iequal(h.first, name)) return true;
  return false;
}

HttpTestServer::HttpTestServer(HttpHandler handler) : handler_(std::move(handler)) {}

HttpTestServer::~HttpTestServer() {
  stop();
  if (tls_) SSL_CTX_free(tls_);
}

void HttpTestServer::enableTls(const TestPki& pki) {
  tls_ = SSL_CTX_new(TLS_server_method());
  if (!tls_ || SSL_CTX_use_certificate_file(tls_, pki.server().certFile.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_use_PrivateKey_file(tls_, pki.server().keyFile.c_str(), SSL_FILETYPE_PEM) != 1)
    throw std::runtime_error("test server: cannot load the TLS certificate");
  SSL_CTX_set_alpn_select_cb(
      tls_,
      [](SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
         void*) {
        static const unsigned char kH1[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
        unsigned char* sel = nullptr;
        if (SSL_select_next_proto(&sel, outlen, kH1, sizeof(kH1), in, inlen) != OPENSSL_NPN_NEGOTIATED)
          return SSL_TLSEXT_ERR_NOACK;
        *out = sel;
        return SSL_TLSEXT_ERR_OK;
      },
      nullptr);
}

void HttpTestServer::start() {
  listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listenFd_ < 0) throw std::runtime_error("socket failed");
  int one = 1;
  setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(listenFd_, 128) != 0)
    throw std::runtime_error("bind/listen failed");
  socklen_t len = sizeof(a);
  getsockname(listenFd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  wakeFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  acceptThread_ = std::thread([this] { acceptLoop(); });
}

void HttpTestServer::stop() {
  if (stopping_.exchange(true)) return;
  if (wakeFd_ >= 0) {
    uint64_t one = 1;
    (void)!::write(wakeFd_, &one, sizeof(one));
  }
  if (acceptThread_.joinable()) acceptThread_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads = std::move(connThreads_);
  }
  for (auto& t : threads) t.join();
  if (listenFd_ >= 0) ::close(listenFd_);
  if (wakeFd_ >= 0) ::close(wakeFd_);
  listenFd_ = wakeFd_ = -1;
}

void HttpTestServer::acceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listenFd_, POLLIN, 0}, {wakeFd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) break;
    if (!(fds[0].revents & POLLIN)) continue;
    int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    connThreads_.emplace_back([this, fd] { serve(fd); });
  }
}

void HttpTestServer::serve(int fd) {
  http_parser_settings settings{};
  settings.on_url = onUrl;
  settings.on_header_field = onField;
  settings.on_header_value = onValue;
  settings.on_body = onBody;
  settings.on_message_complete = onComplete;
  http_parser parser;
  auto state = std::make_unique<ParseState>();
  http_parser_init(&parser, HTTP_REQUEST);
  parser.data = state.get();
  std::string pending;  // bytes read but not parsed yet (after a paused parser)
  char buf[65536];
  bool open = true;
  SSL* ssl = nullptr;
  if (tls_) {
    ssl = SSL_new(tls_);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) open = false;
    else handshakes_++;
  }
  while (open && !stopping_) {
    if (pending.empty()) {
      if (!ssl || SSL_pending(ssl) == 0) {
        pollfd fds[2] = {{fd, POLLIN, 0}, {wakeFd_, POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) continue;
        if (fds[1].revents) break;
      }
      ssize_t n = ssl ? SSL_read(ssl, buf, sizeof(buf)) : ::recv(fd, buf, sizeof(buf), 0);
      if (n < 0 && !ssl && errno == EINTR) continue;
      if (n <= 0) break;
      pending.assign(buf, static_cast<size_t>(n));
    }
    size_t used = http_parser_execute(&parser, &settings, pending.data(), pending.size());
    if (HTTP_PARSER_ERRNO(&parser) != HPE_OK && HTTP_PARSER_ERRNO(&parser) != HPE_PAUSED) {
      badRequests_++;
      writeAll(fd, ssl, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      break;
    }
    pending.erase(0, used);
    if (!state->complete) continue;
    requests_++;
    HttpReply reply = handler_(state->req);
    if (reply.action == HttpReply::Action::Reset) {
      linger lg{1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
      if (ssl) SSL_set_quiet_shutdown(ssl, 1);
      break;
    }
    if (reply.action == HttpReply::Action::Close) break;
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " + reason(reply.status) + "\r\n";
    for (const auto& [k, v] : reply.headers) out += k + ": " + v + "\r\n";
    out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
    if (!state->keepAlive) out += "Connection: close\r\n";
    out += "\r\n" + reply.body;
    if (!writeAll(fd, ssl, out) || !state->keepAlive) break;
    state = std::make_unique<ParseState>();
    parser.data = state.get();
    http_parser_pause(&parser, 0);
  }
  if (ssl) SSL_free(ssl);
  ::close(fd);
}

}  // namespace firelane::testsupport
