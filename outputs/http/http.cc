// http output runtime: encode, compress, send, classify. The engine owns retries, so a chunk that
// fails is sent again whole; a 2xx means the server took every event of the request.
#include "outputs/http/http.h"

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
  if (chunk.events == 0) return done(FlushResult::ok());
  body_.reserve(chunk.bytes * 2 + chunk.events * 48);
  encodeBody(config_, chunk, body_);
  firelane::http::Request req;
  req.method = config_.method;
  req.path = config_.uri;
  req.headers = config_.headers;
  if (compressor_) {
    std::string compressed;
    if (!compressor_->compress(body_, compressed)) return done(FlushResult::retry("compression failed"));
    req.body = std::move(compressed);
  } else {
    req.body = std::move(body_);
    body_ = std::string();
  }
  std::weak_ptr<bool> alive = alive_;
  size_t events = chunk.events;
  client_->send(std::move(req), [this, alive, events, done = std::move(done)](firelane::http::Response&& r) mutable {
    if (alive.expired()) return;
    onResponse(std::move(r), events, std::move(done));
  });
}

void HttpOutput::onResponse(firelane::http::Response&& r, size_t events, FlushCompletion done) {
  const auto& u = config_.upstream;
  const char* inst = config_.instance.c_str();
  if (r.status != 0) ctx_->counters().reasons.add("http_" + std::to_string(r.status));
  Verdict v = classify(r.status);
  if (v == Verdict::Ok) {
    FL_DEBUG("[output:http:%s] %s:%u, HTTP status=%d, %zu events", inst, u.host.c_str(), unsigned(u.port), r.status,
             events);
    return done(FlushResult::ok());
  }
  std::string where = u.host + ":" + std::to_string(u.port);
  if (r.status == 0) {
    ctx_->counters().reasons.add("transport");
    return done(FlushResult::retry(where + ": " + r.error));
  }
  std::string body = config_.logResponsePayload ? r.body.substr(0, 1024) : std::string();
  if (v == Verdict::Reject) {
    // The engine counts the drop and logs it once with this reason.
    FL_ERROR("[output:http:%s] %s, HTTP status=%d: %zu events will not be retried%s%s", inst, where.c_str(), r.status,
             events, body.empty() ? "" : "\n", body.c_str());
    return done(FlushResult::reject("HTTP " + std::to_string(r.status) + " from " + where));
  }
  FL_WARN("[output:http:%s] %s, HTTP status=%d%s%s", inst, where.c_str(), r.status, body.empty() ? "" : "\n",
          body.c_str());
  done(FlushResult::retry("HTTP " + std::to_string(r.status) + " from " + where, firelane::http::retryAfter(r)));
}

void HttpOutput::close(std::function<void()> closed) {
  if (!client_) return closed();
  client_->close(std::move(closed));
}

}  // namespace firelane::outputs::http_output
