// The engine: owns the workers and the main loop (signals, graceful shutdown, exit code).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <uv.h>
#include <vector>

#include "core/config/pipeline.h"
#include "core/engine/loop_inbox.h"
#include "core/engine/worker.h"
#include "core/monitor/monitor_server.h"

namespace firelane {

// Builds a fresh pipeline from the config files (SIGHUP). Main thread.
using PipelineLoader = std::function<Result<PipelineConfig>()>;

class Engine final : public WorkerListener {
 public:
  // Without a loader, SIGHUP is logged and ignored.
  explicit Engine(PipelineConfig config, PipelineLoader reload = {});
  ~Engine() override;

  // Binds listeners, starts the workers, runs until shutdown. Returns the process exit code:
  // 0 after a graceful drain (also when the grace period ran out; the loss is logged), 1 when
  // start-up failed.
  int run();

  // After run() returned: the validated pipeline SIGHUP asked for (the old one was drained first, so
  // nothing buffered was lost); nullopt when run() ended for another reason.
  std::optional<PipelineConfig> takeReloaded() { return std::move(reloaded_); }

  // WorkerListener (worker threads).
  void inputFinished(unsigned workerId) override;
  void workerDrained(unsigned workerId) override;

 private:
  void beginShutdown(const char* why, bool armGrace = true);
  void onReload();
  void onGraceExpired();
  void logOutputTotals() const;

  PipelineConfig config_;
  PipelineLoader reload_;
  std::optional<PipelineConfig> reloaded_;
  uv_loop_t loop_;
  std::unique_ptr<LoopInbox> inbox_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<monitor::MonitorServer> monitor_;  // HTTP_Server On
  uv_signal_t sigterm_;
  uv_signal_t sigint_;
  uv_signal_t sighup_;
  uv_timer_t graceTimer_;
  size_t inputInstances_ = 0;
  size_t inputsFinished_ = 0;
  size_t workersDrained_ = 0;
  bool shuttingDown_ = false;
  int signalsReceived_ = 0;
  int exitCode_ = 0;
};

}  // namespace firelane
