// Fluentd forward protocol v1 from the client side, independent of firelane's own codec: message
// builders on msgpack-c's C packer for every mode, gzip members, a blocking TCP/unix client with
// timeouts and ack decoding. Used by the e2e tests and the firelane_load tool.
#pragma once

#include <msgpack.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace firelane::testsupport {

using Millis = std::chrono::milliseconds;

// A record whose values are all strings, fields in order (what Docker/FireLens sends).
using Record = std::vector<std::pair<std::string, std::string>>;

struct Event {
  uint32_t seconds = 0;
  uint32_t nanos = 0;  // dropped when the time is sent as an integer
  Record record;
};

// How an event's time goes on the wire.
enum class TimeFormat {
  Integer,          // positive int seconds
  EventTimeFixExt8, // D7 00 <sec BE32> <nsec BE32>
  EventTimeExt8,    // C7 08 00 <sec BE32> <nsec BE32>
  EventTimeWithMetadata,  // [EventTime (fixext8), {}] - Fluent Bit 2.1+ event format
};

// The option map of a forward message. Nothing set and `emptyMap` false -> no option element.
struct ForwardOptions {
  std::optional<std::string> chunk;       // asks the server for {"ack": chunk}
  std::optional<uint64_t> size;           // event count
  std::optional<std::string> compressed;  // "gzip" for CompressedPackedForward
  bool emptyMap = false;                  // send {} when nothing else is set (Docker does)
  bool present() const { return emptyMap || chunk || size || compressed; }
};

// RAII over msgpack_sbuffer + msgpack_packer. Every call appends one msgpack item (or header) and
// returns *this; `take()` hands over the bytes and leaves the packer empty and reusable.
class Packer {
 public:
  Packer();
  ~Packer();
  Packer(const Packer&) = delete;
  Packer& operator=(const Packer&) = delete;

  Packer& array(uint32_t n);
  Packer& map(uint32_t n);
  Packer& str(std::string_view s);
  Packer& bin(std::string_view b);
  Packer& integer(int64_t v);
  Packer& nil();
  Packer& boolean(bool v);
  Packer& ext(int8_t type, std::string_view body);  // msgpack-c picks fixext/ext8/16/32 by size
  Packer& time(uint32_t seconds, uint32_t nanos, TimeFormat format);
  Packer& record(const Record& r);
  Packer& options(const ForwardOptions& o);  // the map only; caller decides whether to send it
  Packer& raw(std::string_view bytes);       // arbitrary bytes (e.g. hand-made ext8 or garbage)

  std::string_view view() const;
  size_t size() const;
  std::string take();
  msgpack_packer* get() { return &packer_; }

 private:
  msgpack_sbuffer buffer_;
  msgpack_packer packer_;
};

// The 8 bytes of an EventTime ext body: seconds and nanoseconds, big endian.
std::string eventTimeBody(uint32_t seconds, uint32_t nanos);

// Concatenated msgpack [time, record] entries: the payload of (Compressed)PackedForward.
std::string packEntries(std::span<const Event> events, TimeFormat format);

// One gzip member (RFC 1952) of `data`.
std::string gzip(std::string_view data, int level = 6);

// Message mode: [tag, time, record] or, when `options.present()`, [tag, time, record, options].
std::string buildMessage(std::string_view tag, const Event& event, TimeFormat format = TimeFormat::EventTimeFixExt8,
                         const ForwardOptions& options = {});

// Forward mode: [tag, [[time, record], ...], options?].
std::string buildForward(std::string_view tag, std::span<const Event> events,
                         TimeFormat format = TimeFormat::EventTimeFixExt8, const ForwardOptions& options = {});

// PackedForward: [tag, bin|str(entries), options?].
enum class PayloadType { Bin, Str };
std::string buildPackedForward(std::string_view tag, std::span<const Event> events,
                               TimeFormat format = TimeFormat::EventTimeFixExt8,
                               PayloadType payload = PayloadType::Bin, const ForwardOptions& options = {});

// CompressedPackedForward: [tag, bin(gzip members), {compressed: "gzip", ...}]. The events are split
// into `members` gzip members of near-equal size (members >= 1), concatenated back to back.
std::string buildCompressedPackedForward(std::string_view tag, std::span<const Event> events,
                                         TimeFormat format = TimeFormat::EventTimeFixExt8, size_t members = 1,
                                         ForwardOptions options = {});

// A msgpack nil: the forward heartbeat.
inline constexpr std::string_view kHeartbeat{"\xc0", 1};

// Decodes one server response {"ack": <str|bin>} from the front of `bytes`. Returns the chunk value;
// nullopt when the bytes are incomplete (*consumed = 0) or not an ack map (*consumed = the size of
// the object that was not an ack, or 0 on a parse error).
std::optional<std::string> decodeAck(std::string_view bytes, size_t* consumed = nullptr);

// A connected, blocking-with-deadlines stream socket to a forward server. The fd is non-blocking
// internally; every call waits with poll up to its timeout. Not thread-safe: one owner thread.
class ForwardClient {
 public:
  // nullopt-like nullptr on failure; `error` (optional) receives the reason.
  static std::unique_ptr<ForwardClient> connectTcp(const std::string& host, uint16_t port,
                                                   Millis timeout = Millis(5000), std::string* error = nullptr);
  static std::unique_ptr<ForwardClient> connectUnix(const std::string& path, Millis timeout = Millis(5000),
                                                    std::string* error = nullptr);
  ~ForwardClient();
  ForwardClient(const ForwardClient&) = delete;
  ForwardClient& operator=(const ForwardClient&) = delete;

  int fd() const { return fd_; }
  const std::string& lastError() const { return error_; }

  // Sends all bytes; false on error (peer closed, reset) or at the deadline.
  bool send(std::string_view bytes, Millis timeout = Millis(10000));
  // One non-blocking send: bytes the kernel took now (0 = would block), -1 on error.
  ssize_t trySend(std::string_view bytes);
  // Waits until the socket is writable; false at the deadline.
  bool waitWritable(Millis timeout);
  void shutdownWrite();

  // Reads the next server response and returns its ack chunk; nullopt at the deadline, on EOF /
  // error, or when the server sent something that is not an ack (see lastError()).
  std::optional<std::string> readAck(Millis timeout = Millis(10000));
  // Sends `bytes` (a message carrying option chunk = `chunk`) and waits for the matching ack.
  bool sendWithAck(std::string_view bytes, std::string_view chunk, Millis timeout = Millis(10000));

  // Waits for the server to close the connection: true when a read returns EOF or an error such as
  // ECONNRESET before the deadline. Any data read meanwhile is discarded.
  bool waitClosed(Millis timeout);

 private:
  explicit ForwardClient(int fd) : fd_(fd) {}
  static std::unique_ptr<ForwardClient> finishConnect(int fd, int rc, Millis timeout, std::string* error);

  int fd_ = -1;
  std::string error_;
  std::string readBuf_;
};

}  // namespace firelane::testsupport
