// Typed options of the cloudwatch_logs output (Fluent Bit's names), its option table, registration.
#pragma once

#include <memory>
#include <string>

#include "core/aws/credentials.h"
#include "core/http/http_client.h"
#include "core/plugin/registry.h"
#include "outputs/cloudwatch_logs/cloudwatch_logs_encoder.h"

namespace firelane::outputs::cloudwatch_logs {

struct CloudWatchConfig {
  std::string instance;
  std::string region;
  http::UpstreamOptions upstream;
  std::shared_ptr<net::TlsContext> tls;
  CloudWatchEncoderConfig encoder;
  std::string logFormat;            // x-amzn-logs-format header (e.g. json/emf); empty = none
  bool autoCreateGroup = false;
  int64_t retentionDays = 0;        // 0 = leave the group's retention alone
  std::string logGroupClass;        // STANDARD / INFREQUENT_ACCESS; empty = the service default
  bool autoRetryRequests = true;    // retry a failed call once at once before the engine's backoff
  unsigned maxInFlight = 4;         // `workers`: most flushes in flight per firelane worker
  // Shared by every worker: started by the first output that starts.
  std::shared_ptr<aws::CredentialSource> credentials;
  double credentialWait = 10;       // seconds a flush waits for the first credentials
};

// logs.<region>.amazonaws.com (".com.cn" for China regions).
std::string defaultEndpoint(std::string_view region);

void registerPlugin(Registry& registry);

}  // namespace firelane::outputs::cloudwatch_logs
