// http output runtime: encode, compress, send, classify. The engine owns retries; a retried chunk
// resends only the requests (one per tag with header_tag) that were not settled, and a 2xx means the server took every
// event of its request, so nothing is delivered twice.
#include "outputs/http/http.h"

#include <algorithm>

#include "core/common/log.h"
#include "core/http/output_options.h"

namespace firelane::outputs::http_output {

Verdict classify(int status) {
  if (status >= 200 && status <= 205) return Verdict::Ok;
  if (status >= 400 && status < 500 && status != 408 && status != 429) return Verdict::Reject;
  return Verdict::Retry;
}

void encodeBody(const HttpOutputConfig& config, const FlushChunk& chunk, std::string& out) {
  out.clear();
  codec::appendChunk(out, chunk, config.format);
}

std::vector<FlushChunk> splitRequests(const FlushChunk& chunk, bool byTag) {
  if (!byTag) return {chunk};
  std::vector<FlushChunk> out;  // in order of each tag's first slice; slices keep their order
  for (const BatchSlice& s : chunk.slices) {
    auto it = std::find_if(out.begin(), out.end(), [&](const FlushChunk& c) { return c.slices[0].tag() == s.tag(); });
    if (it == out.end()) {
      out.emplace_back();
      out.back().id = chunk.id;
      out.back().attempt = chunk.attempt;
      it = out.end() - 1;
    }
    it->slices.push_back(s);
    it->events += s.end - s.begin;
    for (const Event& e : s.events()) it->bytes += e.record.size();
  }
  return out;
}

std::string headerSafe(std::string_view tag) {
  std::string out(tag);
  for (char& ch : out)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '_';
  return out;
}

struct HttpOutput::Flush {
  uint64_t chunkId = 0;
  FlushCompletion done;
  std::vector<bool> settled;  // per request of the chunk, across attempts
  bool earlierAttempts = false;
  int outstanding = 0;
  bool started = false;        // every request submitted
  size_t okEvents = 0;         // in this attempt
  size_t rejectedEvents = 0;   // in this attempt
  bool retry = false;
  std::optional<std::chrono::milliseconds> retryAfter;
  std::string reason;
  std::string rejectReason;
};

OutputPtr HttpOutputFactory::create(unsigned) const { return std::make_unique<HttpOutput>(config_); }

HttpOutput::HttpOutput(const HttpOutputConfig& config) : config_(config), alive_(std::make_shared<bool>(true)) {}

HttpOutput::~HttpOutput() { *alive_ = false; }

Status HttpOutput::start(OutputContext& ctx) {
  ctx_ = &ctx;
  if (config_.compress) {
    auto comp = codec::Compressor::create(config_.compression);
    if (!comp) return comp.status();
    compressor_ = std::move(*comp);
  }
  client_ = std::make_unique<firelane::http::Client>(ctx.loop(), config_.upstream, config_.tls);
  return {};
}

FlushLimits HttpOutput::limits() const {
  FlushLimits l;
  l.maxBytes = config_.maxRequestRecordBytes;
  l.maxInFlight = config_.maxInFlight;
  return l;
}

void HttpOutput::flush(const FlushChunk& chunk, FlushCompletion done) {
  auto f = std::make_shared<Flush>();
  f->chunkId = chunk.id;
  f->done = std::move(done);
  std::vector<FlushChunk> parts = splitRequests(chunk, !config_.headerTag.empty());
  if (settled_.size() > 4096) settled_.clear();  // chunks dropped after their last retry
  auto it = settled_.find(chunk.id);
  if (it != settled_.end() && it->second.size() == parts.size()) {
    f->settled = it->second;
    f->earlierAttempts = true;
  } else {
    f->settled.assign(parts.size(), false);
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!f->settled[i] && parts[i].events > 0) send(f, i, parts[i]);
  }
  f->started = true;
  if (f->outstanding == 0) finish(f);
}

void HttpOutput::send(const std::shared_ptr<Flush>& f, size_t index, const FlushChunk& part) {
  body_.reserve(part.bytes * 2 + part.events * 48);
  encodeBody(config_, part, body_);
  firelane::http::Request req;
  req.method = config_.method;
  req.path = config_.uri;
  req.headers = config_.headers;
  if (!config_.headerTag.empty()) {
    // Where Fluent Bit puts it: right after Content-Type.
    auto at = req.headers.begin() + (req.headers.empty() ? 0 : 1);
    req.headers.insert(at, {config_.headerTag, headerSafe(part.slices.front().tag())});
  }
  if (compressor_) {
    std::string compressed;
    if (!compressor_->compress(body_, compressed)) {
      f->retry = true;
      f->reason = "compression failed";
      return;
    }
    req.body = std::move(compressed);
  } else {
    req.body = std::move(body_);
    body_ = std::string();
  }
  f->outstanding++;
  std::weak_ptr<bool> alive = alive_;
  size_t events = part.events;
  client_->send(std::move(req), [this, alive, f, index, events](firelane::http::Response&& r) {
    if (alive.expired()) return;
    onResponse(f, index, events, std::move(r));
  });
}

void HttpOutput::onResponse(const std::shared_ptr<Flush>& f, size_t index, size_t events,
                            firelane::http::Response&& r) {
  f->outstanding--;
  const auto& u = config_.upstream;
  const char* inst = config_.instance.c_str();
  const std::string where = u.host + ":" + std::to_string(u.port);
  if (r.status != 0) ctx_->counters().reasons.add("http_" + std::to_string(r.status));
  std::string body = config_.logResponsePayload ? r.body.substr(0, 1024) : std::string();
  switch (classify(r.status)) {
    case Verdict::Ok:
      FL_DEBUG("[output:http:%s] %s, HTTP status=%d, %zu events", inst, where.c_str(), r.status, events);
      f->settled[index] = true;
      f->okEvents += events;
      break;
    case Verdict::Reject:
      FL_ERROR("[output:http:%s] %s, HTTP status=%d: %zu events will not be retried%s%s", inst, where.c_str(),
               r.status, events, body.empty() ? "" : "\n", body.c_str());
      f->settled[index] = true;
      f->rejectedEvents += events;
      f->rejectReason = "HTTP " + std::to_string(r.status) + " from " + where;
      break;
    case Verdict::Retry:
      f->retry = true;
      if (r.status == 0) {
        ctx_->counters().reasons.add("transport");
        f->reason = where + ": " + r.error;
      } else {
        FL_WARN("[output:http:%s] %s, HTTP status=%d%s%s", inst, where.c_str(), r.status, body.empty() ? "" : "\n",
                body.c_str());
        f->reason = "HTTP " + std::to_string(r.status) + " from " + where;
        if (auto after = firelane::http::retryAfter(r))
          f->retryAfter = std::max(f->retryAfter.value_or(*after), *after);
      }
      break;
  }
  if (f->started && f->outstanding == 0) finish(f);
}

void HttpOutput::finish(const std::shared_ptr<Flush>& f) {
  if (!f->done) return;
  auto done = std::move(f->done);
  f->done = nullptr;
  if (f->retry) {
    settled_[f->chunkId] = f->settled;
    if (f->rejectedEvents) ctx_->counters().dropped.add(f->rejectedEvents);
    return done(FlushResult::retry(f->reason, f->retryAfter));
  }
  settled_.erase(f->chunkId);
  if (f->okEvents == 0 && f->rejectedEvents > 0 && !f->earlierAttempts) {
    // The engine counts the whole chunk as dropped and logs it once.
    return done(FlushResult::reject(f->rejectReason));
  }
  if (f->rejectedEvents) ctx_->counters().dropped.add(f->rejectedEvents);
  done(FlushResult::ok());
}

void HttpOutput::close(std::function<void()> closed) {
  if (!client_) return closed();
  client_->close(std::move(closed));
}

}  // namespace firelane::outputs::http_output
