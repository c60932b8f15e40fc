// A fake CloudWatch Logs endpoint (plain HTTP) that checks every request as AWS does: SigV4 recomputed
// with the known secrets (its own implementation, not core/aws), the JSON 1.1 protocol headers,
// groups and streams, every PutLogEvents rule; answers with x-amzn-RequestId; injects throttling,
// 500s, resets and vanished streams. Plus a keyring shared with fake credential endpoints (ECS,
// IMDSv2, STS) that hand out short-lived keys.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "support/http_test_server.h"
#include "support/test_certs.h"

namespace firelane::testsupport {

using SysClock = std::chrono::system_clock;

// Keys the fake services accept. Thread-safe.
class FakeKeyring {
 public:
  struct Key {
    std::string secret;
    std::string token;  // empty: long-term key (no X-Amz-Security-Token expected)
    SysClock::time_point expiration = SysClock::time_point::max();
  };
  void add(const std::string& accessKeyId, Key key);
  std::optional<Key> find(const std::string& accessKeyId) const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, Key> keys_;
};

struct CloudWatchEvent {
  int64_t timestamp = 0;
  std::string message;
};

struct CloudWatchFault {
  enum class Kind { Throttle, ServerError, Reset, DropStream };
  Kind kind = Kind::Throttle;
};

struct FakeCloudWatchOptions {
  std::string region = "us-east-1";
  size_t maxEventBytes = 1'048'576;  // one event incl. 26 bytes; above -> InvalidParameterException
  std::shared_ptr<const TestPki> pki;  // when set, the endpoint speaks only TLS (HTTP/1.1)
};

class FakeCloudWatch {
 public:
  FakeCloudWatch(std::shared_ptr<FakeKeyring> keys, FakeCloudWatchOptions options = {});
  ~FakeCloudWatch();
  void start();
  void stop();
  std::string url() const { return server_.url(); }
  uint16_t port() const { return server_.port(); }
  uint64_t tlsHandshakes() const { return server_.tlsHandshakes(); }

  // --- state ---
  void createGroup(const std::string& group);
  void createStream(const std::string& group, const std::string& stream);
  // The stream stops existing (PutLogEvents answers ResourceNotFoundException); its events stay
  // readable through events() so tests can count deliveries across the deletion.
  void deleteStream(const std::string& group, const std::string& stream);
  bool hasGroup(const std::string& group) const;
  std::optional<int> retention(const std::string& group) const;
  std::vector<CloudWatchEvent> events(const std::string& group, const std::string& stream) const;
  // Every stored event, "group/stream" -> events.
  std::map<std::string, std::vector<CloudWatchEvent>> allEvents() const;
  size_t eventCount() const;

  // --- faults, PutLogEvents only ---
  void failNext(size_t count, CloudWatchFault fault);
  void failFraction(double p, CloudWatchFault::Kind kind, uint64_t seed = 1);

  // --- observations ---
  size_t opCount(const std::string& op) const;             // requests per X-Amz-Target operation
  size_t answered(const std::string& errorType) const;     // answers by __type ("" = success)
  // Requests that broke a rule a well-behaved client never breaks (bad signature, unsorted, ...).
  std::vector<std::string> violations() const;
  std::vector<std::string> signingKeys() const;            // access key ids of valid signed requests, in order
  std::vector<std::map<std::string, std::string>> putHeaders() const;  // lowercased headers of PutLogEvents
  bool waitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout) const;
  bool waitForEvents(size_t n, std::chrono::milliseconds timeout) const;

 private:
  HttpReply handle(const HttpRequestIn& req);
  HttpReply answer(int status, const std::string& type, const std::string& message, const std::string& body = "");
  std::string checkSignature(const HttpRequestIn& req, std::string& errType, int& status);
  HttpReply putLogEvents(const nlohmann::json& body);

  std::shared_ptr<FakeKeyring> keys_;
  FakeCloudWatchOptions options_;
  HttpTestServer server_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::map<std::string, std::optional<int>> groups_;
  std::map<std::string, std::vector<CloudWatchEvent>> streams_;  // "group/stream" -> every event stored
  std::set<std::string> live_;  // streams that exist now (a deleted stream keeps its events above)
  std::map<std::string, size_t> ops_;
  std::map<std::string, size_t> answers_;
  std::vector<std::string> violations_;
  std::vector<std::string> signingKeys_;
  std::vector<std::map<std::string, std::string>> putHeaders_;
  std::vector<CloudWatchFault> failNext_;
  double failP_ = 0;
  CloudWatchFault::Kind failKind_ = CloudWatchFault::Kind::Throttle;
  std::mt19937_64 rng_{1};
  uint64_t requestIds_ = 0;
  size_t eventTotal_ = 0;
};

// ECS container credentials, IMDSv2 and STS on one 127.0.0.1 server. Every issued key is added to
// the keyring with Expiration = now + lifetime, and rotates (a new key per fetch) when asked.
struct FakeCredentialOptions {
  std::chrono::seconds lifetime{3600};
  std::string ecsPath = "/v2/credentials/task-role";
  std::string ecsAuthorization;  // required Authorization header for ECS (full URI mode) when set
  std::string imdsRole = "firelane-instance-role";
  std::string stsRoleArn = "arn:aws:iam::123456789012:role/firelane";
  std::string webIdentityToken;  // token AssumeRoleWithWebIdentity must carry
  std::string region = "us-east-1";
};

class FakeCredentialEndpoint {
 public:
  FakeCredentialEndpoint(std::shared_ptr<FakeKeyring> keys, FakeCredentialOptions options = {});
  void start() { server_.start(); }
  void stop() { server_.stop(); }
  std::string url() const { return server_.url(); }
  uint16_t port() const { return server_.port(); }
  size_t issued() const;                 // keys handed out
  size_t count(const std::string& what) const;  // "ecs", "imds-token", "imds-role", "imds-creds", "sts:<Action>", "denied"
  void failNext(size_t n);               // the next n credential answers are 500s

 private:
  HttpReply handle(const HttpRequestIn& req);
  nlohmann::json issue(const std::string& prefix);

  std::shared_ptr<FakeKeyring> keys_;
  FakeCredentialOptions options_;
  HttpTestServer server_;
  mutable std::mutex mu_;
  std::map<std::string, size_t> counts_;
  std::set<std::string> imdsTokens_;
  size_t issued_ = 0;
  size_t failNext_ = 0;
};

// ISO-8601 UTC "2026-12-05T06:00:00Z".
std::string isoTime(SysClock::time_point t);

}  // namespace firelane::testsupport
