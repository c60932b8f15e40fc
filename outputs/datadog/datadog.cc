// Datadog output runtime: payloads per chunk, status handling (retry / reject / split on 413),
// per-payload bookkeeping so retries never resend what the intake accepted.
#include "outputs/datadog/datadog.h"

#include <algorithm>

#include "core/common/log.h"
#include "core/http/output_options.h"

namespace firelane::outputs::datadog {

namespace {

// Events [from, to) of a chunk (positions as the encoder counts them) as a chunk of their own.
FlushChunk subChunk(const FlushChunk& chunk, ChunkPosition from, size_t count) {
  FlushChunk out;
  out.id = chunk.id;
  while (count > 0 && from.slice < chunk.slices.size()) {
    const BatchSlice& s = chunk.slices[from.slice];
    size_t avail = (s.end - s.begin) - from.event;
    size_t take = std::min(avail, count);
    uint32_t b = s.begin + static_cast<uint32_t>(from.event);
    out.slices.push_back(BatchSlice{s.batch, b, b + static_cast<uint32_t>(take)});
    out.events += take;
    count -= take;
    from.slice++;
    from.event = 0;
  }
  return out;
}

}  // namespace

Verdict classify(int status, bool retryOn403) {
  if (status >= 200 && status < 300) return Verdict::Ok;
  if (status == 0 || status == 408 || status == 429 || status >= 500) return Verdict::Retry;
  if (status == 413) return Verdict::Split;
  if (status == 403) return retryOn403 ? Verdict::Retry : Verdict::Reject;
  return Verdict::Reject;  // 400, 401 and other client errors: resending cannot help
}

struct DatadogOutput::Flush {
  uint64_t chunkId = 0;
  FlushCompletion done;
  int outstanding = 0;
  bool started = false;  // all payloads submitted
  size_t okEvents = 0;        // in this attempt
  size_t rejectedEvents = 0;  // in this attempt
  bool retry = false;
  std::optional<std::chrono::milliseconds> retryAfter;
  std::string reason;
  std::string rejectReason;
  std::vector<Range> settledNow;  // ranges accepted or rejected for good in this attempt
};

namespace {
// Where event `index` of a chunk stands.
ChunkPosition positionOf(const FlushChunk& chunk, size_t index) {
  ChunkPosition pos;
  while (pos.slice < chunk.slices.size()) {
    size_t n = chunk.slices[pos.slice].end - chunk.slices[pos.slice].begin;
    if (index < n) break;
    index -= n;
    pos.slice++;
  }
  pos.event = index;
  return pos;
}
}  // namespace

OutputPtr DatadogFactory::create(unsigned) const { return std::make_unique<DatadogOutput>(config_); }

DatadogOutput::DatadogOutput(const DatadogConfig& config)
    : config_(config), encoder_(config.encoder), alive_(std::make_shared<bool>(true)) {}

DatadogOutput::~DatadogOutput() { *alive_ = false; }

Status DatadogOutput::start(OutputContext& ctx) {
  ctx_ = &ctx;
  auto comp = codec::Compressor::create(config_.compression);
  if (!comp) return comp.status();
  compressor_ = std::move(*comp);
  client_ = std::make_unique<http::Client>(ctx.loop(), config_.upstream, config_.tls);
  return {};
}

FlushLimits DatadogOutput::limits() const {
  // One chunk is about one request: 1000 events, and msgpack bytes well under the 5 MB of JSON the
  // encoder cuts at (JSON of log records runs ~1.1x their msgpack size).
  return FlushLimits{config_.encoder.maxEventsPerPayload, 4'000'000, config_.maxInFlight};
}

void DatadogOutput::flush(const FlushChunk& chunk, FlushCompletion done) {
  auto f = std::make_shared<Flush>();
  f->chunkId = chunk.id;
  f->done = std::move(done);
  if (settled_.size() > 4096) settled_.clear();  // chunks dropped after their last retry
  auto it = settled_.find(chunk.id);
  if (it == settled_.end()) {
    sendRange(f, chunk, 0);
  } else {
    // A retry: send only the events no earlier attempt settled.
    std::vector<Range> ranges = it->second;
    std::sort(ranges.begin(), ranges.end());
    size_t at = 0;
    auto gap = [&](size_t to) {
      if (to > at) sendRange(f, subChunk(chunk, positionOf(chunk, at), to - at), at);
    };
    for (const Range& r : ranges) {
      gap(r.first);
      at = std::max(at, r.second);
    }
    gap(chunk.events);
  }
  f->started = true;
  if (f->outstanding == 0) finish(f);
}

void DatadogOutput::sendRange(const std::shared_ptr<Flush>& f, const FlushChunk& part, size_t base) {
  ChunkPosition pos;
  size_t offset = base;
  while (!pos.atEnd(part)) {
    ChunkPosition start = pos;
    PayloadStats stats = encoder_.encodePayload(part, pos, json_);
    if (stats.truncated) ctx_->counters().reasons.add("truncated", stats.truncated);
    if (stats.dropped) {
      ctx_->counters().reasons.add("too_large", stats.dropped);
      f->rejectedEvents += stats.dropped;
      if (f->rejectReason.empty()) f->rejectReason = "events over the intake's size limit even after truncation";
    }
    Range range{offset, offset + stats.consumed};
    offset += stats.consumed;
    if (stats.events == 0) {
      if (stats.consumed) f->settledNow.push_back(range);
      continue;
    }
    // Keep the event range, in case the intake answers 413 and the payload must be halved.
    auto events = std::make_shared<FlushChunk>(subChunk(part, start, stats.consumed));
    post(f, std::move(json_), stats.events, std::move(events), range.first);
    json_ = std::string();
  }
}

void DatadogOutput::post(const std::shared_ptr<Flush>& f, std::string&& json, size_t events,
                         std::shared_ptr<FlushChunk> part, size_t base) {
  http::Request req;
  req.method = "POST";
  req.path = "/api/v2/logs";
  req.headers.reserve(4 + config_.headers.size());
  req.headers.push_back({"DD-API-KEY", config_.apiKey});
  req.headers.push_back({"Content-Type", "application/json"});
  req.headers.push_back({"User-Agent", "firelane/" FIRELANE_VERSION});
  if (config_.compression.codec != codec::Codec::None) {
    if (!compressor_->compress(json, compressed_)) {
      f->retry = true;
      f->reason = "compression failed";
      return;
    }
    req.headers.push_back({"Content-Encoding", std::string(codec::contentEncoding(config_.compression.codec))});
    req.body = std::move(compressed_);
    compressed_ = std::string();
  } else {
    req.body = std::move(json);
  }
  for (const auto& h : config_.headers) req.headers.push_back(h);
  f->outstanding++;
  std::weak_ptr<bool> alive = alive_;
  client_->send(std::move(req), [this, alive, f, events, part, base](http::Response&& r) {
    if (alive.expired()) return;
    onResponse(f, std::move(r), events, part, base);
  });
}

void DatadogOutput::onResponse(const std::shared_ptr<Flush>& f, http::Response&& r, size_t events,
                               std::shared_ptr<FlushChunk> part, size_t base) {
  f->outstanding--;
  const auto& host = config_.upstream.host;
  const char* inst = config_.instance.c_str();
  Verdict v = classify(r.status, config_.retryOn403);
  if (r.status != 0) ctx_->counters().reasons.add("http_" + std::to_string(r.status));
  const Range range{base, base + part->events};
  switch (v) {
    case Verdict::Ok:
      f->okEvents += events;
      f->settledNow.push_back(range);
      break;
    case Verdict::Retry:
      if (r.status == 0) ctx_->counters().reasons.add("transport");
      f->retry = true;
      f->reason = r.status ? "HTTP " + std::to_string(r.status) + " from " + host : r.error;
      if (auto after = http::retryAfter(r)) f->retryAfter = std::max(f->retryAfter.value_or(*after), *after);
      if (r.status == 403)
        FL_ERROR("[output:datadog:%s] 403 Forbidden from %s: the API key must belong to the Datadog site of this "
                 "host (a key works only on its own site: set `site`, e.g. `site eu1`); retrying (retry_on_403)",
                 inst, host.c_str());
      break;
    case Verdict::Split:
      if (part->events > 1) {
        // 413: halve the payload and send both halves; each may split again.
        size_t half = part->events / 2;
        FL_WARN("[output:datadog:%s] 413 from %s: splitting %zu events in two requests", inst, host.c_str(),
                part->events);
        sendRange(f, subChunk(*part, ChunkPosition{}, half), base);
        sendRange(f, subChunk(*part, positionOf(*part, half), part->events - half), base + half);
        break;
      }
      [[fallthrough]];
    case Verdict::Reject:
      f->rejectedEvents += events;
      f->settledNow.push_back(range);
      if (r.status == 403) {
        f->rejectReason = "HTTP 403 from " + host + ": the API key must belong to the Datadog site of this host";
        FL_ERROR("[output:datadog:%s] 403 Forbidden from %s: the API key must belong to the Datadog site of this "
                 "host. A key works only on its own Datadog site: set `site` (us1, us3, us5, eu1, ap1, ap2, "
                 "us1-fed) or Host to the intake of the site the key belongs to. Dropped %zu events",
                 inst, host.c_str(), events);
      } else {
        f->rejectReason = "HTTP " + std::to_string(r.status) + " from " + host;
        std::string body = r.body.substr(0, 200);
        FL_ERROR("[output:datadog:%s] HTTP %d from %s: dropped %zu events: %s", inst, r.status, host.c_str(),
                 events, body.c_str());
      }
      break;
  }
  if (f->started && f->outstanding == 0) finish(f);
}

void DatadogOutput::finish(const std::shared_ptr<Flush>& f) {
  if (!f->done) return;
  auto done = std::move(f->done);
  f->done = nullptr;
  if (f->retry) {
    auto& settled = settled_[f->chunkId];
    settled.insert(settled.end(), f->settledNow.begin(), f->settledNow.end());
    if (f->rejectedEvents) ctx_->counters().dropped.add(f->rejectedEvents);
    done(FlushResult::retry(f->reason, f->retryAfter));
    return;
  }
  bool earlierAttempts = settled_.erase(f->chunkId) > 0;
  if (f->okEvents == 0 && f->rejectedEvents > 0 && !earlierAttempts) {
    // The engine counts the whole chunk as dropped and logs it once.
    done(FlushResult::reject(f->rejectReason.empty() ? "the intake rejected every event" : f->rejectReason));
    return;
  }
  if (f->rejectedEvents) ctx_->counters().dropped.add(f->rejectedEvents);
  done(FlushResult::ok());
}

void DatadogOutput::close(std::function<void()> closed) {
  if (!client_) return closed();
  client_->close(std::move(closed));
}

}  // namespace firelane::outputs::datadog
