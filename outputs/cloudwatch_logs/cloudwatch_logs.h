// The cloudwatch_logs output's runtime on one worker: encodes a chunk into PutLogEvents calls, creates
// streams (and groups) on first use, signs every request with SigV4 and sends the calls in parallel
// through the shared HTTP client. A retried chunk resends only the calls that did not succeed.
#pragma once

#include <map>
#include <memory>
#include <unordered_map>

#include "core/aws/sigv4.h"
#include "core/plugin/output.h"
#include "outputs/cloudwatch_logs/cloudwatch_logs_config.h"

namespace firelane::outputs::cloudwatch_logs {

class CloudWatchFactory final : public OutputFactory {
 public:
  explicit CloudWatchFactory(CloudWatchConfig config) : config_(std::move(config)) {}
  OutputPtr create(unsigned workerId) const override;

 private:
  CloudWatchConfig config_;
};

// A CloudWatch Logs answer, classified (pure; unit-tested).
struct ApiAnswer {
  int status = 0;        // 0: transport error
  std::string type;      // "ThrottlingException" (the part after '#' of __type)
  std::string message;   // the service's message, or the transport error
  // PutLogEvents: events the service refused (rejectedLogEventsInfo), by reason.
  size_t tooNew = 0, tooOld = 0, expired = 0;
};
ApiAnswer parseAnswer(const http::Response& r, size_t events);

enum class Verdict { Ok, Retry, Reject, MissingResource, Credentials, AlreadyExists };
Verdict classify(const ApiAnswer& a);

class CloudWatchOutput final : public Output {
 public:
  explicit CloudWatchOutput(const CloudWatchConfig& config);
  ~CloudWatchOutput() override;
  Status start(OutputContext& ctx) override;
  FlushLimits limits() const override;
  void flush(const FlushChunk& chunk, FlushCompletion done) override;
  void close(std::function<void()> closed) override;

 private:
  struct Plan;
  struct Flush;
  struct Stream;
  using Creds = std::shared_ptr<const aws::Credentials>;
  using AnswerCallback = std::function<void(http::Response&&, const Creds&)>;
  enum class StreamResult { Ready, Retry, Reject };

  void sendCall(const std::shared_ptr<Flush>& f, size_t index, int tries);
  void onPut(const std::shared_ptr<Flush>& f, size_t index, int tries, ApiAnswer&& a, const Creds& creds);
  void callDone(const std::shared_ptr<Flush>& f);
  void finish(const std::shared_ptr<Flush>& f);
  // Runs `then` once the stream exists (CreateLogStream, and CreateLogGroup when allowed).
  void ensureStream(const std::string& group, const std::string& stream,
                    std::function<void(StreamResult, const std::string&)> then);
  void createStream(const std::string& key, const std::string& group, const std::string& stream, bool groupTried);
  void streamSettled(const std::string& key, StreamResult r, const std::string& why);
  // Signs and sends one API call once credentials are available.
  void api(const char* op, std::string body, AnswerCallback cb);
  void withCredentials(std::function<void(const Creds&)> fn);
  void pollCredentials();
  void logCredentialError(const ApiAnswer& a, const Creds& creds);

  const CloudWatchConfig& config_;
  OutputContext* ctx_ = nullptr;
  std::unique_ptr<http::Client> client_;
  CloudWatchEncoder encoder_;
  aws::Signer signer_;
  std::string host_;
  std::map<uint64_t, std::shared_ptr<Plan>> plans_;  // by chunk id: calls not yet accepted
  std::unordered_map<std::string, std::unique_ptr<Stream>> streams_;
  struct Waiter {
    std::function<void(const Creds&)> fn;
    uint64_t deadline;
  };
  std::vector<Waiter> waiting_;
  uv_timer_t* timer_ = nullptr;
  bool closing_ = false;
  std::shared_ptr<bool> alive_;
};

}  // namespace firelane::outputs::cloudwatch_logs
