// The datadog output's runtime on one worker: encodes a chunk into request-sized JSON payloads,
// compresses them and posts them through the shared HTTP client; classifies the answers.
#pragma once

#include <map>
#include <set>

#include "core/plugin/output.h"
#include "outputs/datadog/datadog_config.h"

namespace firelane::outputs::datadog {

class DatadogFactory final : public OutputFactory {
 public:
  explicit DatadogFactory(DatadogConfig config) : config_(std::move(config)) {}
  OutputPtr create(unsigned workerId) const override;

 private:
  DatadogConfig config_;
};

// How an intake answer is handled (pure; unit-tested).
enum class Verdict { Ok, Retry, Reject, Split };
Verdict classify(int status, bool retryOn403);

class DatadogOutput final : public Output {
 public:
  explicit DatadogOutput(const DatadogConfig& config);
  ~DatadogOutput() override;
  Status start(OutputContext& ctx) override;
  FlushLimits limits() const override;
  void flush(const FlushChunk& chunk, FlushCompletion done) override;
  void close(std::function<void()> closed) override;

 private:
  struct Flush;
  void sendRange(const std::shared_ptr<Flush>& f, const FlushChunk& part, size_t payloadIndex, bool isSplit);
  void post(const std::shared_ptr<Flush>& f, std::string&& json, size_t events, std::shared_ptr<FlushChunk> part,
            size_t payloadIndex, bool isSplit);
  void onResponse(const std::shared_ptr<Flush>& f, http::Response&& r, size_t events,
                  std::shared_ptr<FlushChunk> part, size_t payloadIndex, bool isSplit);
  void finish(const std::shared_ptr<Flush>& f);

  const DatadogConfig& config_;
  OutputContext* ctx_ = nullptr;
  std::unique_ptr<http::Client> client_;
  codec::CompressorPtr compressor_;
  DatadogEncoder encoder_;
  std::string json_;        // scratch
  std::string compressed_;  // scratch
  // Payloads of a chunk already accepted, by chunk id: a retried chunk resends only the others.
  std::map<uint64_t, std::set<size_t>> delivered_;
  std::shared_ptr<bool> alive_;
};

}  // namespace firelane::outputs::datadog
