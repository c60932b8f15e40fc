// The http output's runtime on one worker: one request per chunk (per tag when header_tag is
// set), the events in the configured format, optionally compressed, through the
// shared HTTP client; answers classified as Fluent Bit's out_http does.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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

// The requests a chunk becomes: the whole chunk, or with `byTag` one per tag, in the order each tag
// first appears, slices in chunk order (Fluent Bit's chunks hold one tag; header_tag names it). Pure.
std::vector<FlushChunk> splitRequests(const FlushChunk& chunk, bool byTag);

// A tag as a header value: bytes that cannot appear in a header (control characters) become '_'.
std::string headerSafe(std::string_view tag);

class HttpOutput final : public Output {
 public:
  explicit HttpOutput(const HttpOutputConfig& config);
  ~HttpOutput() override;
  Status start(OutputContext& ctx) override;
  FlushLimits limits() const override;
  void flush(const FlushChunk& chunk, FlushCompletion done) override;
  void close(std::function<void()> closed) override;

 private:
  struct Flush;
  void send(const std::shared_ptr<Flush>& f, size_t index, const FlushChunk& part);
  void onResponse(const std::shared_ptr<Flush>& f, size_t index, size_t events, firelane::http::Response&& r);
  void finish(const std::shared_ptr<Flush>& f);

  const HttpOutputConfig& config_;
  OutputContext* ctx_ = nullptr;
  std::unique_ptr<firelane::http::Client> client_;
  codec::CompressorPtr compressor_;
  std::string body_;  // scratch
  // Requests of a chunk already settled (accepted, or rejected for good), by chunk id: a retried
  // chunk resends only the others, so with header_tag a tag's request the server took is not sent twice.
  std::map<uint64_t, std::vector<bool>> settled_;
  std::shared_ptr<bool> alive_;
};

}  // namespace firelane::outputs::http_output
