// The datadog output's option table, validation and factory.
#include "outputs/datadog/datadog_config.h"

#include <fstream>
#include <sstream>

#include "core/http/output_options.h"
#include "core/plugin/tls_warning.h"
#include "outputs/datadog/datadog.h"

namespace firelane::outputs::datadog {
namespace {

constexpr std::pair<std::string_view, std::string_view> kSites[] = {
    {"us1", "datadoghq.com"},     {"us3", "us3.datadoghq.com"}, {"us5", "us5.datadoghq.com"},
    {"eu1", "datadoghq.eu"},      {"eu", "datadoghq.eu"},       {"ap1", "ap1.datadoghq.com"},
    {"ap2", "ap2.datadoghq.com"}, {"us1-fed", "ddog-gov.com"},  {"gov", "ddog-gov.com"},
};

std::vector<OptionSpec> optionTable() {
  using T = OptionType;
  std::vector<OptionSpec> specs = {
      {"Host", T::String, "http-intake.logs.datadoghq.com", "intake host (see also `site`)"},
      {"Port", T::Int, "0", "intake port (0: 443 with TLS, 80 without)"},
      {"TLS", T::Bool, "off", "use TLS (on by itself when `site` is set)"},
      {"site", T::String, "", "Datadog site: us1, us3, us5, eu1, ap1, ap2, us1-fed (sets Host, TLS on, port 443)"},
      {"apikey", T::String, "", "Datadog API key", false, false, true},
      {"apikey_file", T::String, "", "file holding the API key (instead of apikey)"},
      {"compress", T::Enum, "gzip", "request compression", false, false, false, {"gzip", "zstd", "none", "off"}},
      {"compress_level", T::Int, "0", "compression level (0 = the measured default)"},
      {"dd_service", T::String, "", "the `service` of every log"},
      {"dd_source", T::String, "", "the `ddsource` of every log"},
      {"dd_tags", T::String, "", "`ddtags`, as k:v,k:v"},
      {"dd_hostname", T::String, "", "the `hostname` of every log"},
      {"dd_message_key", T::String, "log", "record key sent as `message`"},
      {"provider", T::String, "", "`ecs` moves container and task fields into ddtags"},
      {"include_tag_key", T::Bool, "off", "add the tag under tag_key"},
      {"tag_key", T::String, "tagkey", "key of the tag when include_tag_key is on"},
      {"json_date_key", T::String, "timestamp", "key of the time in epoch ms ('false' = none)"},
      {"header", T::String, "", "extra request header 'Name Value'", true},
      {"proxy", T::String, "", "HTTP proxy, http://host:port (CONNECT)"},
      {"http2", T::Enum, "on", "on (ALPN h2,http/1.1), off, or prior_knowledge (h2 without TLS/ALPN)", false, false,
       false, {"on", "off", "prior_knowledge", "true", "false"}},
      {"workers", T::Int, "16", "most requests in flight per firelane worker (see concurrency)"},
      {"max_connections", T::Int, "2", "connections per firelane worker"},
      {"retry_on_403", T::Bool, "off", "retry 403 answers (while an API key rotates) instead of dropping"},
      {"response_timeout", T::Seconds, "30", "seconds to wait for the intake's answer"},
      {"connect_timeout", T::Seconds, "10", "seconds to connect (TCP + TLS)"},
      {"connection_max_age", T::Seconds, "300", "reconnect after this long (spreads load over the intake)"},
  };
  auto tls = http::tlsOptionSpecs();
  specs.insert(specs.begin() + 3, tls.begin(), tls.end());  // after TLS, as before
  return specs;
}

Status readKeyFile(const std::string& path, std::string& key) {
  std::ifstream in(path);
  if (!in) return Status::error("cannot read apikey_file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  key = ss.str();
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ')) key.pop_back();
  return {};
}

Result<std::shared_ptr<OutputFactory>> makeFactory(const OptionValues& v, const PluginEnv& env) {
  DatadogConfig c;
  c.instance = env.instanceName;
  const std::string label = "[OUTPUT] datadog";
  auto bad = [&](std::string_view key, const std::string& why) {
    return Status::error(v.where(key) + ": invalid value for '" + std::string(key) + "' in " + label + ": " + why);
  };
  http::UpstreamOptions& u = c.upstream;
  u.host = std::string(v.str("Host"));
  u.tls = v.boolean("TLS");
  if (v.isSet("site")) {
    std::string host = intakeHostForSite(v.str("site"));
    if (host.empty()) return bad("site", "expected us1, us3, us5, eu1, ap1, ap2 or us1-fed");
    if (!v.isSet("Host")) u.host = host;
    if (!v.isSet("TLS")) u.tls = true;
  }
  int64_t port = v.integer("Port");
  if (port < 0 || port > 65535) return bad("Port", "expected 0-65535");
  u.port = static_cast<uint16_t>(port ? port : (u.tls ? 443 : 80));
  http::readTlsOptions(v, u.tlsOptions);
  if (u.tls && !u.tlsOptions.verify) warnTlsVerifyOff(env, v.where("tls.verify"), label);
  std::string_view h2 = v.str("http2");
  u.http2 = config::iequals(h2, "prior_knowledge")                              ? http::Http2Mode::PriorKnowledge
            : (config::iequals(h2, "off") || config::iequals(h2, "false")) ? http::Http2Mode::Off
                                                                             : http::Http2Mode::Auto;
  int64_t conns = v.integer("max_connections");
  if (conns < 1 || conns > 1024) return bad("max_connections", "expected 1-1024");
  u.maxConnections = static_cast<unsigned>(conns);
  u.responseTimeout = v.seconds("response_timeout");
  u.connectTimeout = v.seconds("connect_timeout");
  u.maxAge = v.seconds("connection_max_age");
  if (v.isSet("proxy")) {
    Status st = http::parseProxy(v.str("proxy"), u.proxyHost, u.proxyPort);
    if (!st) return Status::error(v.where("proxy") + ": " + st.message());
  }
  if (u.tls) {
    auto tls = http::Client::makeTlsContext(u);
    if (!tls) return Status::error(v.where("tls.ca_file") + ": " + tls.message());
    c.tls = *tls;
  }

  if (v.isSet("apikey_file")) {
    Status st = readKeyFile(std::string(v.str("apikey_file")), c.apiKey);
    if (!st) return Status::error(v.where("apikey_file") + ": " + st.message());
  } else {
    c.apiKey = std::string(v.str("apikey"));
  }
  if (c.apiKey.empty())
    return Status::error(v.where("apikey") + ": missing required key 'apikey' (or apikey_file) in " + label);

  auto headers = http::parseHeaderOptions(v, "header");
  if (!headers) return headers.status();
  c.headers = std::move(*headers);

  std::string_view comp = v.str("compress");
  c.compression.codec = config::iequals(comp, "gzip")   ? codec::Codec::Gzip
                        : config::iequals(comp, "zstd") ? codec::Codec::Zstd
                                                        : codec::Codec::None;
  int64_t level = v.integer("compress_level");
  c.compression.level = static_cast<int>(
      level ? level : (c.compression.codec == codec::Codec::Zstd ? codec::kDefaultZstdLevel : codec::kDefaultGzipLevel));
  auto probe = codec::Compressor::create(c.compression);
  if (!probe) return bad("compress_level", probe.message());

  DatadogEncoderConfig& e = c.encoder;
  if (v.isSet("dd_service")) e.ddService = std::string(v.str("dd_service"));
  if (v.isSet("dd_source")) e.ddSource = std::string(v.str("dd_source"));
  if (v.isSet("dd_tags")) e.ddTags = std::string(v.str("dd_tags"));
  if (v.isSet("dd_hostname")) e.ddHostname = std::string(v.str("dd_hostname"));
  e.ddMessageKey = std::string(v.str("dd_message_key"));
  if (v.isSet("provider")) {
    if (!config::iequals(v.str("provider"), "ecs")) return bad("provider", "the only provider is 'ecs'");
    e.providerEcs = true;
  }
  e.includeTagKey = v.boolean("include_tag_key");
  e.tagKey = std::string(v.str("tag_key"));
  std::string dateKey(v.str("json_date_key"));
  if (config::iequals(dateKey, "false") || config::iequals(dateKey, "off")) dateKey.clear();
  e.jsonDateKey = dateKey;

  c.retryOn403 = v.boolean("retry_on_403");
  int64_t workers = v.integer("workers");
  if (workers < 1 || workers > 256) return bad("workers", "expected 1-256");
  c.maxInFlight = static_cast<unsigned>(workers);
  return std::shared_ptr<OutputFactory>(std::make_shared<DatadogFactory>(std::move(c)));
}

}  // namespace

std::string intakeHostForSite(std::string_view site) {
  for (auto [name, domain] : kSites) {
    if (config::iequals(site, name) || config::iequals(site, domain))
      return "http-intake.logs." + std::string(domain);
  }
  return "";
}

void registerPlugin(Registry& registry) {
  PluginInfo info;
  info.kind = PluginKind::Output;
  info.name = "datadog";
  info.description = "Datadog logs intake (HTTP/2 with HTTP/1.1 fallback, gzip/zstd)";
  info.options = optionTable();
  info.makeOutput = makeFactory;
  registry.add(std::move(info));
}

}  // namespace firelane::outputs::datadog
