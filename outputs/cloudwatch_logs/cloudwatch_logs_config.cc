// The cloudwatch_logs output's option table, validation and factory.
#include "outputs/cloudwatch_logs/cloudwatch_logs_config.h"

#include <algorithm>
#include <cstdlib>

#include "core/plugin/tls_warning.h"
#include "outputs/cloudwatch_logs/cloudwatch_logs.h"

namespace firelane::outputs::cloudwatch_logs {
namespace {

std::vector<OptionSpec> optionTable() {
  using T = OptionType;
  return {
      {"region", T::String, "", "AWS region", false, true},
      {"endpoint", T::String, "", "host name reached over TLS (default logs.<region>.amazonaws.com); "
                                  "http://host:port for plain HTTP"},
      {"port", T::Int, "0", "port (0: 443, or the endpoint URL's port)"},
      {"tls", T::Bool, "on", "TLS to the endpoint (off: plain HTTP, for local test endpoints)"},
      {"tls.verify", T::Bool, "on", "verify the server certificate"},
      {"tls.ca_file", T::String, "", "CA bundle (PEM) instead of the system store"},
      {"tls.crt_file", T::String, "", "client certificate (PEM)"},
      {"tls.key_file", T::String, "", "client key (PEM)"},
      {"tls.vhost", T::String, "", "host name for SNI and certificate verification"},
      {"log_group_name", T::String, "", "log group (also the fallback of log_group_template)"},
      {"log_group_template", T::String, "", "log group from record values: $key['sub'], $(ecs_cluster), $TAG"},
      {"log_stream_name", T::String, "", "log stream"},
      {"log_stream_prefix", T::String, "", "log stream = prefix + tag"},
      {"log_stream_template", T::String, "", "log stream from record values: $(ecs_task_id), $key"},
      {"log_key", T::String, "", "send only this key's value as the message (else the record as JSON)"},
      {"log_format", T::String, "", "x-amzn-logs-format header, e.g. json/emf"},
      {"role_arn", T::String, "", "IAM role to assume with STS"},
      {"external_id", T::String, "", "external ID for role_arn"},
      {"sts_endpoint", T::String, "", "STS endpoint (host or URL)"},
      {"profile", T::String, "", "profile of the shared credentials/config files"},
      {"auto_create_group", T::Bool, "off", "create missing log groups"},
      {"log_retention_days", T::Int, "0", "retention of groups this output creates (0: never expire)"},
      {"log_group_class", T::String, "", "class of created groups: STANDARD or INFREQUENT_ACCESS"},
      {"auto_retry_requests", T::Bool, "on", "retry a failed request once at once"},
      {"max_event_size", T::Size, "1048576", "longer events are truncated (262144 to 1048576)"},
      {"workers", T::Int, "4", "most PutLogEvents calls in flight per firelane worker (see concurrency)"},
      {"http2", T::Enum, "on", "on (ALPN h2,http/1.1) or off", false, false, false, {"on", "off", "true", "false"}},
      {"response_timeout", T::Seconds, "30", "seconds to wait for an answer"},
  };
}

Result<std::shared_ptr<OutputFactory>> makeFactory(const OptionValues& v, const PluginEnv& env) {
  CloudWatchConfig c;
  c.instance = env.instanceName;
  const std::string label = "[OUTPUT] cloudwatch_logs";
  auto bad = [&](std::string_view key, const std::string& why) {
    return Status::error(v.where(key) + ": invalid value for '" + std::string(key) + "' in " + label + ": " + why);
  };
  c.region = std::string(v.str("region"));
  http::UpstreamOptions& u = c.upstream;
  std::string endpoint(v.str("endpoint"));
  u.tls = true;
  u.port = 443;
  if (endpoint.empty()) {
    u.host = defaultEndpoint(c.region);
  } else if (endpoint.find("://") != std::string::npos) {
    auto url = aws::parseUrl(endpoint);
    if (!url) return bad("endpoint", url.message());
    u.host = url->host;
    u.tls = url->tls;
    u.port = url->port;
  } else {
    u.host = endpoint;
  }
  if (v.isSet("tls") && endpoint.find("://") == std::string::npos) {
    u.tls = v.boolean("tls");
    if (!u.tls) u.port = 80;
  }
  int64_t port = v.integer("port");
  if (port < 0 || port > 65535) return bad("port", "expected 0-65535");
  if (port) u.port = static_cast<uint16_t>(port);
  u.tlsOptions.verify = v.boolean("tls.verify");
  if (u.tls && !u.tlsOptions.verify) warnTlsVerifyOff(env, v.where("tls.verify"), label);
  u.tlsOptions.caFile = std::string(v.str("tls.ca_file"));
  u.tlsOptions.crtFile = std::string(v.str("tls.crt_file"));
  u.tlsOptions.keyFile = std::string(v.str("tls.key_file"));
  u.tlsOptions.vhost = std::string(v.str("tls.vhost"));
  std::string_view h2 = v.str("http2");
  u.http2 = (config::iequals(h2, "off") || config::iequals(h2, "false")) ? http::Http2Mode::Off : http::Http2Mode::Auto;
  u.responseTimeout = v.seconds("response_timeout");
  u.maxResponseBody = 64 * 1024;
  if (u.tls) {
    auto tls = http::Client::makeTlsContext(u);
    if (!tls) return Status::error(v.where("tls.ca_file") + ": " + tls.message());
    c.tls = *tls;
  }

  CloudWatchEncoderConfig& e = c.encoder;
  e.logGroupName = std::string(v.str("log_group_name"));
  if (v.isSet("log_group_template")) {
    auto t = NameTemplate::parse(v.str("log_group_template"));
    if (!t) return bad("log_group_template", t.message());
    e.logGroupTemplate = std::move(*t);
  }
  if (e.logGroupName.empty() && !e.logGroupTemplate)
    return Status::error(v.where("log_group_name") + ": missing required key 'log_group_name' (or log_group_template) in " + label);
  if (e.logGroupName.empty()) e.logGroupName = "firelane-fallback";  // used when the template cannot render
  e.logStreamName = std::string(v.str("log_stream_name"));
  e.logStreamPrefix = std::string(v.str("log_stream_prefix"));
  if (v.isSet("log_stream_template")) {
    auto t = NameTemplate::parse(v.str("log_stream_template"));
    if (!t) return bad("log_stream_template", t.message());
    e.logStreamTemplate = std::move(*t);
  }
  if (!e.logStreamName.empty() && !e.logStreamPrefix.empty())
    return Status::error(v.where("log_stream_prefix") + ": log_stream_name and log_stream_prefix exclude each other in " + label);
  if (e.logStreamName.empty() && e.logStreamPrefix.empty() && !e.logStreamTemplate)
    return Status::error(v.where("log_stream_name") +
                         ": missing required key 'log_stream_name' (or log_stream_prefix / log_stream_template) in " + label);
  if (e.logStreamName.empty() && e.logStreamPrefix.empty()) e.logStreamName = "firelane-fallback";
  if (v.isSet("log_key")) {
    auto a = record::RecordAccessor::parse(v.str("log_key"));
    if (!a) return bad("log_key", a.message());
    e.logKey = std::move(*a);
  }
  uint64_t maxEvent = v.size("max_event_size");
  if (maxEvent < 262144 || maxEvent > 1048576) return bad("max_event_size", "expected 262144 to 1048576 bytes");
  e.maxEventSize = maxEvent;

  c.logFormat = std::string(v.str("log_format"));
  c.autoCreateGroup = v.boolean("auto_create_group");
  c.retentionDays = v.integer("log_retention_days");
  static const int kRetention[] = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653};
  if (c.retentionDays != 0 && std::find(std::begin(kRetention), std::end(kRetention), c.retentionDays) == std::end(kRetention))
    return bad("log_retention_days", "expected one of CloudWatch's values (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)");
  c.logGroupClass = std::string(v.str("log_group_class"));
  for (auto& ch : c.logGroupClass) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (!c.logGroupClass.empty() && c.logGroupClass != "STANDARD" && c.logGroupClass != "INFREQUENT_ACCESS")
    return bad("log_group_class", "expected STANDARD or INFREQUENT_ACCESS");
  c.autoRetryRequests = v.boolean("auto_retry_requests");
  int64_t workers = v.integer("workers");
  if (workers < 1 || workers > 64) return bad("workers", "expected 1-64");
  c.maxInFlight = static_cast<unsigned>(workers);
  // CloudWatch Logs speaks HTTP/1.1 (one call per connection at a time); a flush may hold calls for
  // several streams, so allow two connections per flush in flight.
  u.maxConnections = std::clamp(c.maxInFlight * 2, 2u, 32u);

  aws::ChainOptions chain;
  chain.profile = std::string(v.str("profile"));
  chain.region = c.region;
  chain.roleArn = std::string(v.str("role_arn"));
  chain.externalId = std::string(v.str("external_id"));
  std::string sts(v.str("sts_endpoint"));
  if (!sts.empty()) {
    if (sts.find("://") == std::string::npos) sts = "https://" + sts;
    auto url = aws::parseUrl(sts);
    if (!url) return bad("sts_endpoint", url.message());
  }
  chain.stsEndpoint = sts;
  if (!chain.externalId.empty() && chain.roleArn.empty())
    return Status::error(v.where("external_id") + ": external_id needs role_arn in " + label);
  c.credentials = std::make_shared<aws::CredentialSource>(aws::makeProvider(chain));
  return std::shared_ptr<OutputFactory>(std::make_shared<CloudWatchFactory>(std::move(c)));
}

// The Go plugin's name 'cloudwatch' (amazon-cloudwatch-logs-for-fluent-bit, the one older FireLens
// task definitions use): its keys are translated to cloudwatch_logs keys, then validated and built by
// the cloudwatch_logs table and factory. Go's log_group_name / log_stream_name may be templates
// ($(ecs_task_id), $(tag), $(key['sub'])) with default_* as the fallback; cloudwatch_logs spells that
// log_*_template with log_*_name as the fallback.
struct GoKey {
  const char* name;
  const char* target;  // cloudwatch_logs key; nullptr: accepted and ignored (firelane always does it)
  const char* help;
};

constexpr GoKey kGoKeys[] = {
    {"region", "region", "AWS region"},
    {"endpoint", "endpoint", "CloudWatch Logs endpoint"},
    {"sts_endpoint", "sts_endpoint", "STS endpoint"},
    {"role_arn", "role_arn", "IAM role to assume"},
    {"log_key", "log_key", "send only this key's value"},
    {"log_format", "log_format", "x-amzn-logs-format header"},
    {"auto_create_group", "auto_create_group", "create missing log groups"},
    {"log_retention_days", "log_retention_days", "retention of created groups"},
    {"log_stream_prefix", "log_stream_prefix", "log stream = prefix + tag"},
    {"log_group_name", "log_group_name", "log group; may be a template such as /ecs/$(ecs_task_id)"},
    {"default_log_group_name", "log_group_name", "log group when the log_group_name template cannot render"},
    {"log_stream_name", "log_stream_name", "log stream; may be a template"},
    {"default_log_stream_name", "log_stream_name", "log stream when the log_stream_name template cannot render"},
    {"auto_create_stream", nullptr, "accepted; streams are always created"},
    {"extra_user_agent", nullptr, "accepted and ignored"},
};
// Go options with no firelane equivalent: naming one is a config error, not a silent change.
constexpr std::string_view kGoUnsupported[] = {"credentials_endpoint", "metric_namespace", "metric_dimensions",
                                               "new_log_group_tags"};

std::vector<OptionSpec> goOptionTable() {
  std::vector<OptionSpec> specs;
  for (const auto& k : kGoKeys) specs.push_back({k.name, OptionType::String, "", k.help});
  for (auto k : kGoUnsupported) specs.push_back({std::string(k), OptionType::String, "", "not supported by firelane"});
  return specs;
}

bool isTemplate(std::string_view v) { return v.find('$') != std::string_view::npos; }

Result<std::shared_ptr<OutputFactory>> makeGoFactory(const OptionValues& v, const PluginEnv& env) {
  for (auto k : kGoUnsupported)
    if (v.isSet(k))
      return Status::error(v.where(k) + ": option '" + std::string(k) +
                           "' of the Go cloudwatch plugin is not supported by firelane in [OUTPUT] cloudwatch");
  auto splitWhere = [](const std::string& where, std::string& file, int& line) {
    size_t colon = where.rfind(':');
    file = where.substr(0, colon);
    line = colon == std::string::npos ? 0 : std::atoi(where.c_str() + colon + 1);
  };
  config::Section section;
  section.kind = "output";
  // Errors about missing keys point at the section; its Match line is the closest known place.
  splitWhere(v.where("Match"), section.file, section.line);
  auto add = [&](std::string_view from, std::string target) {
    config::Entry e;
    e.key = std::move(target);
    e.value = std::string(v.str(from));
    splitWhere(v.where(from), e.file, e.line);
    section.entries.push_back(std::move(e));
  };
  for (const auto& k : kGoKeys) {
    std::string_view name = k.name;
    if (!k.target || !v.isSet(name)) continue;
    if (name == "default_log_group_name" || name == "default_log_stream_name") continue;  // below
    if (name == "log_group_name" || name == "log_stream_name") {
      std::string kind = name == "log_group_name" ? "log_group" : "log_stream";
      if (isTemplate(v.str(name))) {
        add(name, kind + "_template");
        if (v.isSet("default_" + kind + "_name")) add("default_" + kind + "_name", kind + "_name");
      } else {
        add(name, k.target);  // a plain name wins over its default, as in the Go plugin
      }
      continue;
    }
    add(name, k.target);
  }
  // Only a default given: it is the name.
  for (std::string kind : {"log_group", "log_stream"})
    if (!v.isSet(kind + "_name") && v.isSet("default_" + kind + "_name")) add("default_" + kind + "_name", kind + "_name");
  auto translated = validateOptions(section, optionTable(), "[OUTPUT] cloudwatch (as cloudwatch_logs)");
  if (!translated) return translated.status();
  return makeFactory(*translated, env);
}

}  // namespace

std::string defaultEndpoint(std::string_view region) {
  std::string host = "logs." + std::string(region) + ".amazonaws.com";
  if (region.substr(0, 3) == "cn-") host += ".cn";
  return host;
}

void registerPlugin(Registry& registry) {
  PluginInfo info;
  info.kind = PluginKind::Output;
  info.name = "cloudwatch_logs";
  info.description = "Amazon CloudWatch Logs (PutLogEvents, SigV4, the AWS credential chain)";
  info.options = optionTable();
  info.makeOutput = makeFactory;
  registry.add(std::move(info));

  PluginInfo go;
  go.kind = PluginKind::Output;
  go.name = "cloudwatch";
  go.description = "the Go plugin's name for CloudWatch Logs: its options translated to cloudwatch_logs";
  go.options = goOptionTable();
  go.makeOutput = makeGoFactory;
  registry.add(std::move(go));
}

}  // namespace firelane::outputs::cloudwatch_logs
