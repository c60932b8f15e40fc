// The forward output's runtime on one worker: one connection per node, round robin over healthy
// nodes, failover before a message is sent, retry through the engine after. Loop thread only.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "core/codec/compressor.h"
#include "core/plugin/output.h"
#include "outputs/forward/forward_config.h"

namespace firelane::outputs::forward {

class ForwardOutputFactory final : public OutputFactory {
 public:
  explicit ForwardOutputFactory(ForwardOutputConfig config) : config_(std::move(config)) {}
  OutputPtr create(unsigned workerId) const override;

 private:
  ForwardOutputConfig config_;
};

class ForwardOutput final : public Output {
 public:
  explicit ForwardOutput(const ForwardOutputConfig& config);
  ~ForwardOutput() override;
  Status start(OutputContext& ctx) override;
  // Chunks stay well under a receiver's default buffer_max_size (6144000 bytes), extra fields
  // (e.g. ~200 bytes of ECS metadata per event) included.
  FlushLimits limits() const override { return {10000, 2u << 20, 1}; }
  void flush(const FlushChunk& chunk, FlushCompletion done) override;
  void close(std::function<void()> closed) override;

  class Conn;
  struct Job;

  // Called by connections.
  void jobFailed(size_t node, std::shared_ptr<Job> job, const std::string& reason);
  void jobDone(size_t node, std::shared_ptr<Job> job);
  void handleOpened() { ++openHandles_; }
  void handleClosed();
  OutputContext& ctx() { return *ctx_; }
  const ForwardOutputConfig& config() const { return config_; }

 private:
  struct NodeState {
    std::unique_ptr<Conn> conn;
    std::chrono::steady_clock::time_point downUntil{};
    int failures = 0;
  };
  // The next node for `job`: a healthy one not yet tried, in round-robin order; if every node is
  // marked failed and none was tried yet, the one whose mark ends first. -1: none left.
  int pickNode(const Job& job);
  // Sends `job` to pickNode()'s choice, or completes it with retry (`lastError`) when none is left.
  void dispatch(std::shared_ptr<Job> job, const std::string& lastError = {});

  const ForwardOutputConfig& config_;
  OutputContext* ctx_ = nullptr;
  codec::CompressorPtr gzip_;
  std::vector<NodeState> nodes_;
  size_t next_ = 0;
  size_t openHandles_ = 0;
  bool closing_ = false;
  std::function<void()> closed_;
};

}  // namespace firelane::outputs::forward
