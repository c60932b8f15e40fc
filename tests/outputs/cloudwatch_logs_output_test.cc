// The cloudwatch_logs output's config validation and its classification of CloudWatch answers.
#include <catch2/catch.hpp>

#include "core/app/builtin_plugins.h"
#include "core/config/classic_parser.h"
#include "core/config/pipeline.h"
#include "outputs/cloudwatch_logs/cloudwatch_logs.h"

using namespace firelane;
using namespace firelane::outputs::cloudwatch_logs;

namespace {
Result<PipelineConfig> build(const std::string& outputLines) {
  Registry r;
  registerBuiltinPlugins(r);
  auto doc = config::parseString(
      "[INPUT]\n    Name dummy\n[OUTPUT]\n    Name cloudwatch_logs\n    Match *\n" + outputLines, "cw.conf", "/tmp");
  if (!doc) return doc.status();
  return buildPipeline(*doc, r);
}

http::Response resp(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}
}  // namespace

TEST_CASE("cloudwatch_logs: config accepts Fluent Bit's options and names errors", "[cloudwatch]") {
  CHECK(build("    region us-east-1\n    log_group_name g\n    log_stream_prefix p-\n    auto_create_group true\n"
              "    log_retention_days 7\n    log_group_class INFREQUENT_ACCESS\n    log_format json/emf\n"
              "    endpoint logs.example.com\n    port 8443\n    tls.verify off\n    workers 4\n")
            .ok());
  CHECK(build("    region us-east-1\n    log_group_template /ecs/$(ecs_cluster)\n    log_stream_template $(ecs_task_id)\n"
              "    log_key log\n    endpoint http://127.0.0.1:4566\n")
            .ok());
  auto noRegion = build("    log_group_name g\n    log_stream_name s\n");
  REQUIRE_FALSE(noRegion.ok());
  CHECK(noRegion.message().find("missing required key 'region'") != std::string::npos);
  auto noGroup = build("    region us-east-1\n    log_stream_name s\n");
  REQUIRE_FALSE(noGroup.ok());
  CHECK(noGroup.message() ==
        "[OUTPUT] cloudwatch_logs: missing required key 'log_group_name' (or log_group_template) in [OUTPUT] "
        "cloudwatch_logs");
  auto noStream = build("    region us-east-1\n    log_group_name g\n");
  REQUIRE_FALSE(noStream.ok());
  auto both = build("    region us-east-1\n    log_group_name g\n    log_stream_name s\n    log_stream_prefix p\n");
  REQUIRE_FALSE(both.ok());
  CHECK(both.message().find("cw.conf:9: log_stream_name and log_stream_prefix exclude each other") == 0);
  auto retention = build("    region us-east-1\n    log_group_name g\n    log_stream_name s\n    log_retention_days 2\n");
  REQUIRE_FALSE(retention.ok());
  CHECK(retention.message().find("cw.conf:9: invalid value for 'log_retention_days'") == 0);
  auto size = build("    region us-east-1\n    log_group_name g\n    log_stream_name s\n    max_event_size 2M\n");
  REQUIRE_FALSE(size.ok());
  auto tmpl = build("    region us-east-1\n    log_group_template $(oops\n    log_stream_name s\n");
  REQUIRE_FALSE(tmpl.ok());
  CHECK(tmpl.message().find("cw.conf:7: invalid value for 'log_group_template'") == 0);
  auto ext = build("    region us-east-1\n    log_group_name g\n    log_stream_name s\n    external_id x\n");
  REQUIRE_FALSE(ext.ok());
  auto typo = build("    region us-east-1\n    log_group_name g\n    log_stream_name s\n    log_grup_class x\n");
  REQUIRE_FALSE(typo.ok());
  CHECK(typo.message().find("did you mean 'log_group_class'") != std::string::npos);
}

TEST_CASE("cloudwatch_logs: endpoint forms select TLS or plain HTTP", "[cloudwatch]") {
  CHECK(build("    region us-east-1\n    log_group_name g\n    log_stream_name s\n    endpoint 127.0.0.1\n"
              "    port 4443\n    tls.verify off\n")
            .ok());
  CHECK(build("    region us-east-1\n    log_group_name g\n    log_stream_name s\n    endpoint 127.0.0.1\n"
              "    port 4566\n    tls off\n")
            .ok());
  auto badUrl = build("    region us-east-1\n    log_group_name g\n    log_stream_name s\n    endpoint ftp://x\n");
  REQUIRE_FALSE(badUrl.ok());
  CHECK(badUrl.message().find("cw.conf:9: invalid value for 'endpoint'") == 0);
  auto badCa = build("    region us-east-1\n    log_group_name g\n    log_stream_name s\n    tls.ca_file /nonexistent.pem\n");
  REQUIRE_FALSE(badCa.ok());
}

TEST_CASE("cloudwatch_logs: default endpoints follow the region", "[cloudwatch]") {
  CHECK(defaultEndpoint("eu-west-1") == "logs.eu-west-1.amazonaws.com");
  CHECK(defaultEndpoint("cn-north-1") == "logs.cn-north-1.amazonaws.com.cn");
}

TEST_CASE("cloudwatch_logs: answers are classified as AWS documents them", "[cloudwatch]") {
  auto err = [](int status, const std::string& type) {
    return classify(parseAnswer(resp(status, "{\"__type\":\"com.amazonaws.logs#" + type + "\",\"message\":\"m\"}"), 1));
  };
  CHECK(classify(parseAnswer(resp(200, "{}"), 1)) == Verdict::Ok);
  CHECK(err(400, "ThrottlingException") == Verdict::Retry);
  CHECK(err(500, "ServiceUnavailableException") == Verdict::Retry);
  CHECK(classify(parseAnswer(resp(0, ""), 1)) == Verdict::Retry);
  CHECK(classify(parseAnswer(resp(502, "<html>"), 1)) == Verdict::Retry);
  CHECK(err(400, "ResourceNotFoundException") == Verdict::MissingResource);
  CHECK(err(400, "ResourceAlreadyExistsException") == Verdict::AlreadyExists);
  CHECK(err(400, "InvalidParameterException") == Verdict::Reject);
  CHECK(err(400, "UnrecognizedClientException") == Verdict::Credentials);
  CHECK(err(403, "InvalidSignatureException") == Verdict::Credentials);
  CHECK(err(400, "ExpiredTokenException") == Verdict::Credentials);
  auto a = parseAnswer(resp(400, "{\"__type\":\"InvalidParameterException\",\"message\":\"Log event too large\"}"), 1);
  CHECK(a.type == "InvalidParameterException");
  CHECK(a.message == "Log event too large");
}

TEST_CASE("cloudwatch_logs: rejectedLogEventsInfo is counted by reason", "[cloudwatch]") {
  auto a = parseAnswer(
      resp(200, "{\"rejectedLogEventsInfo\":{\"tooOldLogEventEndIndex\":3,\"expiredLogEventEndIndex\":1,"
                "\"tooNewLogEventStartIndex\":8},\"nextSequenceToken\":\"x\"}"),
      10);
  CHECK(a.expired == 1);
  CHECK(a.tooOld == 2);
  CHECK(a.tooNew == 2);
  CHECK(classify(a) == Verdict::Ok);
  auto none = parseAnswer(resp(200, "{}"), 10);
  CHECK(none.tooNew + none.tooOld + none.expired == 0);
}
