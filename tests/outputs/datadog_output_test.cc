// The datadog output's config (site, TLS/port defaults, api key sources, secrets) and its status
// classification.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>

#include "core/app/builtin_plugins.h"
#include "core/config/classic_parser.h"
#include "core/config/pipeline.h"
#include "outputs/datadog/datadog.h"

using namespace firelane;
using namespace firelane::outputs::datadog;

namespace {
Result<PipelineConfig> build(const std::string& outputLines) {
  Registry r;
  registerBuiltinPlugins(r);
  auto doc = config::parseString("[INPUT]\n    Name dummy\n[OUTPUT]\n    Name datadog\n    Match *\n" + outputLines,
                                 "dd.conf", "/tmp");
  if (!doc) return doc.status();
  return buildPipeline(*doc, r);
}
}  // namespace

TEST_CASE("datadog: status codes map to ok / retry / reject / split", "[datadog]") {
  CHECK(classify(202, false) == Verdict::Ok);
  CHECK(classify(200, false) == Verdict::Ok);
  for (int s : {0, 408, 429, 500, 502, 503, 504}) CHECK(classify(s, false) == Verdict::Retry);
  for (int s : {400, 401, 404, 422}) CHECK(classify(s, false) == Verdict::Reject);
  CHECK(classify(403, false) == Verdict::Reject);
  CHECK(classify(403, true) == Verdict::Retry);
  CHECK(classify(413, false) == Verdict::Split);
}

TEST_CASE("datadog: site names map to the intake hosts", "[datadog]") {
  CHECK(intakeHostForSite("us1") == "http-intake.logs.datadoghq.com");
  CHECK(intakeHostForSite("US3") == "http-intake.logs.us3.datadoghq.com");
  CHECK(intakeHostForSite("us5") == "http-intake.logs.us5.datadoghq.com");
  CHECK(intakeHostForSite("eu1") == "http-intake.logs.datadoghq.eu");
  CHECK(intakeHostForSite("datadoghq.eu") == "http-intake.logs.datadoghq.eu");
  CHECK(intakeHostForSite("ap1") == "http-intake.logs.ap1.datadoghq.com");
  CHECK(intakeHostForSite("ap2") == "http-intake.logs.ap2.datadoghq.com");
  CHECK(intakeHostForSite("us1-fed") == "http-intake.logs.ddog-gov.com");
  CHECK(intakeHostForSite("mars1").empty());
}

TEST_CASE("datadog: config errors name the place and never print the key", "[datadog]") {
  auto missing = build("");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.message() == "[OUTPUT] datadog: missing required key 'apikey' (or apikey_file) in [OUTPUT] datadog");

  auto badSite = build("    apikey s3cr3tvalue\n    site mars1\n");
  REQUIRE_FALSE(badSite.ok());
  CHECK(badSite.message() ==
        "dd.conf:7: invalid value for 'site' in [OUTPUT] datadog: expected us1, us3, us5, eu1, ap1, ap2 or us1-fed");

  auto badKey = build("    apikey s3cr3tvalue\n    Hots x\n");
  REQUIRE_FALSE(badKey.ok());
  CHECK(badKey.message() == "dd.conf:7: unknown key 'Hots' in [OUTPUT] datadog (did you mean 'Host'?)");
  CHECK(badKey.message().find("s3cr3tvalue") == std::string::npos);

  auto badFile = build("    apikey_file /nonexistent/key\n");
  REQUIRE_FALSE(badFile.ok());
  CHECK(badFile.message() == "dd.conf:6: cannot read apikey_file '/nonexistent/key'");

  auto badProvider = build("    apikey k\n    provider k8s\n");
  REQUIRE_FALSE(badProvider.ok());
  CHECK(badProvider.message() == "dd.conf:7: invalid value for 'provider' in [OUTPUT] datadog: the only provider is 'ecs'");
}

TEST_CASE("datadog: site turns TLS on with port 443; plain Host keeps Fluent Bit's defaults", "[datadog]") {
  auto pc = build("    apikey k\n    site eu1\n");
  REQUIRE(pc.ok());
  pc = build("    apikey k\n    Host 127.0.0.1\n    Port 8080\n    tls off\n    compress none\n");
  REQUIRE(pc.ok());
  auto tlsBadCa = build("    apikey k\n    tls on\n    tls.ca_file /nonexistent/ca.pem\n");
  REQUIRE_FALSE(tlsBadCa.ok());
  CHECK(tlsBadCa.message().find("dd.conf:8: TLS: cannot load tls.ca_file '/nonexistent/ca.pem'") == 0);
}

TEST_CASE("datadog: apikey_file is read and trimmed", "[datadog]") {
  char path[] = "/tmp/firelane-ddkey-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  ::close(fd);
  {
    std::ofstream(path) << "abc123\n";
  }
  auto pc = build(std::string("    apikey_file ") + path + "\n");
  std::remove(path);
  REQUIRE(pc.ok());
}

TEST_CASE("datadog: compression level and transport options are validated", "[datadog]") {
  CHECK(build("    apikey k\n    compress gzip\n    compress_level 9\n").ok());
  CHECK(build("    apikey k\n    compress zstd\n    compress_level 19\n").ok());
  auto badLevel = build("    apikey k\n    compress gzip\n    compress_level 13\n");
  REQUIRE_FALSE(badLevel.ok());
  CHECK(badLevel.message() ==
        "dd.conf:8: invalid value for 'compress_level' in [OUTPUT] datadog: libdeflate gzip compression level 13 "
        "is out of range 1..12");
  auto badConns = build("    apikey k\n    max_connections 0\n");
  REQUIRE_FALSE(badConns.ok());
  CHECK(badConns.message() == "dd.conf:7: invalid value for 'max_connections' in [OUTPUT] datadog: expected 1-1024");
  auto badProxy = build("    apikey k\n    proxy https://proxy:3128\n");
  REQUIRE_FALSE(badProxy.ok());
  CHECK(badProxy.message() == "dd.conf:7: proxy 'https://proxy:3128': only http://host:port proxies are supported");
  auto badHttp2 = build("    apikey k\n    http2 maybe\n");
  REQUIRE_FALSE(badHttp2.ok());
  CHECK(badHttp2.message().find("dd.conf:7:") == 0);
  CHECK(badHttp2.message().find("http2") != std::string::npos);
  CHECK(build("    apikey k\n    http2 prior_knowledge\n    Retry_Limit no_retries\n").ok());
}
