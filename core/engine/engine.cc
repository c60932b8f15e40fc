// Engine: start-up, signal handling and the graceful-shutdown sequence on the main thread.
#include "core/engine/engine.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <map>
#include <string>
#include <unistd.h>

#include "core/common/log.h"

namespace firelane {

namespace {
// Blocks (or unblocks) SIGTERM, SIGINT and SIGHUP in the calling thread.
void blockShutdownSignals(bool block) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, nullptr);
}
}  // namespace

Engine::Engine(PipelineConfig config, PipelineLoader reload)
    : config_(std::move(config)), reload_(std::move(reload)) {
  uv_loop_init(&loop_);
  inbox_ = std::make_unique<LoopInbox>(&loop_);
}

Engine::~Engine() {
  workers_.clear();
  uv_loop_close(&loop_);
}

int Engine::run() {
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGXFSZ, SIG_IGN);  // a file-size limit makes spool writes fail (EFBIG) instead of killing us
  const unsigned n = config_.service.workers;
  std::vector<std::vector<std::shared_ptr<InputFactory>>> placed(n);
  std::vector<std::vector<const InputSpec*>> placedSpecs(n);
  unsigned nextSingle = 0;
  for (const auto& spec : config_.inputs) {
    Status st = spec.factory->prepare(n);
    if (!st) {
      FL_ERROR("[input:%s:%s] %s", spec.plugin.c_str(), spec.instance.c_str(), st.message().c_str());
      return 1;
    }
    if (spec.factory->placement() == InputFactory::Placement::PerWorker) {
      for (unsigned w = 0; w < n; ++w) {
        placed[w].push_back(spec.factory);
        placedSpecs[w].push_back(&spec);
        ++inputInstances_;
      }
    } else {
      unsigned w = nextSingle++ % n;
      placed[w].push_back(spec.factory);
      placedSpecs[w].push_back(&spec);
      ++inputInstances_;
    }
  }
  if (config_.service.httpServer) {
    // Bound before the workers start, so a busy port fails start-up cleanly.
    monitor_ = std::make_unique<monitor::MonitorServer>(
        &loop_, config_.service, monitor::MonitorSources{[this] { return monitor::collect(workers_); }});
    Status st = monitor_->start();
    if (!st) {
      FL_ERROR("%s", st.message().c_str());
      monitor_->close(nullptr);
      inbox_->close();
      uv_run(&loop_, UV_RUN_DEFAULT);
      return 1;
    }
  }
  // Handlers go in before any worker runs, and every thread the workers start inherits a mask that
  // blocks these signals: only the main thread takes them, so closing the handlers at exit can be
  // made atomic (see workerDrained) and a signal during start-up is queued, never met by SIG_DFL.
  blockShutdownSignals(true);
  auto onSignal = [](uv_signal_t* h, int signum) {
    auto* self = static_cast<Engine*>(h->data);
    if (signum == SIGHUP) {
      self->onReload();
      return;
    }
    // Only a second *signal* forces the exit: a shutdown started by the inputs finishing (stdin
    // EOF) still drains when SIGTERM arrives during it.
    if (++self->signalsReceived_ > 1) {
      FL_WARN("[engine] second signal: exiting now");
      fflush(stdout);
      fflush(stderr);
      _exit(1);
    }
    self->beginShutdown(signum == SIGTERM ? "SIGTERM" : "SIGINT");
  };
  for (auto* sig : {&sigterm_, &sigint_, &sighup_}) {
    uv_signal_init(&loop_, sig);
    sig->data = this;
  }
  uv_signal_start(&sigterm_, onSignal, SIGTERM);
  uv_signal_start(&sigint_, onSignal, SIGINT);
  uv_signal_start(&sighup_, onSignal, SIGHUP);
  uv_timer_init(&loop_, &graceTimer_);
  graceTimer_.data = this;

  for (unsigned w = 0; w < n; ++w) workers_.push_back(std::make_unique<Worker>(w, n, config_, *this));
  for (unsigned w = 0; w < n; ++w) {
    Status st = workers_[w]->start(placed[w], placedSpecs[w]);
    if (!st) {
      FL_ERROR("[engine] worker %u failed to start: %s", w, st.message().c_str());
      fflush(stderr);
      _exit(1);  // other workers are running; there is nothing to drain yet
    }
  }
  blockShutdownSignals(false);

  FL_INFO("[engine] started with %u worker%s, %zu input%s, %zu filter%s, %zu output%s", n, n == 1 ? "" : "s",
          config_.inputs.size(), config_.inputs.size() == 1 ? "" : "s", config_.filters.size(),
          config_.filters.size() == 1 ? "" : "s", config_.outputs.size(), config_.outputs.size() == 1 ? "" : "s");
  uv_run(&loop_, UV_RUN_DEFAULT);

  for (auto& w : workers_) w->join();
  logOutputTotals();
  workers_.clear();
  FL_INFO(reloaded_ ? "[engine] drained; starting the new configuration" : "[engine] stopped");
  return exitCode_;
}

void Engine::logOutputTotals() const {
  // One line per output with its totals over every worker: what a user (or a test) checks after a
  // run to see what was delivered, dropped and retried.
  for (size_t i = 0; i < config_.outputs.size(); ++i) {
    uint64_t records = 0, dropped = 0, retries = 0, failed = 0;
    std::map<std::string, uint64_t> reasons;
    for (const auto& w : workers_) {
      size_t k = 0;
      w->forEachOutput([&](const OutputRunner& r) {
        if (k++ != i) return;
        const OutputCounters& c = r.countersView();
        records += c.records.get();
        dropped += c.dropped.get();
        retries += c.retries.get();
        failed += c.retriesFailed.get();
        c.reasons.forEach([&](const std::string& k, uint64_t v) { reasons[k] += v; });
      });
    }
    std::string detail;
    for (const auto& [k, v] : reasons) detail += (detail.empty() ? " (" : ", ") + k + " " + std::to_string(v);
    if (!detail.empty()) detail += ")";
    const auto& spec = config_.outputs[i];
    FL_INFO("[output:%s:%s] totals: %llu records delivered, %llu dropped, %llu retries, %llu retries exhausted%s",
            spec.plugin.c_str(), spec.instance.c_str(), static_cast<unsigned long long>(records),
            static_cast<unsigned long long>(dropped), static_cast<unsigned long long>(retries),
            static_cast<unsigned long long>(failed), detail.c_str());
  }
}

void Engine::inputFinished(unsigned) {
  inbox_->post([this] {
    if (++inputsFinished_ == inputInstances_) beginShutdown("all inputs finished");
  });
}

void Engine::workerDrained(unsigned) {
  inbox_->post([this] {
    if (++workersDrained_ < workers_.size()) return;
    uv_timer_stop(&graceTimer_);
    // Closing the last uv_signal handle restores SIG_DFL; with the signals blocked until SIG_IGN is
    // in place, a late signal cannot kill the process in the middle of a clean exit (or between the
    // two pipelines of a reload).
    blockShutdownSignals(true);
    for (auto* h : {reinterpret_cast<uv_handle_t*>(&sigterm_), reinterpret_cast<uv_handle_t*>(&sigint_),
                    reinterpret_cast<uv_handle_t*>(&sighup_), reinterpret_cast<uv_handle_t*>(&graceTimer_)})
      uv_close(h, nullptr);
    if (!reloaded_) {
      std::signal(SIGTERM, SIG_IGN);
      std::signal(SIGINT, SIG_IGN);
      std::signal(SIGHUP, SIG_IGN);
      blockShutdownSignals(false);
    }
    // Reloading: the signals stay blocked, so one sent during the switch stays pending until the
    // next pipeline's handlers are in place (run() unblocks them).
    if (monitor_) monitor_->close(nullptr);
    inbox_->close();
  });
}

void Engine::onReload() {
  if (shuttingDown_) {
    FL_WARN("[engine] SIGHUP: already %s; ignoring", reloaded_ ? "reloading" : "shutting down");
    return;
  }
  if (!reload_) {
    FL_WARN("[engine] SIGHUP: this pipeline was not read from a config file; ignoring");
    return;
  }
  for (const auto& in : config_.inputs) {
    if (in.plugin == "stdin") {  // closing stdin would end it for the next pipeline too
      FL_WARN("[engine] SIGHUP: reload is not supported with the stdin input; ignoring");
      return;
    }
  }
  auto next = reload_();
  if (!next) {
    FL_ERROR("[engine] SIGHUP: the new configuration is invalid, keeping the current one: %s",
             next.message().c_str());
    return;
  }
  for (const auto& w : next->warnings) FL_WARN("[config] %s", w.c_str());
  reloaded_ = std::move(*next);
  // Drain the old pipeline completely (no grace deadline: buffered events must not be lost); a
  // SIGTERM during the drain turns it into a normal shutdown with Grace.
  beginShutdown("SIGHUP: configuration is valid, reloading", false);
}

void Engine::beginShutdown(const char* why, bool armGrace) {
  double grace = config_.service.graceSeconds;
  if (shuttingDown_) {
    if (armGrace && reloaded_) {  // SIGTERM while draining for a reload: exit instead of reloading
      reloaded_.reset();
      FL_INFO("[engine] %s during the reload drain: exiting after it (grace %.1fs)", why, grace);
      uv_timer_start(
          &graceTimer_, [](uv_timer_t* t) { static_cast<Engine*>(t->data)->onGraceExpired(); },
          static_cast<uint64_t>(grace * 1000), 0);
    }
    return;
  }
  shuttingDown_ = true;
  if (!armGrace) {
    FL_INFO("[engine] %s: draining", why);
    for (auto& w : workers_) w->shutdown(grace / 2);
    return;
  }
  FL_INFO("[engine] %s: draining (grace %.1fs)", why, grace);
  for (auto& w : workers_) w->shutdown(grace / 2);
  uv_timer_start(
      &graceTimer_, [](uv_timer_t* t) { static_cast<Engine*>(t->data)->onGraceExpired(); },
      static_cast<uint64_t>(grace * 1000), 0);
}

void Engine::onGraceExpired() {
  size_t queued = 0;
  size_t spooled = 0;
  for (auto& w : workers_) {
    queued += w->queuedRecords();
    spooled += w->spooledRecords();
  }
  spooled = std::min(spooled, queued);
  if (spooled > 0) {
    FL_ERROR("[engine] grace period expired: %zu records were not delivered and are lost; %zu more stay in the "
             "spool for the next start",
             queued - spooled, spooled);
  } else {
    FL_ERROR("[engine] grace period expired: %zu records were not delivered", queued);
  }
  fflush(stdout);
  fflush(stderr);
  _exit(0);
}

}  // namespace firelane
