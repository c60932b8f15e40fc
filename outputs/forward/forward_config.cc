// The forward output's option table, validation, upstream file parsing and factory.
#include "outputs/forward/forward_config.h"

#include <unistd.h>

#include "core/config/classic_parser.h"
#include "core/plugin/tls_warning.h"
#include "outputs/forward/forward.h"

namespace firelane::outputs::forward {
namespace {

std::vector<OptionSpec> nodeOptions(bool output) {
  using T = OptionType;
  std::vector<OptionSpec> o;
  if (output) {
    o.push_back({"Host", T::String, "127.0.0.1", "aggregator host"});
    o.push_back({"Port", T::Int, "24224", "aggregator port"});
    o.push_back({"Tag", T::String, "", "send every record with this tag instead of its own"});
  } else {
    o.push_back({"Name", T::String, "", "node name (for logs)"});
    o.push_back({"Host", T::String, "", "node host", false, true});
    o.push_back({"Port", T::Int, "24224", "node port"});
  }
  o.push_back({"tls", T::Bool, "off", "use TLS"});
  o.push_back({"tls.verify", T::Bool, "on", "verify the server certificate"});
  o.push_back({"tls.ca_file", T::String, "", "CA bundle (PEM) instead of the system store"});
  o.push_back({"tls.crt_file", T::String, "", "client certificate (PEM)"});
  o.push_back({"tls.key_file", T::String, "", "client key (PEM)"});
  o.push_back({"tls.vhost", T::String, "", "host name for SNI and certificate verification"});
  o.push_back({"shared_key", T::String, "", "shared key of the HELO/PING/PONG handshake", false, false, true});
  o.push_back({"self_hostname", T::String, "", "client host name sent in PING (default: gethostname)"});
  o.push_back({"username", T::String, "", "user for the handshake's user authentication"});
  o.push_back({"password", T::String, "", "its password", false, false, true});
  return o;
}

std::vector<OptionSpec> optionTable() {
  using T = OptionType;
  std::vector<OptionSpec> o = nodeOptions(true);
  o.push_back({"Upstream", T::String, "", "Fluent Bit upstream file: [UPSTREAM] + [NODE]s, round robin with failover"});
  o.push_back({"Send_options", T::Bool, "on", "accepted for Fluent Bit configs: options (size, chunk) are always sent"});
  o.push_back({"time_as_integer", T::Bool, "off", "send times as integer seconds instead of EventTime"});
  o.push_back({"require_ack_response", T::Bool, "off", "ask for an ack per chunk; no ack in time -> retry"});
  o.push_back({"ack_response_timeout", T::Seconds, "30", "how long to wait for an ack"});
  o.push_back({"connect_timeout", T::Seconds, "10", "TCP + TLS + handshake time limit"});
  o.push_back({"node_retry_interval", T::Seconds, "5", "a failed node is skipped this long (doubles up to 60 s)"});
  o.push_back({"compress", T::Enum, "none", "gzip sends CompressedPackedForward", false, false, false,
               {"gzip", "none", "off", "text"}});
  return o;
}

Status portOf(const OptionValues& v, const std::string& label, int& port) {
  int64_t p = v.integer("Port");
  if (p <= 0 || p > 65535)
    return Status::error(v.where("Port") + ": invalid value '" + std::to_string(p) + "' for 'Port' in " + label +
                         ": expected 1-65535");
  port = static_cast<int>(p);
  return {};
}

// Reads the node keys of `v` into `n`: Host and Port always, the others only when set, so a
// [NODE] inherits the output's TLS and security settings.
Status readNode(const OptionValues& v, const std::string& label, NodeConfig& n) {
  n.host = std::string(v.str("Host"));
  Status s = portOf(v, label, n.port);
  if (!s) return s;
  if (v.isSet("tls")) n.tls = v.boolean("tls");
  if (v.isSet("tls.verify")) n.tlsOptions.verify = v.boolean("tls.verify");
  if (v.isSet("tls.ca_file")) n.tlsOptions.caFile = std::string(v.str("tls.ca_file"));
  if (v.isSet("tls.crt_file")) n.tlsOptions.crtFile = std::string(v.str("tls.crt_file"));
  if (v.isSet("tls.key_file")) n.tlsOptions.keyFile = std::string(v.str("tls.key_file"));
  if (v.isSet("tls.vhost")) n.tlsOptions.vhost = std::string(v.str("tls.vhost"));
  if (v.isSet("shared_key")) n.sharedKey = std::string(v.str("shared_key"));
  if (v.isSet("self_hostname")) n.selfHostname = std::string(v.str("self_hostname"));
  if (v.isSet("username")) n.username = std::string(v.str("username"));
  if (v.isSet("password")) n.password = std::string(v.str("password"));
  return {};
}

Status finishNode(const OptionValues& v, NodeConfig& n) {
  if (n.selfHostname.empty()) {
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    n.selfHostname = host;
  }
  if (!n.username.empty() && n.sharedKey.empty())
    return Status::error(v.where("username") + ": 'username' in " + v.label() + " needs 'shared_key'");
  if (n.tls) {
    auto ctx = net::TlsContext::create(n.tlsOptions);
    if (!ctx) return Status::error(v.where("tls.ca_file") + ": " + ctx.message());
    n.tlsContext = *ctx;
  }
  return {};
}

Result<std::shared_ptr<OutputFactory>> makeFactory(const OptionValues& v, const PluginEnv& env) {
  ForwardOutputConfig c;
  c.instance = env.instanceName;
  c.tag = std::string(v.str("Tag"));
  c.timeAsInteger = v.boolean("time_as_integer");
  c.requireAck = v.boolean("require_ack_response");
  c.ackTimeoutSec = v.seconds("ack_response_timeout");
  c.connectTimeoutSec = v.seconds("connect_timeout");
  c.nodeRetrySec = v.seconds("node_retry_interval");
  c.gzip = config::iequals(v.str("compress"), "gzip");
  if (c.ackTimeoutSec <= 0)
    return Status::error(v.where("ack_response_timeout") + ": 'ack_response_timeout' in " + v.label() +
                         " must be greater than 0");
  if (c.connectTimeoutSec <= 0)
    return Status::error(v.where("connect_timeout") + ": 'connect_timeout' in " + v.label() +
                         " must be greater than 0");
  NodeConfig defaults;
  Status s = readNode(v, v.label(), defaults);
  if (!s) return s;
  if (v.isSet("Upstream")) {
    std::string path(v.str("Upstream"));
    std::string where = v.where("Upstream");
    if (path[0] != '/' && where.find(':') != std::string::npos) {
      // Relative to the folder of the file that names it, like @INCLUDE.
      std::string file = where.substr(0, where.rfind(':'));
      size_t slash = file.rfind('/');
      if (slash != std::string::npos) path = file.substr(0, slash + 1) + path;
    }
    auto nodes = parseUpstreamFile(path, defaults);
    if (!nodes) return Status::error(v.where("Upstream") + ": " + nodes.message());
    c.nodes = std::move(*nodes);
  } else {
    defaults.name = defaults.host + ":" + std::to_string(defaults.port);
    s = finishNode(v, defaults);
    if (!s) return s;
    c.nodes.push_back(std::move(defaults));
  }
  for (const auto& n : c.nodes) {
    if (n.tls && !n.tlsOptions.verify) warnTlsVerifyOff(env, v.where("tls.verify"), v.label(), n.name);
  }
  return std::shared_ptr<OutputFactory>(std::make_shared<ForwardOutputFactory>(std::move(c)));
}

}  // namespace

Result<std::vector<NodeConfig>> parseUpstreamFile(const std::string& path, const NodeConfig& defaults) {
  auto doc = config::parseFile(path);
  if (!doc) return Status::error("Upstream file: " + doc.message());
  std::vector<NodeConfig> nodes;
  static const std::vector<OptionSpec> upstreamSpecs = {{"Name", OptionType::String, "", "upstream name"}};
  const std::vector<OptionSpec> specs = nodeOptions(false);
  bool sawUpstream = false;
  for (const config::Section& sec : doc->sections) {
    if (sec.kind == "upstream") {
      auto v = validateOptions(sec, upstreamSpecs, "[UPSTREAM]");
      if (!v) return Status::error(v.message());
      sawUpstream = true;
    } else if (sec.kind == "node") {
      auto v = validateOptions(sec, specs, "[NODE]");
      if (!v) return Status::error(v.message());
      NodeConfig n = defaults;
      Status s = readNode(*v, "[NODE]", n);
      if (!s) return s;
      n.name = v->isSet("Name") ? std::string(v->str("Name")) : n.host + ":" + std::to_string(n.port);
      s = finishNode(*v, n);
      if (!s) return s;
      nodes.push_back(std::move(n));
    } else {
      return Status::error(sec.where() + ": unexpected section [" + sec.kind + "] in an upstream file (expected "
                           "[UPSTREAM] and [NODE])");
    }
  }
  if (!sawUpstream) return Status::error(path + ": no [UPSTREAM] section");
  if (nodes.empty()) return Status::error(path + ": no [NODE] section");
  return nodes;
}

void registerPlugin(Registry& registry) {
  PluginInfo info;
  info.kind = PluginKind::Output;
  info.name = "forward";
  info.description = "Fluentd forward protocol (PackedForward, acks, TLS, shared key, upstream failover)";
  info.options = optionTable();
  info.makeOutput = makeFactory;
  registry.add(std::move(info));
}

}  // namespace firelane::outputs::forward
