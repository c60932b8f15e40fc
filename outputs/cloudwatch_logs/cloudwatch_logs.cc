// cloudwatch_logs runtime: per-chunk plans of PutLogEvents calls with per-call delivery bookkeeping,
// stream/group creation on first use and on ResourceNotFoundException, answer classification.
#include "outputs/cloudwatch_logs/cloudwatch_logs.h"

#include <charconv>

#include "core/codec/json_to_msgpack.h"
#include "core/codec/json_writer.h"
#include "core/common/log.h"

namespace firelane::outputs::cloudwatch_logs {

namespace {

constexpr uint64_t kPollMs = 20;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool intValue(record::Bytes v, int64_t& out) {
  std::string text;
  if (v.empty() || !record::appendValueText(text, v)) return false;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && p == text.data() + text.size();
}

std::string streamKey(const std::string& group, const std::string& stream) { return group + '\0' + stream; }

}  // namespace

ApiAnswer parseAnswer(const http::Response& r, size_t events) {
  ApiAnswer a;
  a.status = r.status;
  if (r.status == 0) {
    a.message = r.error;
    return a;
  }
  auto mp = codec::jsonToMsgpack(r.body);
  if (!mp) {
    if (r.status != 200) a.message = r.body.substr(0, 200);
    return a;
  }
  record::Bytes rec(mp->data(), mp->size());
  std::string_view s;
  if (record::stringValue(record::findKey(rec, "__type"), s)) {
    auto hash = s.rfind('#');
    a.type = std::string(hash == std::string_view::npos ? s : s.substr(hash + 1));
  }
  if (record::stringValue(record::findKey(rec, "message"), s) || record::stringValue(record::findKey(rec, "Message"), s))
    a.message = std::string(s);
  if (a.type.empty()) {
    if (auto t = r.header("x-amzn-ErrorType")) a.type = std::string(t->substr(0, t->find(':')));
  }
  record::Bytes info = record::findKey(rec, "rejectedLogEventsInfo");
  if (!info.empty()) {
    int64_t v = 0;
    int64_t n = static_cast<int64_t>(events);
    int64_t oldEnd = 0, expiredEnd = 0, newStart = n;
    if (intValue(record::findKey(info, "tooOldLogEventEndIndex"), v)) oldEnd = std::clamp<int64_t>(v, 0, n);
    if (intValue(record::findKey(info, "expiredLogEventEndIndex"), v)) expiredEnd = std::clamp<int64_t>(v, 0, n);
    if (intValue(record::findKey(info, "tooNewLogEventStartIndex"), v)) newStart = std::clamp<int64_t>(v, 0, n);
    // The end indexes are exclusive, the start index inclusive (AWS API reference); old and expired
    // ranges both start at 0 and may overlap.
    a.expired = static_cast<size_t>(expiredEnd);
    a.tooOld = static_cast<size_t>(std::max<int64_t>(0, oldEnd - expiredEnd));
    a.tooNew = static_cast<size_t>(n - std::max(newStart, std::max(oldEnd, expiredEnd)));
  }
  return a;
}

Verdict classify(const ApiAnswer& a) {
  if (a.status >= 200 && a.status < 300) return Verdict::Ok;
  if (a.status == 0 || a.status >= 500) return Verdict::Retry;
  const std::string& t = a.type;
  if (t == "ThrottlingException" || t == "ServiceUnavailableException" || t == "InternalFailure" ||
      t == "LimitExceededException" || t == "RequestExpired" || a.status == 429)
    return Verdict::Retry;
  if (t == "ResourceNotFoundException") return Verdict::MissingResource;
  if (t == "ResourceAlreadyExistsException" || t == "DataAlreadyAcceptedException") return Verdict::AlreadyExists;
  if (t == "UnrecognizedClientException" || t == "InvalidSignatureException" || t == "ExpiredTokenException" ||
      t == "IncompleteSignature" || t == "MissingAuthenticationToken" || t == "InvalidClientTokenId" ||
      t == "AccessDeniedException" || t == "SignatureDoesNotMatch" || a.status == 403)
    return Verdict::Credentials;
  return Verdict::Reject;  // InvalidParameterException and other client errors
}

struct CloudWatchOutput::Plan {
  std::vector<PutCall> calls;
  std::vector<bool> delivered;
};

struct CloudWatchOutput::Flush {
  uint64_t chunkId = 0;
  FlushCompletion done;
  std::shared_ptr<Plan> plan;
  int outstanding = 0;
  bool started = false;
  bool retry = false;
  std::string reason;
  size_t okEvents = 0;
  size_t rejectedEvents = 0;
};

struct CloudWatchOutput::Stream {
  enum class State { Unknown, Creating, Ready } state = State::Unknown;
  std::vector<std::function<void(StreamResult, const std::string&)>> waiters;
};

OutputPtr CloudWatchFactory::create(unsigned) const { return std::make_unique<CloudWatchOutput>(config_); }

CloudWatchOutput::CloudWatchOutput(const CloudWatchConfig& config)
    : config_(config), encoder_(config.encoder), alive_(std::make_shared<bool>(true)) {}

CloudWatchOutput::~CloudWatchOutput() { *alive_ = false; }

Status CloudWatchOutput::start(OutputContext& ctx) {
  ctx_ = &ctx;
  client_ = std::make_unique<http::Client>(ctx.loop(), config_.upstream, config_.tls);
  host_ = aws::hostHeader(config_.upstream);
  timer_ = new uv_timer_t;
  uv_timer_init(ctx.loop(), timer_);
  timer_->data = this;
  config_.credentials->start();
  return {};
}

FlushLimits CloudWatchOutput::limits() const {
  // About one PutLogEvents call per stream: record msgpack is a little smaller than its JSON.
  return FlushLimits{config_.encoder.maxCallEvents, 900'000, config_.maxInFlight};
}

void CloudWatchOutput::flush(const FlushChunk& chunk, FlushCompletion done) {
  auto f = std::make_shared<Flush>();
  f->chunkId = chunk.id;
  f->done = std::move(done);
  auto it = plans_.find(chunk.id);
  if (it == plans_.end()) {
    while (plans_.size() >= 1024) plans_.erase(plans_.begin());  // chunks dropped after their last retry
    auto plan = std::make_shared<Plan>();
    EncodeStats st = encoder_.encode(chunk, nowMs(), plan->calls);
    plan->delivered.assign(plan->calls.size(), false);
    auto& reasons = ctx_->counters().reasons;
    const char* inst = config_.instance.c_str();
    if (st.truncated) {
      reasons.add("truncated", st.truncated);
      FL_WARN("[output:cloudwatch_logs:%s] truncated %zu events to %zu bytes", inst, st.truncated,
              config_.encoder.maxEventSize);
    }
    size_t skipped = st.tooOld + st.tooNew + st.noLogKey;
    if (st.tooOld) reasons.add("too_old", st.tooOld);
    if (st.tooNew) reasons.add("too_new", st.tooNew);
    if (st.noLogKey) reasons.add("no_log_key", st.noLogKey);
    if (st.fallbackNames) reasons.add("template_fallback", st.fallbackNames);
    if (skipped) {
      ctx_->counters().dropped.add(skipped);
      FL_WARN("[output:cloudwatch_logs:%s] not sent: %zu events older than 14 days, %zu more than 2 h ahead, %zu "
              "without log_key",
              inst, st.tooOld, st.tooNew, st.noLogKey);
    }
    it = plans_.emplace(chunk.id, std::move(plan)).first;
  }
  f->plan = it->second;
  for (size_t i = 0; i < f->plan->calls.size(); ++i) {
    if (f->plan->delivered[i]) continue;
    f->outstanding++;
    sendCall(f, i, 0);
  }
  f->started = true;
  if (f->outstanding == 0) finish(f);
}

void CloudWatchOutput::sendCall(const std::shared_ptr<Flush>& f, size_t index, int tries) {
  const PutCall& call = f->plan->calls[index];
  std::weak_ptr<bool> alive = alive_;
  ensureStream(call.group, call.stream, [this, alive, f, index, tries](StreamResult r, const std::string& why) {
    if (alive.expired()) return;
    const PutCall& c = f->plan->calls[index];
    if (r == StreamResult::Retry) {
      f->retry = true;
      f->reason = why;
      return callDone(f);
    }
    if (r == StreamResult::Reject) {
      FL_ERROR("[output:cloudwatch_logs:%s] dropped %zu events for %s/%s: %s", config_.instance.c_str(), c.events,
               c.group.c_str(), c.stream.c_str(), why.c_str());
      f->plan->delivered[index] = true;  // resending cannot help
      f->rejectedEvents += c.events;
      return callDone(f);
    }
    api("PutLogEvents", c.body, [this, alive, f, index, tries](http::Response&& r, const Creds& creds) {
      if (alive.expired()) return;
      onPut(f, index, tries, parseAnswer(r, f->plan->calls[index].events), creds);
    });
  });
}

void CloudWatchOutput::onPut(const std::shared_ptr<Flush>& f, size_t index, int tries, ApiAnswer&& a,
                             const Creds& creds) {
  PutCall& c = f->plan->calls[index];
  const char* inst = config_.instance.c_str();
  auto& reasons = ctx_->counters().reasons;
  if (a.status) reasons.add("http_" + std::to_string(a.status));
  Verdict v = classify(a);
  switch (v) {
    case Verdict::Ok:
    case Verdict::AlreadyExists: {
      f->plan->delivered[index] = true;
      size_t refused = a.tooNew + a.tooOld + a.expired;
      if (refused) {
        // Never retried: the same events would be refused again.
        reasons.add("rejected_too_new", a.tooNew);
        reasons.add("rejected_too_old", a.tooOld);
        reasons.add("rejected_expired", a.expired);
        f->rejectedEvents += refused;
        FL_WARN("[output:cloudwatch_logs:%s] %s/%s refused %zu of %zu events (too new %zu, too old %zu, expired %zu)",
                inst, c.group.c_str(), c.stream.c_str(), refused, c.events, a.tooNew, a.tooOld, a.expired);
      }
      f->okEvents += c.events - std::min(refused, c.events);
      c.body = std::string();  // delivered: free it while other calls of the chunk still run
      return callDone(f);
    }
    case Verdict::MissingResource: {
      auto it = streams_.find(streamKey(c.group, c.stream));
      if (it != streams_.end() && it->second->state == Stream::State::Ready) it->second->state = Stream::State::Unknown;
      if (tries < 2) return sendCall(f, index, tries + 1);  // creates the stream again first
      f->retry = true;
      f->reason = "ResourceNotFoundException: " + a.message;
      return callDone(f);
    }
    case Verdict::Credentials:
      logCredentialError(a, creds);
      f->retry = true;
      f->reason = a.type + " (credentials from " + (creds ? creds->provider : std::string("none")) + ")";
      return callDone(f);
    case Verdict::Retry:
      if (a.status == 0) reasons.add("transport");
      if (a.type == "ThrottlingException") reasons.add("throttled");
      if (config_.autoRetryRequests && tries == 0) return sendCall(f, index, 1);
      f->retry = true;
      f->reason = a.status ? "HTTP " + std::to_string(a.status) + " " + a.type + " from " + config_.upstream.host
                           : a.message;
      return callDone(f);
    case Verdict::Reject:
      FL_ERROR("[output:cloudwatch_logs:%s] %s/%s: HTTP %d %s: %s; dropped %zu events", inst, c.group.c_str(),
               c.stream.c_str(), a.status, a.type.c_str(), a.message.c_str(), c.events);
      f->plan->delivered[index] = true;
      f->rejectedEvents += c.events;
      c.body = std::string();
      return callDone(f);
  }
}

void CloudWatchOutput::callDone(const std::shared_ptr<Flush>& f) {
  f->outstanding--;
  if (f->started && f->outstanding == 0) finish(f);
}

void CloudWatchOutput::finish(const std::shared_ptr<Flush>& f) {
  if (!f->done) return;
  auto done = std::move(f->done);
  f->done = nullptr;
  if (f->rejectedEvents) ctx_->counters().dropped.add(f->rejectedEvents);
  if (f->retry) {
    done(FlushResult::retry(f->reason));
    return;
  }
  plans_.erase(f->chunkId);
  done(FlushResult::ok());
}

void CloudWatchOutput::ensureStream(const std::string& group, const std::string& stream,
                                    std::function<void(StreamResult, const std::string&)> then) {
  std::string key = streamKey(group, stream);
  auto& s = streams_[key];
  if (!s) s = std::make_unique<Stream>();
  if (s->state == Stream::State::Ready) return then(StreamResult::Ready, "");
  s->waiters.push_back(std::move(then));
  if (s->state == Stream::State::Creating) return;
  s->state = Stream::State::Creating;
  createStream(key, group, stream, false);
}

void CloudWatchOutput::createStream(const std::string& key, const std::string& group, const std::string& stream,
                                    bool groupTried) {
  std::string body = "{\"logGroupName\":";
  codec::appendJsonString(body, group);
  body.append(",\"logStreamName\":");
  codec::appendJsonString(body, stream);
  body.append("}");
  std::weak_ptr<bool> alive = alive_;
  api("CreateLogStream", std::move(body), [=, this](http::Response&& r, const Creds& creds) {
    if (alive.expired()) return;
    ApiAnswer a = parseAnswer(r, 0);
    Verdict v = classify(a);
    const char* inst = config_.instance.c_str();
    if (v == Verdict::Ok || v == Verdict::AlreadyExists) {
      if (v == Verdict::Ok) FL_INFO("[output:cloudwatch_logs:%s] created log stream %s in %s", inst, stream.c_str(), group.c_str());
      return streamSettled(key, StreamResult::Ready, "");
    }
    if (v == Verdict::MissingResource && !groupTried) {
      if (!config_.autoCreateGroup)
        return streamSettled(key, StreamResult::Reject,
                             "log group '" + group + "' does not exist and auto_create_group is off");
      std::string gbody = "{\"logGroupName\":";
      codec::appendJsonString(gbody, group);
      if (!config_.logGroupClass.empty()) gbody.append(",\"logGroupClass\":\"").append(config_.logGroupClass).append("\"");
      gbody.append("}");
      api("CreateLogGroup", std::move(gbody), [=, this](http::Response&& gr, const Creds&) {
        if (alive.expired()) return;
        ApiAnswer g = parseAnswer(gr, 0);
        Verdict gv = classify(g);
        if (gv != Verdict::Ok && gv != Verdict::AlreadyExists)
          return streamSettled(key, gv == Verdict::Reject ? StreamResult::Reject : StreamResult::Retry,
                               "CreateLogGroup: " + g.type + " " + g.message);
        if (gv == Verdict::Ok) {
          FL_INFO("[output:cloudwatch_logs:%s] created log group %s", config_.instance.c_str(), group.c_str());
          if (config_.retentionDays > 0) {
            std::string rbody = "{\"logGroupName\":";
            codec::appendJsonString(rbody, group);
            rbody.append(",\"retentionInDays\":").append(std::to_string(config_.retentionDays)).append("}");
            api("PutRetentionPolicy", std::move(rbody), [=, this](http::Response&& pr, const Creds&) {
              if (alive.expired()) return;
              ApiAnswer p = parseAnswer(pr, 0);
              if (classify(p) != Verdict::Ok)
                FL_WARN("[output:cloudwatch_logs:%s] PutRetentionPolicy for %s failed: %s %s",
                        config_.instance.c_str(), group.c_str(), p.type.c_str(), p.message.c_str());
            });
          }
        }
        createStream(key, group, stream, true);
      });
      return;
    }
    if (v == Verdict::Credentials) logCredentialError(a, creds);
    std::string why = "CreateLogStream: " + (a.status ? "HTTP " + std::to_string(a.status) + " " + a.type + " " + a.message
                                                      : a.message);
    streamSettled(key, v == Verdict::Reject ? StreamResult::Reject : StreamResult::Retry, why);
  });
}

void CloudWatchOutput::streamSettled(const std::string& key, StreamResult r, const std::string& why) {
  auto it = streams_.find(key);
  if (it == streams_.end()) return;
  Stream& s = *it->second;
  s.state = r == StreamResult::Ready ? Stream::State::Ready : Stream::State::Unknown;
  auto waiters = std::move(s.waiters);
  s.waiters.clear();
  for (auto& w : waiters) w(r, why);
}

void CloudWatchOutput::api(const char* op, std::string body, AnswerCallback cb) {
  std::weak_ptr<bool> alive = alive_;
  auto shared = std::make_shared<std::string>(std::move(body));
  std::string target = std::string("Logs_20140328.") + op;
  withCredentials([this, alive, shared, target, cb = std::move(cb)](const Creds& creds) {
    if (alive.expired()) return;
    if (!creds) {
      http::Response r;
      r.error = "no AWS credentials: " + config_.credentials->lastError();
      return cb(std::move(r), creds);
    }
    http::Request req;
    req.method = "POST";
    req.path = "/";
    req.headers.reserve(8);
    req.headers.push_back({"Content-Type", "application/x-amz-json-1.1"});
    req.headers.push_back({"X-Amz-Target", target});
    if (!config_.logFormat.empty() && target == "Logs_20140328.PutLogEvents")
      req.headers.push_back({"x-amzn-logs-format", config_.logFormat});
    req.body = std::move(*shared);  // a copy: the plan keeps its own for a retry
    signer_.sign(req, host_, *creds, aws::SigningParams{config_.region, "logs"}, std::chrono::system_clock::now());
    // Added after signing, as the AWS SDKs do: proxies may rewrite it.
    req.headers.push_back({"User-Agent", "firelane/" FIRELANE_VERSION});
    client_->send(std::move(req), [alive, creds, cb](http::Response&& r) {
      if (alive.expired()) return;
      cb(std::move(r), creds);
    });
  });
}

void CloudWatchOutput::withCredentials(std::function<void(const Creds&)> fn) {
  if (auto c = config_.credentials->current()) return fn(c);
  if (closing_) return fn(nullptr);
  waiting_.push_back(Waiter{std::move(fn), uv_now(ctx_->loop()) + static_cast<uint64_t>(config_.credentialWait * 1000)});
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(timer_)))
    uv_timer_start(timer_, [](uv_timer_t* t) { static_cast<CloudWatchOutput*>(t->data)->pollCredentials(); }, kPollMs,
                   kPollMs);
}

void CloudWatchOutput::pollCredentials() {
  auto c = config_.credentials->current();
  uint64_t now = uv_now(ctx_->loop());
  std::vector<Waiter> ready;
  std::vector<Waiter> keep;
  for (auto& w : waiting_) {
    if (c || now >= w.deadline || closing_) ready.push_back(std::move(w));
    else keep.push_back(std::move(w));
  }
  waiting_ = std::move(keep);
  if (waiting_.empty()) uv_timer_stop(timer_);
  for (auto& w : ready) w.fn(c);
}

void CloudWatchOutput::logCredentialError(const ApiAnswer& a, const Creds& creds) {
  // The access key id names the key without revealing it; the secret and token are never printed.
  FL_ERROR("[output:cloudwatch_logs:%s] %s (HTTP %d): %s; access key %s from %s", config_.instance.c_str(),
           a.type.c_str(), a.status, a.message.c_str(), creds ? creds->accessKeyId.c_str() : "-",
           creds ? creds->provider.c_str() : "no provider");
  if (a.type == "ExpiredTokenException" || a.type == "UnrecognizedClientException" || a.type == "InvalidClientTokenId")
    config_.credentials->refreshSoon();
}

void CloudWatchOutput::close(std::function<void()> closed) {
  closing_ = true;
  if (!client_) return closed();
  if (timer_) {
    uv_timer_stop(timer_);
    auto waiters = std::move(waiting_);
    waiting_.clear();
    for (auto& w : waiters) w.fn(nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
  client_->close(std::move(closed));
}

}  // namespace firelane::outputs::cloudwatch_logs
