// Typed options of the datadog output (Fluent Bit's names plus `site`, `apikey_file`, `http2`),
// its option table and registration.
#pragma once

#include <string>
#include <vector>

#include "core/codec/compressor.h"
#include "core/http/http_client.h"
#include "core/plugin/registry.h"
#include "outputs/datadog/datadog_encoder.h"

namespace firelane::outputs::datadog {

struct DatadogConfig {
  std::string instance;
  http::UpstreamOptions upstream;
  std::shared_ptr<net::TlsContext> tls;  // shared by every worker's pool
  std::string apiKey;                    // secret: never logged
  std::vector<http::Header> headers;     // user `header` entries
  codec::CompressorOptions compression;
  DatadogEncoderConfig encoder;
  bool retryOn403 = false;
  unsigned maxInFlight = 16;
};

// "us1" -> "http-intake.logs.datadoghq.com", ...; also accepts the site domain ("datadoghq.eu").
// Empty when unknown.
std::string intakeHostForSite(std::string_view site);

void registerPlugin(Registry& registry);

}  // namespace firelane::outputs::datadog
