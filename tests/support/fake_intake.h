// A fake Datadog logs intake (POST /api/v2/logs) for tests and benches: HTTP/1.1, h2c and TLS with
// ALPN, the real intake's request checks, recording of accepted events and violations, fault injection
// and a capacity limit (429 above K requests in service).
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/test_certs.h"

namespace firelane::testsupport {

using Millis = std::chrono::milliseconds;

struct FakeIntakeOptions {
  std::string apiKey = "test-api-key";  // DD-API-KEY must equal this (401 missing, 403 other)
  // TLS: when set, the listener speaks only TLS, offering `alpn` (server preference order) and
  // serving pki->server(). Without ALPN from the client, HTTP/1.1 is spoken when `alpn` lists it,
  // otherwise the connection is closed; an ALPN offer with no overlap fails the handshake.
  bool tls = false;
  std::vector<std::string> alpn = {"h2", "http/1.1"};
  bool requireClientCert = false;       // mTLS: client certificate signed by the test CA required
  std::shared_ptr<const TestPki> pki;   // created on start() when tls is set and this is null
  // Plain listener: a connection starting with the HTTP/2 preface speaks h2c (prior knowledge).
  bool h2c = true;
  uint32_t h2MaxConcurrentStreams = 100;   // SETTINGS_MAX_CONCURRENT_STREAMS
  uint32_t h2InitialWindowSize = 65535;    // SETTINGS_INITIAL_WINDOW_SIZE (per stream)
  // Limits of the real intake.
  size_t maxPayloadBytes = 5'000'000;  // uncompressed body; above -> 413
  size_t maxEntries = 1000;            // array entries; above -> 400
  size_t maxLogBytes = 1'000'000;      // one serialized entry; above -> accepted, violation recorded
  // Benches turn these off to keep memory flat; counters are always kept.
  bool recordEvents = true;
  bool recordRequests = true;
  // Benches: also compress every decoded body with zlib level 6 (stats().zlib6Bytes), the reference
  // size a compressed body is compared with.
  bool zlibReference = false;
  // Benches: called with every accepted (202) request's decoded JSON body as it is accepted (before
  // its answer is queued), on the connection's thread (the load tool reads the send times it embedded).
  std::function<void(std::string_view body)> onAccepted;
  // Capacity (benches: a slow intake). At most `maxConcurrentRequests` requests are in service at once
  // (0: unlimited); a request completed while that many are in service is answered 429 at once, without
  // Retry-After (not a fault, not a violation: stats().overCapacity). An admitted request stays in
  // service for `serviceTime` (plus setDelay's delay) after it was read, until its answer is sent.
  size_t maxConcurrentRequests = 0;
  Millis serviceTime{0};
};

enum class IntakeProtocol { Http1, Http2 };

// A response the fault injector substitutes for the normal one. The request's events are never
// recorded when a fault fires.
struct Fault {
  enum class Kind {
    Status,         // answer `status` (body {"errors":[...]}), with Retry-After when set
    Reset,          // TCP RST (SO_LINGER 0) instead of an answer; the whole connection dies
    Close,          // close the connection (FIN) after reading the request, without answering
    StreamReset,    // h2: RST_STREAM(INTERNAL_ERROR) for this stream only; h1: same as Close
    Pass,           // no fault: answer normally (lets failNext target the n-th request)
  };
  Kind kind = Kind::Status;
  int status = 503;
  std::optional<int> retryAfterSeconds;

  static Fault withStatus(int status, std::optional<int> retryAfterSeconds = std::nullopt) {
    return Fault{Kind::Status, status, retryAfterSeconds};
  }
  static Fault tcpReset() { return Fault{Kind::Reset, 0, std::nullopt}; }
  static Fault closeAfterRead() { return Fault{Kind::Close, 0, std::nullopt}; }
  static Fault streamReset() { return Fault{Kind::StreamReset, 0, std::nullopt}; }
  static Fault pass() { return Fault{Kind::Pass, 0, std::nullopt}; }
};

// A request that broke a rule of the intake (recorded whether or not it was rejected).
struct IntakeViolation {
  enum class Kind {
    Method,            // not POST -> 405
    Path,              // not /api/v2/logs -> 404
    ApiKeyMissing,     // -> 401
    ApiKeyInvalid,     // -> 403
    ContentType,       // not application/json -> 400
    ContentEncoding,   // not gzip / deflate / zstd / identity -> 400
    BodyDecode,        // compressed body does not decode -> 400
    BodyJson,          // not JSON, or not an array of objects -> 400
    PayloadTooLarge,   // uncompressed body > maxPayloadBytes -> 413
    TooManyEntries,    // > maxEntries -> 400
    LogTooLarge,       // one entry > maxLogBytes -> accepted (the real intake truncates)
    EmptyArray,        // [] -> accepted
    BadHttp,           // unparseable HTTP/1.1 -> 400 and close
  };
  Kind kind;
  int status;  // what was answered (202 for the accepted kinds)
  std::string detail;
};

const char* toString(IntakeViolation::Kind kind);

// One finished request (when recordRequests): what came in and what went out.
struct IntakeRequest {
  IntakeProtocol protocol = IntakeProtocol::Http1;
  bool tls = false;
  uint64_t connectionId = 0;
  int32_t streamId = 0;                       // h2 only
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // names lowercased; pseudo-headers left out
  size_t bodyBytes = 0;                        // as received (compressed)
  size_t decodedBytes = 0;                     // after Content-Encoding
  size_t events = 0;                           // entries in the array (0 when it did not parse)
  int status = 0;                              // 0 when no answer was sent (reset / close fault)
  bool faulted = false;
  std::chrono::steady_clock::time_point receivedAt;  // when the request was completely read
};

struct FakeIntakeStats {
  uint64_t connections = 0;          // accepted TCP connections
  uint64_t activeConnections = 0;
  uint64_t h1Connections = 0;
  uint64_t h2Connections = 0;
  uint64_t tlsHandshakeFailures = 0;
  uint64_t requests = 0;             // complete requests read
  uint64_t h1Requests = 0;
  uint64_t h2Requests = 0;
  uint64_t responses = 0;            // answers written
  std::map<int, uint64_t> byStatus;  // answers written, by status
  uint64_t faults = 0;               // requests answered by the fault injector
  uint64_t events = 0;               // entries of accepted (202) requests
  uint64_t violations = 0;
  uint64_t maxStreamsPerConnection = 0;     // h2: most streams (requests) seen on one connection
  uint64_t maxConcurrentStreams = 0;        // h2: most streams open at once on one connection
  uint64_t bodyBytes = 0;                   // request bodies as received
  uint64_t decodedBytes = 0;                // and after Content-Encoding (checked requests)
  uint64_t zlib6Bytes = 0;                  // those bodies as gzip level 6 (options.zlibReference)
  uint64_t overCapacity = 0;                // answered 429 by the capacity limit (maxConcurrentRequests)
  uint64_t maxInService = 0;                // most requests in service at once (admitted, not yet answered)
  uint64_t status(int code) const {
    auto it = byStatus.find(code);
    return it == byStatus.end() ? 0 : it->second;
  }
};

// The intake. start() binds 127.0.0.1:0 and runs an accept thread plus one thread per connection;
// everything else may be called from any thread at any time (state is behind one mutex), and the
// wait functions block on a condition variable until their condition holds or the deadline passes.
// An accepted request's events become visible (events(), waits) just before its 202 is written.
class FakeIntake {
 public:
  explicit FakeIntake(FakeIntakeOptions options = {});
  ~FakeIntake();  // stop()
  FakeIntake(const FakeIntake&) = delete;
  FakeIntake& operator=(const FakeIntake&) = delete;

  // Binds and starts accepting. Throws std::runtime_error on failure.
  void start();
  // Stops accepting, drops every connection (pending answers are not sent) and joins all threads.
  void stop();

  uint16_t port() const;
  const FakeIntakeOptions& options() const { return options_; }
  // TLS only: the CA file a client passes as tls.ca_file, and the PKI behind it.
  const std::string& caFile() const;
  const TestPki& pki() const;

  // --- outage ---
  // Closes the listening socket (new connections are refused) and, when `dropConnections`, resets
  // every open connection. Blocks until done.
  void stopListening(bool dropConnections = true);
  // Listens again on the same port. Throws when the port cannot be bound again.
  void resumeListening();
  bool listening() const;

  // --- faults (take effect for requests completed after the call) ---
  // The next `count` requests get `fault` (queued after any earlier failNext).
  void failNext(size_t count, Fault fault);
  // Each request not taken by failNext gets `fault` with probability `p` (seeded, reproducible).
  void failFraction(double p, Fault fault, uint64_t seed = 1);
  // Every answer (including fault actions) is delayed by `delay`; other streams and reads go on.
  void setDelay(Millis delay);
  void clearFaults();  // failNext queue, fraction and delay

  // --- recordings ---
  std::vector<nlohmann::json> events() const;  // in acceptance order
  // The same events as compact JSON text with the client's key order kept (nlohmann::json sorts
  // keys): for tests that check the order of keys, not only their values.
  std::vector<std::string> eventTexts() const;
  size_t eventCount() const;
  std::vector<IntakeViolation> violations() const;
  size_t violationCount(IntakeViolation::Kind kind) const;
  std::vector<IntakeRequest> requests() const;
  FakeIntakeStats stats() const;
  void clearRecordings();  // events, violations, requests (not counters)

  // True once at least `n` events were accepted (counted, also without recordEvents).
  bool waitForEvents(size_t n, Millis timeout) const;
  // True once at least `n` requests were completely read.
  bool waitForRequests(size_t n, Millis timeout) const;
  // True once `condition(stats())` holds; re-evaluated on every change.
  bool waitFor(const std::function<bool(const FakeIntakeStats&)>& condition, Millis timeout) const;

  struct Impl;

 private:
  FakeIntakeOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace firelane::testsupport
