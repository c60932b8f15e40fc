// The http output's runtime on one worker: one request per chunk (the chunk's events in the
// configured format, optionally compressed) through the shared HTTP client; answers classified as
// Fluent Bit's out_http does.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "core/plugin/output.h"
#include "outputs/http/http_config.h"

namespace firelane::outputs::http_output {

class HttpOutputFactory final : public OutputFactory {
 public:
  explicit HttpOutputFactory(HttpOutputConfig config) : config_(std::move(config)) {}
  OutputPtr create(unsigned workerId) const override;
  const HttpOutputConfig& config() const { return config_; }

 private:
  HttpOutputConfig config_;
};

// How an answer is handled (pure; unit-tested). As Fluent Bit's out_http: 200-205 are delivered;
// other 4xx except 408 and 429 are dropped without retry (resending the same body cannot help);
// everything else (no answer, 1xx, 206-399, 408, 429, 5xx) is retried by the engine.
enum class Verdict { Ok, Retry, Reject };
Verdict classify(int status);

// The request body for `chunk` (no compression). Pure: for tests and benches.
void encodeBody(const HttpOutputConfig& config, const FlushChunk& chunk, std::string& out);

class HttpOutput final : public Output {
 public:
  explicit HttpOutput(const HttpOutputConfig& config);
  ~HttpOutput() override;
  Status start(OutputContext& ctx) override;
  FlushLimits limits() const override;
  void flush(const FlushChunk& chunk, FlushCompletion done) override;
  void close(std::function<void()> closed) override;

 private:
  void onResponse(firelane::http::Response&& r, size_t events, FlushCompletion done);

  const HttpOutputConfig& config_;
  OutputContext* ctx_ = nullptr;
  std::unique_ptr<firelane::http::Client> client_;
  codec::CompressorPtr compressor_;
  std::string body_;  // scratch
  std::shared_ptr<bool> alive_;
};

}  // namespace firelane::outputs::http_output
