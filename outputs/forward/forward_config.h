// Typed options of the forward output (Fluent Bit names), the upstream file parser and the
// registration. Parsed once on the main thread; runtime instances only read it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/net/tls.h"
#include "core/plugin/registry.h"

namespace firelane::outputs::forward {

// One destination: from Host/Port or one [NODE] of an upstream file.
struct NodeConfig {
  std::string name;
  std::string host;
  int port = 24224;
  bool tls = false;
  net::TlsOptions tlsOptions;
  std::shared_ptr<net::TlsContext> tlsContext;  // set when tls is on
  std::string sharedKey;                        // empty = no handshake
  std::string selfHostname;
  std::string username;
  std::string password;
};

struct ForwardOutputConfig {
  std::string instance;
  std::vector<NodeConfig> nodes;  // round robin, in file order
  std::string tag;                // replaces the batch tag when set
  bool timeAsInteger = false;
  bool requireAck = false;
  double ackTimeoutSec = 30.0;
  double connectTimeoutSec = 10.0;
  double nodeRetrySec = 5.0;  // a failed node is skipped this long (doubling up to 60 s)
  bool gzip = false;
};

// Parses a Fluent Bit upstream file: one [UPSTREAM] (name) and one or more [NODE] sections with
// name, host, port, tls, tls.verify, tls.ca_file, tls.crt_file, tls.key_file, tls.vhost,
// shared_key, self_hostname, username, password. `defaults` gives the output-level values a node
// does not set. Errors name file:line and the key.
Result<std::vector<NodeConfig>> parseUpstreamFile(const std::string& path, const NodeConfig& defaults);

void registerPlugin(Registry& registry);

}  // namespace firelane::outputs::forward
