// firelane_load's own fake AWS services: a CloudWatch Logs endpoint that accepts PutLogEvents (checks
// that every request is well formed as the real service would, but does not verify SigV4 signatures,
// and keeps counters only, so memory stays flat), and an ECS task-metadata endpoint for the ecs filter
// (task metadata v4 for firelane's, the ECS agent introspection API for Fluent Bit's).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "load_latency.h"
#include "support/http_test_server.h"

namespace firelane::bench {

struct CloudWatchSinkStats {
  uint64_t putRequests = 0;     // PutLogEvents answered 200
  uint64_t otherRequests = 0;   // CreateLogStream / CreateLogGroup / ...
  uint64_t events = 0;          // log events accepted
  uint64_t bodyBytes = 0;       // PutLogEvents bodies (JSON, uncompressed)
  uint64_t enriched = 0;        // occurrences of the enrichment marker in accepted bodies
  uint64_t violations = 0;      // requests a well-behaved client never sends
  std::vector<std::string> firstViolations;  // the first few, for the report
};

class BenchCloudWatch {
 public:
  // `latency` (may be null) scans every accepted PutLogEvents body for send stamps; `enrichedMarker`
  // (may be empty) is counted in accepted bodies.
  BenchCloudWatch(std::string region, std::string accessKeyId, LatencyRecorder* latency, std::string enrichedMarker);
  void start() { server_.start(); }
  void stop() { server_.stop(); }
  uint16_t port() const { return server_.port(); }
  std::string url() const { return server_.url(); }
  CloudWatchSinkStats stats() const;
  // True once at least `n` events were accepted, within `timeout`.
  bool waitForEvents(uint64_t n, std::chrono::milliseconds timeout) const;

 private:
  testsupport::HttpReply handle(const testsupport::HttpRequestIn& req);
  testsupport::HttpReply fail(int status, const std::string& type, const std::string& message, bool violation);
  std::string checkAuthorization(const testsupport::HttpRequestIn& req) const;

  std::string region_;
  std::string accessKeyId_;
  LatencyRecorder* latency_;
  std::string enrichedMarker_;
  testsupport::HttpTestServer server_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  CloudWatchSinkStats stats_;
  std::set<std::string> groups_;
  std::set<std::string> streams_;  // "group/stream"
  uint64_t requestIds_ = 0;
};

// ECS task metadata, one task with one container (the DockerId the load tool's records carry as
// container_id), in the two forms ECS serves it:
// - task metadata v4 (firelane's ecs filter, via ECS_CONTAINER_METADATA_URI_V4): GET <url()>/task;
// - the ECS agent introspection API v1 (Fluent Bit's ecs filter, `ecs_meta_host` / `ecs_meta_port`):
//   GET /v1/metadata (cluster) and GET /v1/tasks?dockerid=<the container's 12-char short id or more>.
// Anything else is 404.
class BenchTaskMetadata {
 public:
  BenchTaskMetadata(std::string taskArn, std::string containerId);
  void start() { server_.start(); }
  void stop() { server_.stop(); }
  uint16_t port() const { return server_.port(); }
  // What ECS_CONTAINER_METADATA_URI_V4 holds.
  std::string url() const { return server_.url() + "/v4/bench-container"; }
  // Task requests answered 200 (v4 /task and v1 /v1/tasks).
  uint64_t taskRequests() const;

 private:
  testsupport::HttpReply handle(const testsupport::HttpRequestIn& req);

  std::string containerId_;
  std::string body_;        // v4 task
  std::string v1Cluster_;   // v1 /v1/metadata
  std::string v1Task_;      // v1 /v1/tasks?dockerid=...
  testsupport::HttpTestServer server_;
  mutable std::mutex mu_;
  uint64_t taskRequests_ = 0;
};

}  // namespace firelane::bench
