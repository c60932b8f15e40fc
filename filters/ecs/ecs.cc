// The ecs filter's runtime: the per-worker metadata fetch (with backoff), holding batches while
// waiting, and attaching the shared field blocks (see ecs.h for the design).
#include "filters/ecs/ecs.h"

#include <random>
#include <unordered_map>

#include "core/common/log.h"
#include "core/http/http_client.h"
#include "core/record/record_accessor.h"
#include "core/record/record_builder.h"

namespace firelane::filters::ecs {
namespace {

class EcsFilter final : public Filter {
 public:
  explicit EcsFilter(const EcsConfig& cfg) : cfg_(cfg), rng_(std::random_device{}()) {}
  ~EcsFilter() override {
    // close() ran (engine contract); a timer still open here would be a leak, not a crash.
    if (alive_) *alive_ = false;
  }

  Status start(FilterContext& ctx) override {
    ctx_ = &ctx;
    if (!cfg_.endpoint) return {};  // not on ECS: warned once at config time
    state_ = State::Fetching;
    http::UpstreamOptions o;
    o.host = cfg_.endpoint->host;
    o.port = cfg_.endpoint->port;
    o.tls = false;
    o.http2 = http::Http2Mode::Off;
    o.maxConnections = 1;
    o.connectTimeout = cfg_.requestTimeout;
    o.responseTimeout = cfg_.requestTimeout;
    o.maxResponseBody = 4 << 20;
    client_ = std::make_unique<http::Client>(ctx.loop(), std::move(o), nullptr);
    retryTimer_ = newTimer(ctx.loop(), this);
    if (cfg_.waitSeconds > 0) {
      uint64_t ms = static_cast<uint64_t>(cfg_.waitSeconds * 1000);
      waitUntilMs_ = uv_now(ctx.loop()) + ms;
      waitTimer_ = newTimer(ctx.loop(), this);
      uv_timer_start(waitTimer_, [](uv_timer_t* t) { static_cast<EcsFilter*>(t->data)->onWaitOver(); }, ms, 0);
    }
    fetch();
    return {};
  }

  FilterResult apply(EventBatch& batch) override {
    if (state_ == State::Ready) return enrich(batch);
    if (state_ == State::Fetching && waitUntilMs_ &&
        heldBytes_ + batch.bytes <= cfg_.waitLimit) {
      heldBytes_ += batch.bytes;
      held_.push_back(std::move(batch));
      batch = EventBatch{};
      return FilterResult::DropAll;
    }
    if (state_ != State::Off) ctx_->counters().errors.add("unenriched", batch.events.size());
    return FilterResult::Unchanged;
  }

  void close(std::function<void()> closed) override {
    closed_ = std::move(closed);
    if (state_ == State::Fetching && !held_.empty() && waitUntilMs_) {
      // Records are held for metadata that may be moments away (a task stopping right after it
      // started): finish when the fetch ends (one attempt, no more retries) or the wait is over.
      finishOnFetch_ = true;
      if (!inFlight_) {
        uv_timer_stop(retryTimer_);
        fetch();
      }
      return;
    }
    finishClose();
  }

 private:
  enum class State { Off, Fetching, Ready, Failed };

  void finishClose() {
    finishOnFetch_ = false;
    closing_ = true;
    release();  // nothing held back is lost at shutdown
    pendingCloses_ = 1;  // this function's own reference, dropped at the end
    for (uv_timer_t** t : {&retryTimer_, &waitTimer_}) {
      if (!*t) continue;
      ++pendingCloses_;
      uv_close(reinterpret_cast<uv_handle_t*>(*t), [](uv_handle_t* h) {
        auto* self = static_cast<EcsFilter*>(h->data);
        delete reinterpret_cast<uv_timer_t*>(h);
        self->closeDone();
      });
      *t = nullptr;
    }
    if (client_) {
      ++pendingCloses_;
      client_->close([this] { closeDone(); });
    }
    closeDone();
  }

  void closeDone() {
    if (--pendingCloses_ == 0 && closed_) {
      auto c = std::move(closed_);
      c();
    }
  }

  void fetch() {
    http::Request req;
    req.method = "GET";
    req.path = cfg_.endpoint->path + "/task";
    req.headers.push_back({"Accept", "application/json"});
    std::weak_ptr<bool> alive = alive_;
    inFlight_ = true;
    client_->send(std::move(req), [this, alive](http::Response&& r) {
      if (alive.expired() || !*alive.lock() || closing_) return;
      inFlight_ = false;
      onResponse(std::move(r));
    });
  }

  void onResponse(http::Response&& r) {
    std::string why;
    if (r.status == 200) {
      auto meta = parseTaskMetadata(r.body);
      if (meta) {
        ready(std::move(*meta));
        if (finishOnFetch_) finishClose();
        return;
      }
      why = meta.message();
    } else if (r.status == 0) {
      why = r.error;
    } else {
      why = "HTTP " + std::to_string(r.status);
    }
    ++attempts_;
    ctx_->counters().errors.add("metadata_fetch");
    if (finishOnFetch_) {
      FL_WARN("[filter:%s] ECS task metadata unavailable at shutdown (%s): held records pass without it",
              ctx_->instanceName().c_str(), why.c_str());
      return finishClose();
    }
    if (attempts_ > cfg_.retryLimit) {
      FL_ERROR("[filter:%s] ECS task metadata unavailable after %lld attempts (%s): records pass without it",
               ctx_->instanceName().c_str(), static_cast<long long>(attempts_), why.c_str());
      state_ = State::Failed;
      release();
      return;
    }
    // Full jitter between base and the capped exponential bound, as the output retries do.
    double hi = std::min(cfg_.retryCap, cfg_.retryBase * static_cast<double>(1ull << std::min<int64_t>(attempts_ - 1, 30)));
    double lo = std::min(cfg_.retryBase, hi);
    double delay = std::uniform_real_distribution<double>(lo, hi > lo ? hi : lo + 1e-9)(rng_);
    FL_DEBUG("[filter:%s] ECS task metadata: %s; retry %lld in %.2fs", ctx_->instanceName().c_str(), why.c_str(),
             static_cast<long long>(attempts_), delay);
    scheduleTimer(static_cast<uint64_t>(delay * 1000));
  }

  static uv_timer_t* newTimer(uv_loop_t* loop, void* self) {
    auto* t = new uv_timer_t;
    uv_timer_init(loop, t);
    t->data = self;
    return t;
  }

  void scheduleTimer(uint64_t ms) {
    uv_timer_start(retryTimer_, [](uv_timer_t* t) {
      auto* self = static_cast<EcsFilter*>(t->data);
      if (!self->closing_) self->fetch();
    }, ms, 0);
  }

  // The end of Metadata_Wait: what is held goes on un-enriched, and nothing more is held.
  void onWaitOver() {
    if (closing_) return;
    waitUntilMs_ = 0;
    if (finishOnFetch_) return finishClose();
    release();
  }

  void ready(TaskMetadata&& meta) {
    task_ = std::move(meta);
    taskExtra_ = buildExtra(cfg_.fields, task_, nullptr);
    if (cfg_.needContainer) {
      for (const auto& c : task_.containers) byContainer_[c.dockerId] = buildExtra(cfg_.fields, task_, &c);
    }
    state_ = State::Ready;
    FL_INFO("[filter:%s] ECS task metadata: cluster %s, task %s (%s:%s), %zu containers",
            ctx_->instanceName().c_str(), task_.cluster.c_str(), task_.taskId.c_str(), task_.family.c_str(),
            task_.revision.c_str(), task_.containers.size());
    release();
  }

  // Re-emits held batches, enriched when the metadata is there.
  void release() {
    if (held_.empty()) return;
    auto held = std::move(held_);
    held_.clear();
    heldBytes_ = 0;
    for (auto& b : held) {
      if (state_ == State::Ready) {
        enrich(b);
      } else {
        ctx_->counters().errors.add("unenriched", b.events.size());
      }
      ctx_->emit(std::move(b));
    }
  }

  const ExtraFieldsRef& extraFor(std::span<const uint8_t> record) {
    if (!cfg_.needContainer) return taskExtra_;
    std::string_view id;
    if (!record::stringValue(record::findKey(record, "container_id"), id)) return taskExtra_;
    // Consecutive events nearly always come from one container: skip the hash lookup (and its key copy).
    if (lastExtra_ && id == lastId_) return *lastExtra_;
    auto it = byContainer_.find(std::string(id));
    if (it == byContainer_.end()) return taskExtra_;
    lastId_ = it->first;
    lastExtra_ = &it->second;
    return it->second;
  }

  bool ours(const ExtraFields* e) const {
    if (e == taskExtra_.get()) return true;
    for (const auto& [id, x] : byContainer_)
      if (x.get() == e) return true;
    return false;
  }

  FilterResult enrich(EventBatch& batch) {
    if (batch.events.empty()) return FilterResult::Unchanged;
    if (batch.extra && ours(batch.extra.get())) return FilterResult::Unchanged;  // seen already
    const ExtraFieldsRef* one = &extraFor(batch.events.front().record);
    if (cfg_.needContainer) {
      // A batch holds one tag, so one container under FireLens; a mixed one is rewritten instead.
      for (size_t i = 1; i < batch.events.size(); ++i) {
        if (extraFor(batch.events[i].record) != *one) return enrichEach(batch);
      }
    }
    if ((*one)->count == 0) return FilterResult::Unchanged;
    if (!batch.extra || batch.extra->count == 0) {
      batch.extra = *one;
      return FilterResult::Modified;
    }
    // Another filter attached fields first: one merged block for this batch (small, rare).
    auto merged = std::make_shared<ExtraFields>(*batch.extra);
    merged->kv.insert(merged->kv.end(), (*one)->kv.begin(), (*one)->kv.end());
    merged->count += (*one)->count;
    batch.extra = std::move(merged);
    return FilterResult::Modified;
  }

  // Events of different containers in one batch: each record gets its fields written into it.
  FilterResult enrichEach(EventBatch& batch) {
    record::BatchEditor ed(batch, builder_);
    for (const Event& ev : batch.events) {
      const ExtraFields& x = *extraFor(ev.record);
      uint32_t count = 0;
      size_t header = codec::readMapHeader(ev.record, count);
      if (!header || x.count == 0) {
        ed.keep();
        continue;
      }
      builder_.begin();
      builder_.copyPairs(ev.record.subspan(header), count);
      builder_.copyPairs(x.kv, x.count);
      ed.replace(builder_.end());
    }
    return ed.finish();
  }

  const EcsConfig& cfg_;
  FilterContext* ctx_ = nullptr;
  State state_ = State::Off;
  std::unique_ptr<http::Client> client_;
  uv_timer_t* retryTimer_ = nullptr;
  uv_timer_t* waitTimer_ = nullptr;
  uint64_t waitUntilMs_ = 0;  // 0: not waiting (any more)
  int64_t attempts_ = 0;
  std::mt19937_64 rng_;
  TaskMetadata task_;
  ExtraFieldsRef taskExtra_;
  std::unordered_map<std::string, ExtraFieldsRef> byContainer_;  // filled once; never changes after
  std::string lastId_;
  const ExtraFieldsRef* lastExtra_ = nullptr;
  std::vector<EventBatch> held_;
  size_t heldBytes_ = 0;
  record::RecordBuilder builder_;
  bool closing_ = false;
  bool inFlight_ = false;       // a metadata request is out
  bool finishOnFetch_ = false;  // close() waits for that request (or the end of the wait)
  int pendingCloses_ = 0;
  std::function<void()> closed_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace

FilterPtr makeFilter(const EcsConfig& cfg) { return std::make_unique<EcsFilter>(cfg); }

}  // namespace firelane::filters::ecs
