// The fake CloudWatch Logs service and the fake credential endpoints. The SigV4 check here is
// written from the AWS IAM guide independently of core/aws (own canonicalisation, own HMAC chain).
#include "support/fake_cloudwatch.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <ctime>
#include <sstream>

namespace firelane::testsupport {
namespace {

using nlohmann::json;

std::string hex(const unsigned char* d, size_t n) {
  static const char* k = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s.push_back(k[d[i] >> 4]);
    s.push_back(k[d[i] & 15]);
  }
  return s;
}

std::string sha256(const std::string& s) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  return hex(md, sizeof(md));
}

std::string hmacRaw(const std::string& key, const std::string& msg) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), md, &len);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string lowerCase(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string squash(const std::string& v) {
  std::istringstream in(v);
  std::string word, out;
  while (in >> word) out += (out.empty() ? "" : " ") + word;
  return out;
}

// Splits "a=b, c=d" parts of the Authorization header.
std::map<std::string, std::string> authParts(const std::string& auth) {
  std::map<std::string, std::string> out;
  std::string rest = auth.substr(auth.find(' ') + 1);
  std::stringstream ss(rest);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = squash(item);
    auto eq = item.find('=');
    if (eq != std::string::npos) out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return out;
}

time_t parseAmzDate(const std::string& d) {
  std::tm tm{};
  if (!strptime(d.c_str(), "%Y%m%dT%H%M%SZ", &tm)) return 0;
  return timegm(&tm);
}

// Verifies SigV4 on `req` for `service`/`region`. Returns "" when valid; else an error and its type.
std::string verifySigV4(const HttpRequestIn& req, const FakeKeyring& keys, const std::string& region,
                        const std::string& service, std::string& type, int& status, std::string& keyId) {
  status = 403;
  std::string auth = req.header("Authorization");
  if (auth.empty()) {
    type = "MissingAuthenticationTokenException";
    return "no Authorization header";
  }
  type = "IncompleteSignatureException";
  if (auth.rfind("AWS4-HMAC-SHA256 ", 0) != 0) return "bad algorithm";
  auto parts = authParts(auth);
  std::string cred = parts["Credential"], signedHeaders = parts["SignedHeaders"], signature = parts["Signature"];
  std::vector<std::string> scope;
  std::stringstream cs(cred);
  for (std::string p; std::getline(cs, p, '/');) scope.push_back(p);
  if (scope.size() != 5 || signedHeaders.empty() || signature.size() != 64) return "malformed Authorization";
  keyId = scope[0];
  std::string date = req.header("X-Amz-Date");
  if (date.size() != 16 || date.substr(0, 8) != scope[1]) return "X-Amz-Date missing or not the scope's day";
  if (scope[2] != region || scope[3] != service || scope[4] != "aws4_request") {
    type = "InvalidSignatureException";
    return "wrong scope " + cred;
  }
  time_t t = parseAmzDate(date);
  if (std::llabs(static_cast<long long>(t - std::time(nullptr))) > 300) {
    type = "InvalidSignatureException";
    return "signature expired (X-Amz-Date more than 5 minutes off)";
  }
  auto key = keys.find(keyId);
  if (!key) {
    type = "UnrecognizedClientException";
    return "unknown access key " + keyId;
  }
  if (SysClock::now() >= key->expiration) {
    type = "ExpiredTokenException";
    status = 400;
    return "the security token included in the request is expired (key " + keyId + ")";
  }
  std::vector<std::string> names;
  std::stringstream hs(signedHeaders);
  for (std::string n; std::getline(hs, n, ';');) names.push_back(n);
  if (!std::is_sorted(names.begin(), names.end())) return "SignedHeaders not sorted";
  auto has = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  if (!has("host") || !has("x-amz-date")) return "host and x-amz-date must be signed";
  std::string token = req.header("X-Amz-Security-Token");
  if (token != key->token) {
    type = "UnrecognizedClientException";
    return "security token does not match the key";
  }
  std::string canonical = req.method + "\n";
  std::string path = req.target.substr(0, req.target.find('?'));
  canonical += path + "\n\n";  // no query string in any call the fakes accept
  for (const auto& n : names) {
    std::string joined;
    bool found = false;
    for (const auto& [k, v] : req.headers) {
      if (lowerCase(k) != n) continue;
      joined += (found ? "," : "") + squash(v);
      found = true;
    }
    if (!found) return "signed header " + n + " missing";
    canonical += n + ":" + joined + "\n";
  }
  canonical += "\n" + signedHeaders + "\n" + sha256(req.body);
  std::string sts = "AWS4-HMAC-SHA256\n" + date + "\n" + scope[1] + "/" + region + "/" + service + "/aws4_request\n" +
                    sha256(canonical);
  std::string k = hmacRaw("AWS4" + key->secret, scope[1]);
  k = hmacRaw(k, region);
  k = hmacRaw(k, service);
  k = hmacRaw(k, "aws4_request");
  std::string mac = hmacRaw(k, sts);
  if (hex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size()) != signature) {
    type = "InvalidSignatureException";
    return "signature mismatch";
  }
  return "";
}

// UTF-8 byte length of a JSON-decoded string (nlohmann gives UTF-8).
size_t utf8Bytes(const std::string& s) { return s.size(); }

std::map<std::string, std::string> formDecode(const std::string& body) {
  std::map<std::string, std::string> out;
  std::stringstream ss(body);
  for (std::string kv; std::getline(ss, kv, '&');) {
    auto eq = kv.find('=');
    std::string k = kv.substr(0, eq), v = eq == std::string::npos ? "" : kv.substr(eq + 1), d;
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '%' && i + 2 < v.size()) {
        d.push_back(static_cast<char>(std::stoi(v.substr(i + 1, 2), nullptr, 16)));
        i += 2;
      } else {
        d.push_back(v[i] == '+' ? ' ' : v[i]);
      }
    }
    out[k] = d;
  }
  return out;
}

}  // namespace

std::string isoTime(SysClock::time_point t) {
  std::time_t s = SysClock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void FakeKeyring::add(const std::string& id, Key key) {
  std::lock_guard<std::mutex> lock(mu_);
  keys_[id] = std::move(key);
}
std::optional<FakeKeyring::Key> FakeKeyring::find(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(id);
  if (it == keys_.end()) return std::nullopt;
  return it->second;
}
size_t FakeKeyring::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return keys_.size();
}

// ---------------------------------------------------------------------------------------------

FakeCloudWatch::FakeCloudWatch(std::shared_ptr<FakeKeyring> keys, FakeCloudWatchOptions options)
    : keys_(std::move(keys)), options_(std::move(options)), server_([this](const HttpRequestIn& r) { return handle(r); }) {}

FakeCloudWatch::~FakeCloudWatch() { stop(); }
void FakeCloudWatch::start() {
  if (options_.pki) server_.enableTls(*options_.pki);
  server_.start();
}
void FakeCloudWatch::stop() { server_.stop(); }

HttpReply FakeCloudWatch::answer(int status, const std::string& type, const std::string& message,
                                 const std::string& body) {
  HttpReply r;
  r.status = status;
  r.headers.push_back({"Content-Type", "application/x-amz-json-1.1"});
  {
    std::lock_guard<std::mutex> lock(mu_);
    r.headers.push_back({"x-amzn-RequestId", "fake-" + std::to_string(++requestIds_)});
    answers_[type]++;
  }
  if (!type.empty()) {
    r.body = json{{"__type", "com.amazonaws.logs#" + type}, {"message", message}}.dump();
  } else {
    r.body = body.empty() ? "{}" : body;
  }
  cv_.notify_all();
  return r;
}

HttpReply FakeCloudWatch::handle(const HttpRequestIn& req) {
  auto violation = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    violations_.push_back(what);
  };
  std::string target = req.header("X-Amz-Target");
  std::string op = target.rfind("Logs_20140328.", 0) == 0 ? target.substr(14) : "";
  {
    std::lock_guard<std::mutex> lock(mu_);
    ops_[op]++;
  }
  if (req.method != "POST" || req.target != "/") {
    violation("request line " + req.method + " " + req.target);
    return answer(404, "UnknownOperationException", "POST / only");
  }
  if (req.header("Content-Type") != "application/x-amz-json-1.1") {
    violation("Content-Type " + req.header("Content-Type"));
    return answer(400, "SerializationException", "Content-Type must be application/x-amz-json-1.1");
  }
  if (op.empty()) {
    violation("X-Amz-Target " + target);
    return answer(400, "UnknownOperationException", "missing X-Amz-Target");
  }
  std::string errType, keyId;
  int status = 0;
  std::string err = verifySigV4(req, *keys_, options_.region, "logs", errType, status, keyId);
  if (!err.empty()) {
    if (errType != "ExpiredTokenException") violation("signature: " + err);
    return answer(status, errType, err);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    signingKeys_.push_back(keyId);
  }
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    violation("body is not a JSON object");
    return answer(400, "SerializationException", "body is not JSON");
  }
  std::string group = body.value("logGroupName", "");
  std::string stream = body.value("logStreamName", "");
  if (group.empty() || group.size() > 512) {
    violation(op + ": bad logGroupName");
    return answer(400, "InvalidParameterException", "logGroupName");
  }
  if (op == "CreateLogGroup") {
    std::unique_lock<std::mutex> lock(mu_);
    if (groups_.count(group)) {
      lock.unlock();
      return answer(400, "ResourceAlreadyExistsException", "The specified log group already exists");
    }
    groups_[group] = std::nullopt;
  } else if (op == "PutRetentionPolicy") {
    std::unique_lock<std::mutex> lock(mu_);
    if (!groups_.count(group)) {
      lock.unlock();
      return answer(400, "ResourceNotFoundException", "The specified log group does not exist.");
    }
    groups_[group] = body.value("retentionInDays", 0);
  } else if (op == "CreateLogStream") {
    if (stream.empty() || stream.size() > 512 || stream.find(':') != std::string::npos) {
      violation("CreateLogStream: bad logStreamName");
      return answer(400, "InvalidParameterException", "logStreamName");
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (!groups_.count(group)) {
      lock.unlock();
      return answer(400, "ResourceNotFoundException", "The specified log group does not exist.");
    }
    if (live_.count(group + "/" + stream)) {
      lock.unlock();
      return answer(400, "ResourceAlreadyExistsException", "The specified log stream already exists");
    }
    live_.insert(group + "/" + stream);
    streams_[group + "/" + stream];
  } else if (op == "PutLogEvents") {
    std::map<std::string, std::string> headers;
    for (const auto& [k, v] : req.headers) headers[lowerCase(k)] = v;
    {
      std::lock_guard<std::mutex> lock(mu_);
      putHeaders_.push_back(std::move(headers));
    }
    return putLogEvents(body);
  } else {
    // DescribeLogStreams and friends: allowed by AWS, but never wanted on the hot path.
    violation("unexpected operation " + op);
    return answer(400, "InvalidParameterException", "operation not supported by the fake");
  }
  return answer(200, "", "");
}

HttpReply FakeCloudWatch::putLogEvents(const json& body) {
  std::string group = body.value("logGroupName", "");
  std::string stream = body.value("logStreamName", "");
  auto violation = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    violations_.push_back("PutLogEvents: " + what);
  };
  std::optional<CloudWatchFault> fault;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failNext_.empty()) {
      fault = failNext_.front();
      failNext_.erase(failNext_.begin());
    } else if (failP_ > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < failP_) {
      fault = CloudWatchFault{failKind_};
    }
    if (fault && fault->kind == CloudWatchFault::Kind::DropStream) live_.erase(group + "/" + stream);
  }
  if (fault) {
    switch (fault->kind) {
      case CloudWatchFault::Kind::Throttle:
        return answer(400, "ThrottlingException", "Rate exceeded");
      case CloudWatchFault::Kind::ServerError:
        return answer(500, "ServiceUnavailableException", "The service is unavailable");
      case CloudWatchFault::Kind::Reset: {
        std::lock_guard<std::mutex> lock(mu_);
        answers_["<reset>"]++;
        return HttpReply::reset();
      }
      case CloudWatchFault::Kind::DropStream:
        break;  // answered below as a missing stream
    }
  }
  if (!body.contains("logEvents") || !body["logEvents"].is_array()) {
    violation("no logEvents array");
    return answer(400, "InvalidParameterException", "logEvents");
  }
  const auto& evs = body["logEvents"];
  if (evs.empty() || evs.size() > 10000) {
    violation("logEvents count " + std::to_string(evs.size()));
    return answer(400, "InvalidParameterException", "logEvents must hold 1 to 10000 events");
  }
  size_t bytes = 0;
  int64_t prev = INT64_MIN, first = 0, last = 0;
  std::vector<CloudWatchEvent> parsed;
  for (const auto& e : evs) {
    if (!e.is_object() || !e.contains("timestamp") || !e["timestamp"].is_number_integer() || !e.contains("message") ||
        !e["message"].is_string()) {
      violation("malformed event");
      return answer(400, "InvalidParameterException", "malformed log event");
    }
    CloudWatchEvent ce{e["timestamp"].get<int64_t>(), e["message"].get<std::string>()};
    if (ce.message.empty()) {
      violation("empty message");
      return answer(400, "InvalidParameterException", "message must not be empty");
    }
    size_t size = utf8Bytes(ce.message) + 26;
    if (size > options_.maxEventBytes) {
      violation("event of " + std::to_string(size) + " bytes");
      return answer(400, "InvalidParameterException", "Log event too large");
    }
    if (ce.timestamp < prev) {
      violation("events not in chronological order");
      return answer(400, "InvalidParameterException",
                    "Log events in a single PutLogEvents request must be in chronological order.");
    }
    if (parsed.empty()) first = ce.timestamp;
    prev = last = ce.timestamp;
    bytes += size;
    parsed.push_back(std::move(ce));
  }
  if (bytes > 1'048'576) {
    violation("batch of " + std::to_string(bytes) + " bytes");
    return answer(400, "InvalidParameterException", "Upload too large: " + std::to_string(bytes) + " bytes exceeds limit of 1048576");
  }
  if (last - first > 24LL * 3600 * 1000) {
    violation("batch spans more than 24 hours");
    return answer(400, "InvalidParameterException", "A batch of log events in a single request cannot span more than 24 hours.");
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (!groups_.count(group)) {
    lock.unlock();
    return answer(400, "ResourceNotFoundException", "The specified log group does not exist.");
  }
  if (!live_.count(group + "/" + stream)) {
    lock.unlock();
    return answer(400, "ResourceNotFoundException", "The specified log stream does not exist.");
  }
  auto it = streams_.find(group + "/" + stream);
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(SysClock::now().time_since_epoch()).count();
  int64_t oldLimit = now - 14LL * 24 * 3600 * 1000, newLimit = now + 2LL * 3600 * 1000;
  size_t oldEnd = 0, newStart = parsed.size();
  while (oldEnd < parsed.size() && parsed[oldEnd].timestamp < oldLimit) ++oldEnd;
  while (newStart > oldEnd && parsed[newStart - 1].timestamp > newLimit) --newStart;
  for (size_t i = oldEnd; i < newStart; ++i) it->second.push_back(std::move(parsed[i]));
  eventTotal_ += newStart - oldEnd;
  lock.unlock();
  json out = json::object();
  if (oldEnd > 0 || newStart < parsed.size()) {
    json info = json::object();
    if (oldEnd > 0) info["tooOldLogEventEndIndex"] = oldEnd;
    if (newStart < parsed.size()) info["tooNewLogEventStartIndex"] = newStart;
    out["rejectedLogEventsInfo"] = info;
  }
  out["nextSequenceToken"] = "0";
  return answer(200, "", "", out.dump());
}

void FakeCloudWatch::createGroup(const std::string& group) {
  std::lock_guard<std::mutex> lock(mu_);
  groups_[group];
}
void FakeCloudWatch::createStream(const std::string& group, const std::string& stream) {
  std::lock_guard<std::mutex> lock(mu_);
  groups_[group];
  live_.insert(group + "/" + stream);
  streams_[group + "/" + stream];
}
void FakeCloudWatch::deleteStream(const std::string& group, const std::string& stream) {
  std::lock_guard<std::mutex> lock(mu_);
  live_.erase(group + "/" + stream);
}
bool FakeCloudWatch::hasGroup(const std::string& group) const {
  std::lock_guard<std::mutex> lock(mu_);
  return groups_.count(group) > 0;
}
std::optional<int> FakeCloudWatch::retention(const std::string& group) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = groups_.find(group);
  return it == groups_.end() ? std::nullopt : it->second;
}
std::vector<CloudWatchEvent> FakeCloudWatch::events(const std::string& group, const std::string& stream) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(group + "/" + stream);
  return it == streams_.end() ? std::vector<CloudWatchEvent>{} : it->second;
}
std::map<std::string, std::vector<CloudWatchEvent>> FakeCloudWatch::allEvents() const {
  std::lock_guard<std::mutex> lock(mu_);
  return streams_;
}
size_t FakeCloudWatch::eventCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return eventTotal_;
}
void FakeCloudWatch::failNext(size_t count, CloudWatchFault fault) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < count; ++i) failNext_.push_back(fault);
}
void FakeCloudWatch::failFraction(double p, CloudWatchFault::Kind kind, uint64_t seed) {
  std::lock_guard<std::mutex> lock(mu_);
  failP_ = p;
  failKind_ = kind;
  rng_.seed(seed);
}
size_t FakeCloudWatch::opCount(const std::string& op) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = ops_.find(op);
  return it == ops_.end() ? 0 : it->second;
}
size_t FakeCloudWatch::answered(const std::string& type) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = answers_.find(type);
  return it == answers_.end() ? 0 : it->second;
}
std::vector<std::string> FakeCloudWatch::violations() const {
  std::lock_guard<std::mutex> lock(mu_);
  return violations_;
}
std::vector<std::string> FakeCloudWatch::signingKeys() const {
  std::lock_guard<std::mutex> lock(mu_);
  return signingKeys_;
}
std::vector<std::map<std::string, std::string>> FakeCloudWatch::putHeaders() const {
  std::lock_guard<std::mutex> lock(mu_);
  return putHeaders_;
}
bool FakeCloudWatch::waitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    lock.unlock();
    bool ok = cond();
    lock.lock();
    if (ok) return true;
    if (cv_.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(50))) ==
            std::cv_status::timeout &&
        std::chrono::steady_clock::now() >= deadline)
      return cond();
  }
}
bool FakeCloudWatch::waitForEvents(size_t n, std::chrono::milliseconds timeout) const {
  return waitFor([&] { return eventCount() >= n; }, timeout);
}

// ---------------------------------------------------------------------------------------------

FakeCredentialEndpoint::FakeCredentialEndpoint(std::shared_ptr<FakeKeyring> keys, FakeCredentialOptions options)
    : keys_(std::move(keys)), options_(std::move(options)), server_([this](const HttpRequestIn& r) { return handle(r); }) {}

json FakeCredentialEndpoint::issue(const std::string& prefix) {
  size_t n;
  {
    std::lock_guard<std::mutex> lock(mu_);
    n = ++issued_;
  }
  std::string id = "ASIA" + prefix + std::to_string(n);
  FakeKeyring::Key k{"secret-" + prefix + "-" + std::to_string(n), "token-" + prefix + "-" + std::to_string(n),
                     SysClock::now() + options_.lifetime};
  keys_->add(id, k);
  return json{{"AccessKeyId", id}, {"SecretAccessKey", k.secret}, {"Token", k.token},
              {"Expiration", isoTime(k.expiration)}, {"Code", "Success"}};
}

size_t FakeCredentialEndpoint::issued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return issued_;
}
size_t FakeCredentialEndpoint::count(const std::string& what) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counts_.find(what);
  return it == counts_.end() ? 0 : it->second;
}
void FakeCredentialEndpoint::failNext(size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  failNext_ += n;
}

HttpReply FakeCredentialEndpoint::handle(const HttpRequestIn& req) {
  auto bump = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    counts_[what]++;
  };
  auto failing = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    if (failNext_ == 0) return false;
    --failNext_;
    return true;
  };
  HttpReply notFound;
  notFound.status = 404;
  // ECS container credentials.
  if (req.method == "GET" && req.target == options_.ecsPath) {
    if (!options_.ecsAuthorization.empty() && req.header("Authorization") != options_.ecsAuthorization) {
      bump("denied");
      HttpReply r;
      r.status = 403;
      return r;
    }
    bump("ecs");
    if (failing()) return HttpReply::json(500, "{}");
    auto j = issue("ECS");
    j.erase("Code");
    j["RoleArn"] = options_.stsRoleArn;
    return HttpReply::json(200, j.dump());
  }
  // IMDSv2.
  const std::string credsPath = "/latest/meta-data/iam/security-credentials/";
  if (req.method == "PUT" && req.target == "/latest/api/token") {
    if (req.header("X-aws-ec2-metadata-token-ttl-seconds").empty()) {
      HttpReply r;
      r.status = 400;
      return r;
    }
    bump("imds-token");
    std::string token;
    {
      std::lock_guard<std::mutex> lock(mu_);
      token = "imds-token-" + std::to_string(imdsTokens_.size() + 1);
      imdsTokens_.insert(token);
    }
    HttpReply r;
    r.body = token;
    return r;
  }
  if (req.method == "GET" && req.target.rfind(credsPath, 0) == 0) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!imdsTokens_.count(req.header("X-aws-ec2-metadata-token"))) {
        counts_["denied"]++;
        HttpReply r;
        r.status = 401;
        return r;
      }
    }
    std::string role = req.target.substr(credsPath.size());
    if (role.empty()) {
      bump("imds-role");
      HttpReply r;
      r.body = options_.imdsRole;
      return r;
    }
    if (role != options_.imdsRole) return notFound;
    bump("imds-creds");
    if (failing()) return HttpReply::json(500, "{}");
    auto j = issue("IMDS");
    j["Type"] = "AWS-HMAC";
    return HttpReply::json(200, j.dump());
  }
  // STS (query API, form body, XML answers).
  if (req.method == "POST" && req.target == "/") {
    auto form = formDecode(req.body);
    std::string action = form["Action"];
    bump("sts:" + action);
    auto xmlError = [&](int status, const std::string& code, const std::string& msg) {
      HttpReply r;
      r.status = status;
      r.headers.push_back({"Content-Type", "text/xml"});
      r.body = "<ErrorResponse><Error><Type>Sender</Type><Code>" + code + "</Code><Message>" + msg +
               "</Message></Error></ErrorResponse>";
      return r;
    };
    if (form["Version"] != "2011-06-15") return xmlError(400, "InvalidAction", "bad Version");
    if (form["RoleArn"] != options_.stsRoleArn) return xmlError(403, "AccessDenied", "unknown role");
    if (form["RoleSessionName"].empty()) return xmlError(400, "ValidationError", "RoleSessionName missing");
    if (action == "AssumeRoleWithWebIdentity") {
      if (form["WebIdentityToken"] != options_.webIdentityToken || options_.webIdentityToken.empty())
        return xmlError(400, "InvalidIdentityToken", "bad token");
    } else if (action == "AssumeRole") {
      std::string type, keyId;
      int status = 0;
      std::string err = verifySigV4(req, *keys_, options_.region, "sts", type, status, keyId);
      if (!err.empty()) return xmlError(403, type, err);
      bump("sts-external-id:" + form["ExternalId"]);
    } else {
      return xmlError(400, "InvalidAction", "unknown action");
    }
    auto j = issue("STS");
    HttpReply r;
    r.headers.push_back({"Content-Type", "text/xml"});
    r.body = "<" + action + "Response><" + action + "Result><Credentials><AccessKeyId>" +
             j["AccessKeyId"].get<std::string>() + "</AccessKeyId><SecretAccessKey>" +
             j["SecretAccessKey"].get<std::string>() + "</SecretAccessKey><SessionToken>" +
             j["Token"].get<std::string>() + "</SessionToken><Expiration>" + j["Expiration"].get<std::string>() +
             "</Expiration></Credentials></" + action + "Result></" + action + "Response>";
    return r;
  }
  return notFound;
}

}  // namespace firelane::testsupport
