// The load tool's fake CloudWatch Logs and ECS task-metadata endpoints (see load_sinks.h).
#include "load_sinks.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <climits>
#include <regex>

namespace firelane::bench {
namespace {

using json = nlohmann::json;
using testsupport::HttpReply;
using testsupport::HttpRequestIn;

constexpr const char* kTargetPrefix = "Logs_20140328.";
constexpr size_t kMaxBatchBytes = 1'048'576;  // sum of (UTF-8 message bytes + 26)
constexpr size_t kMaxEvents = 10'000;
constexpr size_t kKeptViolations = 5;

bool allDigits(const std::string& s, size_t from, size_t n) {
  if (s.size() < from + n) return false;
  for (size_t i = from; i < from + n; ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

}  // namespace

BenchCloudWatch::BenchCloudWatch(std::string region, std::string accessKeyId, LatencyRecorder* latency,
                                 std::string enrichedMarker)
    : region_(std::move(region)),
      accessKeyId_(std::move(accessKeyId)),
      latency_(latency),
      enrichedMarker_(std::move(enrichedMarker)),
      server_([this](const HttpRequestIn& req) { return handle(req); }) {}

CloudWatchSinkStats BenchCloudWatch::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool BenchCloudWatch::waitForEvents(uint64_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return stats_.events >= n; });
}

HttpReply BenchCloudWatch::fail(int status, const std::string& type, const std::string& message, bool violation) {
  {
    std::lock_guard lock(mu_);
    if (violation) {
      ++stats_.violations;
      if (stats_.firstViolations.size() < kKeptViolations) stats_.firstViolations.push_back(type + ": " + message);
    }
  }
  cv_.notify_all();
  HttpReply r = HttpReply::json(status, json{{"__type", type}, {"message", message}}.dump());
  r.headers.push_back({"x-amzn-RequestId", "bench-error"});
  r.headers.push_back({"x-amzn-ErrorType", type});
  r.headers[0].second = "application/x-amz-json-1.1";
  return r;
}

// The shape of a SigV4 Authorization header and X-Amz-Date (the signature itself is not verified).
std::string BenchCloudWatch::checkAuthorization(const HttpRequestIn& req) const {
  const std::string date = req.header("X-Amz-Date");
  if (date.size() != 16 || !allDigits(date, 0, 8) || date[8] != 'T' || !allDigits(date, 9, 6) || date[15] != 'Z')
    return "X-Amz-Date '" + date + "'";
  if (!req.hasHeader("Host")) return "no Host header";
  static const std::regex auth(
      R"(AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([a-z0-9-]+)/logs/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=[0-9a-f]{64})");
  std::smatch m;
  const std::string value = req.header("Authorization");
  if (!std::regex_match(value, m, auth)) return "Authorization is not a SigV4 header";
  if (m[1] != accessKeyId_) return "unknown access key id";
  if (m[2] != date.substr(0, 8)) return "credential date differs from X-Amz-Date";
  if (m[3] != region_) return "credential region '" + m[3].str() + "'";
  const std::string signedHeaders = ";" + m[4].str() + ";";
  for (const char* h : {";host;", ";x-amz-date;", ";content-type;", ";x-amz-target;"})
    if (signedHeaders.find(h) == std::string::npos) return std::string("SignedHeaders lacks ") + h;
  return "";
}

HttpReply BenchCloudWatch::handle(const HttpRequestIn& req) {
  if (req.method != "POST" || req.target != "/") return fail(404, "UnknownOperationException", "POST / only", true);
  if (req.header("Content-Type") != "application/x-amz-json-1.1")
    return fail(400, "SerializationException", "Content-Type " + req.header("Content-Type"), true);
  const std::string target = req.header("X-Amz-Target");
  if (target.rfind(kTargetPrefix, 0) != 0) return fail(400, "UnknownOperationException", "X-Amz-Target " + target, true);
  const std::string op = target.substr(std::string_view(kTargetPrefix).size());
  if (std::string why = checkAuthorization(req); !why.empty())
    return fail(403, "IncompleteSignatureException", why, true);
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return fail(400, "SerializationException", op + ": body is not JSON", true);
  const std::string group = body.value("logGroupName", "");
  const std::string stream = body.value("logStreamName", "");
  if (group.empty() || group.size() > 512) return fail(400, "InvalidParameterException", op + ": logGroupName", true);

  if (op == "CreateLogGroup" || op == "CreateLogStream" || op == "PutRetentionPolicy") {
    if (op == "CreateLogStream" && (stream.empty() || stream.size() > 512 || stream.find(':') != std::string::npos))
      return fail(400, "InvalidParameterException", "CreateLogStream: logStreamName", true);
    const char* refused = nullptr;
    {
      std::lock_guard lock(mu_);
      ++stats_.otherRequests;
      if (op == "CreateLogGroup" && !groups_.insert(group).second) refused = "ResourceAlreadyExistsException";
      if (op != "CreateLogGroup" && !groups_.count(group)) refused = "ResourceNotFoundException";
      if (op == "CreateLogStream" && !refused && !streams_.insert(group + "/" + stream).second)
        refused = "ResourceAlreadyExistsException";
    }
    if (refused) return fail(400, refused, op + ": " + group + "/" + stream, false);
    HttpReply r = HttpReply::json(200, "{}");
    r.headers[0].second = "application/x-amz-json-1.1";
    return r;
  }
  if (op != "PutLogEvents") return fail(400, "UnknownOperationException", op, true);

  bool missing = false;
  {
    std::lock_guard lock(mu_);
    missing = !streams_.count(group + "/" + stream);
  }
  if (missing) return fail(400, "ResourceNotFoundException", "The specified log stream does not exist.", false);
  const auto it = body.find("logEvents");
  if (it == body.end() || !it->is_array()) return fail(400, "InvalidParameterException", "no logEvents array", true);
  const auto& evs = *it;
  if (evs.empty() || evs.size() > kMaxEvents)
    return fail(400, "InvalidParameterException", "logEvents count " + std::to_string(evs.size()), true);
  size_t bytes = 0;
  int64_t prev = INT64_MIN, first = 0;
  for (const auto& e : evs) {
    const auto ts = e.find("timestamp");
    const auto msg = e.find("message");
    if (!e.is_object() || ts == e.end() || !ts->is_number_integer() || msg == e.end() || !msg->is_string() ||
        msg->get_ref<const std::string&>().empty())
      return fail(400, "InvalidParameterException", "malformed log event", true);
    const int64_t t = ts->get<int64_t>();
    if (t < prev) return fail(400, "InvalidParameterException", "events not in chronological order", true);
    if (prev == INT64_MIN) first = t;
    prev = t;
    bytes += msg->get_ref<const std::string&>().size() + 26;
  }
  if (bytes > kMaxBatchBytes)
    return fail(400, "InvalidParameterException", "batch of " + std::to_string(bytes) + " bytes", true);
  if (prev - first > 24LL * 3600 * 1000)
    return fail(400, "InvalidParameterException", "batch spans more than 24 hours", true);
  // Just before the 200: the send stamps in the messages give receive-to-2xx latency.
  if (latency_) latency_->scan(req.body);
  const uint64_t enriched = enrichedMarker_.empty() ? 0 : countOccurrences(req.body, enrichedMarker_);
  uint64_t id = 0;
  {
    std::lock_guard lock(mu_);
    ++stats_.putRequests;
    stats_.events += evs.size();
    stats_.bodyBytes += req.body.size();
    stats_.enriched += enriched;
    id = ++requestIds_;
  }
  cv_.notify_all();
  HttpReply r = HttpReply::json(200, R"({"nextSequenceToken":"49)" + std::to_string(id) + R"("})");
  r.headers[0].second = "application/x-amz-json-1.1";
  r.headers.push_back({"x-amzn-RequestId", "bench-" + std::to_string(id)});
  return r;
}

BenchTaskMetadata::BenchTaskMetadata(std::string taskArn, std::string containerId)
    : containerId_(containerId),
      body_(json{{"Cluster", "arn:aws:ecs:us-east-1:111122223333:cluster/bench"},
                 {"TaskARN", taskArn},
                 {"Family", "bench-app"},
                 {"Revision", "7"},
                 {"AvailabilityZone", "us-east-1a"},
                 {"LaunchType", "EC2"},
                 {"Containers", json::array({{{"DockerId", containerId}, {"Name", "app"}, {"Image", "bench/app"}}})}}
                .dump()),
      // The agent's own answers (what Fluent Bit's filter_ecs parses: Cluster, ContainerInstanceArn and
      // Version; a task's Arn, Family, Version and Containers with DockerId, DockerName and Name).
      v1Cluster_(json{{"Cluster", "bench"},
                      {"ContainerInstanceArn",
                       "arn:aws:ecs:us-east-1:111122223333:container-instance/bench/0f1e2d3c4b5a69780f1e2d3c4b5a6978"},
                      {"Version", "Amazon ECS Agent - v1.80.0 (bench)"}}
                     .dump()),
      v1Task_(json{{"Arn", taskArn},
                   {"DesiredStatus", "RUNNING"},
                   {"KnownStatus", "RUNNING"},
                   {"Family", "bench-app"},
                   {"Version", "7"},
                   {"Containers", json::array({{{"DockerId", containerId},
                                                {"DockerName", "ecs-bench-app-7-app-0123456789abcdef"},
                                                {"Name", "app"}}})}}
                  .dump()),
      server_([this](const HttpRequestIn& req) { return handle(req); }) {}

HttpReply BenchTaskMetadata::handle(const HttpRequestIn& req) {
  const HttpReply notFound = HttpReply::json(404, R"({"error":"not found"})");
  if (req.method != "GET") return notFound;
  if (req.target == "/v1/metadata") return HttpReply::json(200, v1Cluster_);
  const bool v4 = req.target == "/v4/bench-container/task";
  const std::string_view v1Task = "/v1/tasks?dockerid=";
  if (!v4) {
    if (req.target.rfind(v1Task, 0) != 0) return notFound;
    // The agent matches a short id (12 characters) or the full one.
    const std::string id = req.target.substr(v1Task.size());
    if (id.size() < 12 || containerId_.rfind(id, 0) != 0) return notFound;
  }
  {
    std::lock_guard lock(mu_);
    ++taskRequests_;
  }
  return HttpReply::json(200, v4 ? body_ : v1Task_);
}

uint64_t BenchTaskMetadata::taskRequests() const {
  std::lock_guard lock(mu_);
  return taskRequests_;
}

}  // namespace firelane::bench
