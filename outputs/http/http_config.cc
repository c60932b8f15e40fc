// The http output's option table, validation and factory.
#include "outputs/http/http_config.h"

#include "core/codec/base64.h"
#include "core/http/output_options.h"
#include "core/plugin/tls_warning.h"
#include "outputs/http/http.h"

namespace firelane::outputs::http_output {
namespace {

namespace fhttp = firelane::http;

std::vector<OptionSpec> optionTable() {
  using T = OptionType;
  std::vector<OptionSpec> specs = {
      {"Host", T::String, "127.0.0.1", "host of the HTTP server"},
      {"Port", T::Int, "0", "port of the HTTP server (0: 443 with TLS, 80 without)"},
      {"URI", T::String, "/", "request path, e.g. /logs (a leading / is added when missing)"},
      {"http_method", T::Enum, "POST", "POST or PUT", false, false, false, {"POST", "PUT"}},
      {"Format", T::Enum, "msgpack", "body format: json, json_lines, json_stream or msgpack (gelf is not supported)",
       false, false, false, {"msgpack", "json", "json_lines", "json_stream", "gelf"}},
      {"json_date_key", T::String, "date", "key of the event time in JSON formats ('false' = none)"},
      {"json_date_format", T::Enum, "double", "double, epoch, epoch_ms, iso8601 or java_sql_timestamp", false, false,
       false, {"double", "epoch", "epoch_ms", "iso8601", "java_sql_timestamp"}},
      {"header", T::String, "", "extra request header 'Name Value'", true},
      {"header_tag", T::String, "", "header that carries the records' tag (one request per tag)"},
      {"allow_duplicated_headers", T::Bool, "true",
       "keep a header set twice (off: the last one set replaces the earlier, also firelane's own)"},
      {"http_user", T::String, "", "Basic auth user"},
      {"http_passwd", T::String, "", "Basic auth password (needs http_user)", false, false, true},
      {"compress", T::Enum, "none", "request body compression: gzip, zstd or none", false, false, false,
       {"gzip", "zstd", "none", "off"}},
      {"log_response_payload", T::Bool, "true", "log the server's answer body when a request fails"},
      {"TLS", T::Bool, "off", "use TLS"},
      {"proxy", T::String, "", "HTTP proxy, http://host:port (CONNECT tunnel)"},
      {"workers", T::Int, "2", "most requests in flight per firelane worker (see concurrency)"},
      {"max_connections", T::Int, "2", "connections per firelane worker"},
      {"response_timeout", T::Seconds, "60", "seconds to wait for the server's answer"},
      {"connect_timeout", T::Seconds, "10", "seconds to connect (TCP + proxy + TLS)"},
  };
  auto tls = fhttp::tlsOptionSpecs();
  specs.insert(specs.end(), tls.begin(), tls.end());
  return specs;
}

Result<std::shared_ptr<OutputFactory>> makeFactory(const OptionValues& v, const PluginEnv& env) {
  HttpOutputConfig c;
  c.instance = env.instanceName;
  auto bad = [&](std::string_view key, const std::string& why) {
    return Status::error(v.where(key) + ": invalid value for '" + std::string(key) + "' in " + v.label() + ": " +
                         why);
  };
  fhttp::UpstreamOptions& u = c.upstream;
  u.host = std::string(v.str("Host"));
  if (u.host.empty()) return bad("Host", "empty host");
  u.tls = v.boolean("TLS");
  int64_t port = v.integer("Port");
  if (port < 0 || port > 65535) return bad("Port", "expected 0-65535");
  u.port = static_cast<uint16_t>(port ? port : (u.tls ? 443 : 80));
  fhttp::readTlsOptions(v, u.tlsOptions);
  if (u.tls && !u.tlsOptions.verify) warnTlsVerifyOff(env, v.where("tls.verify"), v.label());
  u.http2 = fhttp::Http2Mode::Off;  // Fluent Bit's out_http speaks HTTP/1.1
  int64_t conns = v.integer("max_connections");
  if (conns < 1 || conns > 1024) return bad("max_connections", "expected 1-1024");
  u.maxConnections = static_cast<unsigned>(conns);
  u.responseTimeout = v.seconds("response_timeout");
  u.connectTimeout = v.seconds("connect_timeout");
  if (u.responseTimeout <= 0) return bad("response_timeout", "expected more than 0 seconds");
  if (u.connectTimeout <= 0) return bad("connect_timeout", "expected more than 0 seconds");
  if (v.isSet("proxy")) {
    Status st = fhttp::parseProxy(v.str("proxy"), u.proxyHost, u.proxyPort);
    if (!st) return Status::error(v.where("proxy") + ": " + st.message());
  }
  if (u.tls) {
    auto tls = fhttp::Client::makeTlsContext(u);
    if (!tls) return Status::error(v.where("tls.ca_file") + ": " + tls.message());
    c.tls = *tls;
  }

  c.method = config::iequals(v.str("http_method"), "PUT") ? "PUT" : "POST";
  c.uri = std::string(v.str("URI"));
  if (c.uri.empty() || c.uri.front() != '/') c.uri.insert(c.uri.begin(), '/');
  for (char ch : c.uri) {
    if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f)
      return bad("URI", "spaces and control characters must be percent-encoded");
  }

  std::string_view format = v.str("Format");
  if (config::iequals(format, "gelf"))
    return bad("Format", "'gelf' is not supported by firelane's http output; use json, json_lines, json_stream or "
                         "msgpack");
  c.format.format = codec::parseRecordFormat(format).value_or(codec::RecordFormat::Msgpack);
  c.format.dateKey = std::string(v.str("json_date_key"));
  if (config::iequals(c.format.dateKey, "false") || config::iequals(c.format.dateKey, "off")) c.format.dateKey.clear();
  c.format.dateFormat = codec::parseJsonDateFormat(v.str("json_date_format")).value_or(codec::JsonDateFormat::Double);
  // As Fluent Bit's out_http: json and json_stream are sent as application/json, json_lines as NDJSON.
  switch (c.format.format) {
    case codec::RecordFormat::Json:
    case codec::RecordFormat::JsonStream: c.contentType = "application/json"; break;
    case codec::RecordFormat::JsonLines: c.contentType = "application/x-ndjson"; break;
    case codec::RecordFormat::Msgpack: c.contentType = "application/msgpack"; break;
  }

  std::string_view comp = v.str("compress");
  if (config::iequals(comp, "gzip") || config::iequals(comp, "zstd")) {
    c.compress = true;
    c.compression.codec = config::iequals(comp, "gzip") ? codec::Codec::Gzip : codec::Codec::Zstd;
    c.compression.level = c.compression.codec == codec::Codec::Gzip ? codec::kDefaultGzipLevel
                                                                    : codec::kDefaultZstdLevel;
    auto probe = codec::Compressor::create(c.compression);
    if (!probe) return bad("compress", probe.message());
  }

  if (v.isSet("http_passwd") && !v.isSet("http_user"))
    return Status::error(v.where("http_passwd") + ": 'http_passwd' in " + v.label() + " needs 'http_user'");
  if (v.isSet("http_user") && v.str("http_user").find(':') != std::string_view::npos)
    return bad("http_user", "a Basic auth user cannot contain ':'");

  const bool dup = v.boolean("allow_duplicated_headers");
  auto& h = c.headers;
  addHeader(h, {"Content-Type", c.contentType}, dup);
  if (c.compress) addHeader(h, {"Content-Encoding", std::string(codec::contentEncoding(c.compression.codec))}, dup);
  if (v.isSet("http_user"))
    addHeader(h, {"Authorization", basicAuthorization(v.str("http_user"), v.str("http_passwd"))}, dup);
  addHeader(h, {"User-Agent", "firelane/" FIRELANE_VERSION}, dup);
  auto user = fhttp::parseHeaderOptions(v, "header");
  if (!user) return user.status();
  for (auto& uh : *user) {
    for (char ch : uh.name + uh.value)
      if (ch == '\r' || ch == '\n') return bad("header", "line breaks are not allowed in a header");
    addHeader(h, std::move(uh), dup);
  }

  c.headerTag = std::string(v.str("header_tag"));
  for (char ch : c.headerTag)
    if (static_cast<unsigned char>(ch) <= 0x20 || ch == ':' || ch == 0x7f)
      return bad("header_tag", "expected a header name");
  c.logResponsePayload = v.boolean("log_response_payload");
  int64_t workers = v.integer("workers");
  if (workers < 1 || workers > 256) return bad("workers", "expected 1-256");
  c.maxInFlight = static_cast<unsigned>(workers);
  return std::shared_ptr<OutputFactory>(std::make_shared<HttpOutputFactory>(std::move(c)));
}

}  // namespace

std::string basicAuthorization(std::string_view user, std::string_view password) {
  std::string plain;
  plain.reserve(user.size() + 1 + password.size());
  plain.append(user).append(":").append(password);
  return "Basic " + codec::base64(plain);
}

void addHeader(std::vector<firelane::http::Header>& headers, firelane::http::Header h, bool allowDuplicates) {
  if (!allowDuplicates) {
    std::erase_if(headers, [&](const firelane::http::Header& e) { return config::iequals(e.name, h.name); });
  }
  headers.push_back(std::move(h));
}

void registerPlugin(Registry& registry) {
  PluginInfo info;
  info.kind = PluginKind::Output;
  info.name = "http";
  info.description = "POSTs records to an HTTP endpoint as JSON, JSON lines or msgpack (Fluent Bit's out_http)";
  info.options = optionTable();
  info.makeOutput = makeFactory;
  registry.add(std::move(info));
}

}  // namespace firelane::outputs::http_output
