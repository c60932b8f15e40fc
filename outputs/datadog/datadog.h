// The datadog output's runtime on one worker: encodes a chunk into request-sized JSON payloads,
// compresses them and posts them through the shared HTTP client; classifies the answers.
#pragma once

#include <map>
#include <utility>
#include <vector>

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
  // Events [from, to) of a chunk, counted in chunk order.
  using Range = std::pair<size_t, size_t>;
  // Encodes `part` (whose first event is event `base` of the chunk) into payloads and posts them.
  void sendRange(const std::shared_ptr<Flush>& f, const FlushChunk& part, size_t base);
  void post(const std::shared_ptr<Flush>& f, std::string&& json, size_t events, std::shared_ptr<FlushChunk> part,
            size_t base);
  void onResponse(const std::shared_ptr<Flush>& f, http::Response&& r, size_t events,
                  std::shared_ptr<FlushChunk> part, size_t base);
  void finish(const std::shared_ptr<Flush>& f);

  const DatadogConfig& config_;
  OutputContext* ctx_ = nullptr;
  std::unique_ptr<http::Client> client_;
  codec::CompressorPtr compressor_;
  DatadogEncoder encoder_;
  std::string json_;        // scratch
  std::string compressed_;  // scratch
  // Event ranges of a chunk already settled (accepted, or rejected for good), by chunk id: a retried
  // chunk resends only the rest, so a request the intake accepted is never sent again, also when
  // it was one half of a 413 split.
  std::map<uint64_t, std::vector<Range>> settled_;
  std::shared_ptr<bool> alive_;
};

}  // namespace firelane::outputs::datadog
