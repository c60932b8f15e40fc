// Forward-protocol builders (msgpack-c C packer, zlib gzip) and the deadline-bounded socket client.
#include "support/forward_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace firelane::testsupport {
namespace {

using Clock = std::chrono::steady_clock;

int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

std::string errnoText(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

bool keyIs(const msgpack_object& o, std::string_view key) {
  return o.type == MSGPACK_OBJECT_STR && std::string_view(o.via.str.ptr, o.via.str.size) == key;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Packer

Packer::Packer() {
  msgpack_sbuffer_init(&buffer_);
  msgpack_packer_init(&packer_, &buffer_, msgpack_sbuffer_write);
}

Packer::~Packer() { msgpack_sbuffer_destroy(&buffer_); }

Packer& Packer::array(uint32_t n) {
  msgpack_pack_array(&packer_, n);
  return *this;
}

Packer& Packer::map(uint32_t n) {
  msgpack_pack_map(&packer_, n);
  return *this;
}

Packer& Packer::str(std::string_view s) {
  msgpack_pack_str_with_body(&packer_, s.data(), s.size());
  return *this;
}

Packer& Packer::bin(std::string_view b) {
  msgpack_pack_bin_with_body(&packer_, b.data(), b.size());
  return *this;
}

Packer& Packer::integer(int64_t v) {
  msgpack_pack_int64(&packer_, v);
  return *this;
}

Packer& Packer::nil() {
  msgpack_pack_nil(&packer_);
  return *this;
}

Packer& Packer::boolean(bool v) {
  if (v) {
    msgpack_pack_true(&packer_);
  } else {
    msgpack_pack_false(&packer_);
  }
  return *this;
}

Packer& Packer::ext(int8_t type, std::string_view body) {
  msgpack_pack_ext_with_body(&packer_, body.data(), body.size(), type);
  return *this;
}

Packer& Packer::time(uint32_t seconds, uint32_t nanos, TimeFormat format) {
  switch (format) {
    case TimeFormat::Integer:
      msgpack_pack_uint32(&packer_, seconds);
      break;
    case TimeFormat::EventTimeFixExt8:
      ext(0, eventTimeBody(seconds, nanos));
      break;
    case TimeFormat::EventTimeExt8:
      raw(std::string_view("\xc7\x08\x00", 3));
      raw(eventTimeBody(seconds, nanos));
      break;
    case TimeFormat::EventTimeWithMetadata:
      array(2);
      ext(0, eventTimeBody(seconds, nanos));
      map(0);
      break;
  }
  return *this;
}

Packer& Packer::record(const Record& r) {
  map(static_cast<uint32_t>(r.size()));
  for (const auto& [key, value] : r) str(key).str(value);
  return *this;
}

Packer& Packer::options(const ForwardOptions& o) {
  uint32_t n = (o.chunk ? 1 : 0) + (o.size ? 1 : 0) + (o.compressed ? 1 : 0);
  map(n);
  if (o.size) str("size").integer(static_cast<int64_t>(*o.size));
  if (o.chunk) str("chunk").str(*o.chunk);
  if (o.compressed) str("compressed").str(*o.compressed);
  return *this;
}

Packer& Packer::raw(std::string_view bytes) {
  msgpack_sbuffer_write(&buffer_, bytes.data(), bytes.size());
  return *this;
}

std::string_view Packer::view() const { return {buffer_.data, buffer_.size}; }

size_t Packer::size() const { return buffer_.size; }

std::string Packer::take() {
  std::string out(buffer_.data, buffer_.size);
  msgpack_sbuffer_clear(&buffer_);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Builders

std::string eventTimeBody(uint32_t seconds, uint32_t nanos) {
  uint32_t be[2] = {htonl(seconds), htonl(nanos)};
  return std::string(reinterpret_cast<const char*>(be), sizeof(be));
}

std::string packEntries(std::span<const Event> events, TimeFormat format) {
  Packer p;
  for (const auto& e : events) p.array(2).time(e.seconds, e.nanos, format).record(e.record);
  return p.take();
}

std::string gzip(std::string_view data, int level) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2 failed");
  std::string out(deflateBound(&zs, data.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate did not finish");
  return out;
}

std::string buildMessage(std::string_view tag, const Event& event, TimeFormat format,
                         const ForwardOptions& options) {
  Packer p;
  p.array(options.present() ? 4 : 3).str(tag).time(event.seconds, event.nanos, format).record(event.record);
  if (options.present()) p.options(options);
  return p.take();
}

std::string buildForward(std::string_view tag, std::span<const Event> events, TimeFormat format,
                         const ForwardOptions& options) {
  Packer p;
  p.array(options.present() ? 3 : 2).str(tag).array(static_cast<uint32_t>(events.size()));
  for (const auto& e : events) p.array(2).time(e.seconds, e.nanos, format).record(e.record);
  if (options.present()) p.options(options);
  return p.take();
}

std::string buildPackedForward(std::string_view tag, std::span<const Event> events, TimeFormat format,
                               PayloadType payload, const ForwardOptions& options) {
  std::string entries = packEntries(events, format);
  Packer p;
  p.array(options.present() ? 3 : 2).str(tag);
  if (payload == PayloadType::Bin) {
    p.bin(entries);
  } else {
    p.str(entries);
  }
  if (options.present()) p.options(options);
  return p.take();
}

std::string buildCompressedPackedForward(std::string_view tag, std::span<const Event> events, TimeFormat format,
                                         size_t members, ForwardOptions options) {
  if (members == 0) members = 1;
  std::string compressed;
  size_t per = (events.size() + members - 1) / members;
  for (size_t i = 0; i < members; ++i) {
    size_t begin = std::min(events.size(), i * per);
    size_t end = std::min(events.size(), begin + per);
    compressed += gzip(packEntries(events.subspan(begin, end - begin), format));
  }
  options.compressed = "gzip";
  Packer p;
  p.array(3).str(tag).bin(compressed).options(options);
  return p.take();
}

std::optional<std::string> decodeAck(std::string_view bytes, size_t* consumed) {
  if (consumed != nullptr) *consumed = 0;
  msgpack_unpacked result;
  msgpack_unpacked_init(&result);
  size_t offset = 0;
  msgpack_unpack_return rc = msgpack_unpack_next(&result, bytes.data(), bytes.size(), &offset);
  std::optional<std::string> chunk;
  if (rc == MSGPACK_UNPACK_SUCCESS) {
    if (consumed != nullptr) *consumed = offset;
    const msgpack_object& root = result.data;
    if (root.type == MSGPACK_OBJECT_MAP) {
      for (uint32_t i = 0; i < root.via.map.size; ++i) {
        const msgpack_object_kv& kv = root.via.map.ptr[i];
        if (!keyIs(kv.key, "ack")) continue;
        if (kv.val.type == MSGPACK_OBJECT_STR) chunk.emplace(kv.val.via.str.ptr, kv.val.via.str.size);
        if (kv.val.type == MSGPACK_OBJECT_BIN) chunk.emplace(kv.val.via.bin.ptr, kv.val.via.bin.size);
      }
    }
  }
  msgpack_unpacked_destroy(&result);
  return chunk;
}

// ---------------------------------------------------------------------------------------------
// ForwardClient

std::unique_ptr<ForwardClient> ForwardClient::finishConnect(int fd, int rc, Millis timeout, std::string* error) {
  auto fail = [&](const std::string& why) -> std::unique_ptr<ForwardClient> {
    if (error != nullptr) *error = why;
    ::close(fd);
    return nullptr;
  };
  if (rc != 0) {
    if (errno != EINPROGRESS && errno != EAGAIN) return fail(errnoText("connect"));
    pollfd pfd{fd, POLLOUT, 0};
    int n = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
    if (n <= 0) return fail("connect: timed out");
    int soError = 0;
    socklen_t len = sizeof(soError);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len);
    if (soError != 0) return fail(std::string("connect: ") + std::strerror(soError));
  }
  return std::unique_ptr<ForwardClient>(new ForwardClient(fd));
}

std::unique_ptr<ForwardClient> ForwardClient::connectTcp(const std::string& host, uint16_t port, Millis timeout,
                                                         std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int gai = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (gai != 0 || res == nullptr) {
    if (error != nullptr) *error = std::string("getaddrinfo: ") + gai_strerror(gai);
    return nullptr;
  }
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ::freeaddrinfo(res);
    if (error != nullptr) *error = errnoText("socket");
    return nullptr;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
  ::freeaddrinfo(res);
  return finishConnect(fd, rc, timeout, error);
}

std::unique_ptr<ForwardClient> ForwardClient::connectUnix(const std::string& path, Millis timeout,
                                                          std::string* error) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    if (error != nullptr) *error = "unix path too long: " + path;
    return nullptr;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    if (error != nullptr) *error = errnoText("socket");
    return nullptr;
  }
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  return finishConnect(fd, rc, timeout, error);
}

ForwardClient::~ForwardClient() {
  if (fd_ >= 0) ::close(fd_);
}

ssize_t ForwardClient::trySend(std::string_view bytes) {
  for (;;) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    error_ = errnoText("send");
    return -1;
  }
}

bool ForwardClient::waitWritable(Millis timeout) {
  pollfd pfd{fd_, POLLOUT, 0};
  return ::poll(&pfd, 1, static_cast<int>(timeout.count())) > 0;
}

bool ForwardClient::send(std::string_view bytes, Millis timeout) {
  auto deadline = Clock::now() + timeout;
  while (!bytes.empty()) {
    ssize_t n = trySend(bytes);
    if (n < 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
    if (bytes.empty()) break;
    if (n == 0 && !waitWritable(Millis(remainingMs(deadline)))) {
      error_ = "send: timed out with " + std::to_string(bytes.size()) + " bytes left";
      return false;
    }
  }
  return true;
}

void ForwardClient::shutdownWrite() { ::shutdown(fd_, SHUT_WR); }

std::optional<std::string> ForwardClient::readAck(Millis timeout) {
  auto deadline = Clock::now() + timeout;
  char buf[4096];
  for (;;) {
    if (!readBuf_.empty()) {
      size_t consumed = 0;
      auto chunk = decodeAck(readBuf_, &consumed);
      if (consumed > 0) {
        readBuf_.erase(0, consumed);
        if (chunk) return chunk;
        error_ = "server sent a response that is not {\"ack\": ...}";
        return std::nullopt;
      }
      // Incomplete or unparseable: a msgpack parse error never resolves by reading more, but an
      // incomplete object does; the deadline bounds both.
    }
    pollfd pfd{fd_, POLLIN, 0};
    int ms = remainingMs(deadline);
    if (ms == 0 || ::poll(&pfd, 1, ms) <= 0) {
      error_ = "no ack before the deadline";
      return std::nullopt;
    }
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n > 0) {
      readBuf_.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      error_ = "connection closed by the server while waiting for an ack";
      return std::nullopt;
    } else if (errno != EAGAIN && errno != EINTR) {
      error_ = errnoText("recv");
      return std::nullopt;
    }
  }
}

bool ForwardClient::sendWithAck(std::string_view bytes, std::string_view chunk, Millis timeout) {
  auto deadline = Clock::now() + timeout;
  if (!send(bytes, timeout)) return false;
  auto ack = readAck(Millis(remainingMs(deadline)));
  if (!ack) return false;
  if (*ack != chunk) {
    error_ = "ack for '" + *ack + "', expected '" + std::string(chunk) + "'";
    return false;
  }
  return true;
}

bool ForwardClient::waitClosed(Millis timeout) {
  auto deadline = Clock::now() + timeout;
  char buf[4096];
  for (;;) {
    pollfd pfd{fd_, POLLIN, 0};
    int ms = remainingMs(deadline);
    if (ms == 0 || ::poll(&pfd, 1, ms) <= 0) {
      error_ = "connection still open at the deadline";
      return false;
    }
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n == 0) return true;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return true;  // ECONNRESET and friends
  }
}

}  // namespace firelane::testsupport
