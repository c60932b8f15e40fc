// The forward input's option table, validation, listener set-up (main thread) and factory.
#include "inputs/forward/forward_config.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <utility>

#include "core/common/log.h"
#include "core/net/listen_socket.h"
#include "inputs/forward/forward.h"

namespace firelane::inputs::forward {
namespace {

std::vector<OptionSpec> optionTable() {
  using T = OptionType;
  return {
      {"Listen", T::String, "0.0.0.0", "address to listen on"},
      {"Port", T::Int, "24224", "TCP port (0 = any free port, reported in the log)"},
      {"unix_path", T::String, "", "listen on this unix socket instead of TCP"},
      {"unix_perm", T::String, "", "permissions of the unix socket, octal (default: as the umask gives)"},
      {"tag_prefix", T::String, "", "prefix added to every incoming tag"},
      {"buffer_chunk_size", T::Size, "1024000", "size of each receive buffer of a connection"},
      {"buffer_max_size", T::Size, "6144000", "largest frame a connection may send"},
      {"shared_key", T::String, "", "require the HELO/PING/PONG handshake with this key", false, false, true},
      {"empty_shared_key", T::Bool, "off", "require the handshake with a zero-length shared key (Fluent Bit's option)"},
      {"self_hostname", T::String, "", "server host name sent in PONG (default: gethostname)"},
      {"security.users", T::String, "",
       "'user password' accepted in the handshake (needs shared_key or empty_shared_key)",
       true, false, true},
      {"tls", T::Bool, "off", "accept TLS connections only"},
      {"tls.crt_file", T::String, "", "server certificate (PEM)"},
      {"tls.key_file", T::String, "", "its private key (PEM)"},
      {"tls.verify", T::Bool, "off", "require a client certificate signed by tls.ca_file"},
      {"tls.ca_file", T::String, "", "CA bundle (PEM) for client certificates"},
      {"max_connections", T::Int, "0", "refuse connections beyond this many (0 = unlimited)"},
      {"idle_timeout", T::Seconds, "0", "close a connection that sends nothing this long (0 = never)"},
      {"udp_heartbeat", T::Bool, "on", "answer UDP heartbeats (one 0x00 byte) on the TCP port, as Fluentd does"},
      {"ack_after", T::Enum, "stored",
       "answer a chunk id once the batch is stored (spool, or memory queue) or only once every output delivered it",
       false, false, false, {"stored", "delivered"}},
  };
}

std::string errnoText(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

class ForwardFactory final : public InputFactory {
 public:
  explicit ForwardFactory(ForwardConfig cfg) : cfg_(std::move(cfg)) {}
  ~ForwardFactory() override {
    for (int fd : fds_)
      if (fd >= 0) ::close(fd);
    if (udpFd_ >= 0) ::close(udpFd_);
    if (createdUnix_) ::unlink(cfg_.unixPath.c_str());
  }
  Placement placement() const override { return Placement::PerWorker; }

  Status prepare(unsigned workers) override {
    workers_ = workers;
    return cfg_.unixPath.empty() ? bindTcp(workers) : bindUnix();
  }

  InputPtr create(unsigned workerId) const override {
    // Ownership of the listening sockets moves to the inputs, so that stopAccepting() really
    // closes them.
    Listener l;
    if (cfg_.unixPath.empty()) {
      l.fd = std::exchange(fds_.at(workerId), -1);
      l.isUnix = false;
      if (workerId == 0) l.udpFd = std::exchange(udpFd_, -1);  // heartbeats are rare: one socket
    } else {
      l.fd = ::dup(fds_.at(0));  // one socket, accepted from by every worker's loop
      l.isUnix = true;
      if (++handed_ == workers_) ::close(std::exchange(fds_.at(0), -1));
    }
    return std::make_unique<ForwardInput>(cfg_, l);
  }

 private:
  Status bindTcp(unsigned workers) {
    // With Port 0 the kernel picks a TCP port whose UDP twin may be taken: pick again (bounded).
    constexpr int kAttempts = 16;
    for (int attempt = 1;; ++attempt) {
      auto bound = net::bindReusePortTcp(cfg_.listen, cfg_.port, workers);
      if (!bound) return bound.status();
      if (cfg_.udpHeartbeat) {
        auto udp = net::bindUdp(cfg_.listen, bound->port);
        if (!udp) {
          for (int fd : bound->fds) ::close(fd);
          if (cfg_.port == 0 && attempt < kAttempts) continue;
          return Status::error("udp_heartbeat: " + udp.message() + " (set 'udp_heartbeat off' to listen on TCP only)");
        }
        udpFd_ = *udp;
      }
      fds_.insert(fds_.end(), bound->fds.begin(), bound->fds.end());
      FL_INFO("[input:forward:%s] listening on tcp %s%s", cfg_.instance.c_str(), bound->endpoint().c_str(),
              cfg_.udpHeartbeat ? " (udp heartbeat on the same port)" : "");
      return {};
    }
  }

  Status bindUnix() {
    sockaddr_un addr{};
    if (cfg_.unixPath.size() >= sizeof(addr.sun_path))
      return Status::error("unix_path '" + cfg_.unixPath + "' is too long");
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, cfg_.unixPath.c_str(), cfg_.unixPath.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return Status::error(errnoText("socket"));
    fds_.push_back(fd);
    struct stat st;
    if (::stat(cfg_.unixPath.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(cfg_.unixPath.c_str());
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
      return Status::error(errnoText(("bind " + cfg_.unixPath).c_str()));
    createdUnix_ = true;
    if (cfg_.unixPerm >= 0 && ::chmod(cfg_.unixPath.c_str(), static_cast<mode_t>(cfg_.unixPerm)) != 0)
      return Status::error(errnoText(("chmod " + cfg_.unixPath).c_str()));
    if (::listen(fd, 1024) != 0) return Status::error(errnoText("listen"));
    FL_INFO("[input:forward:%s] listening on unix %s", cfg_.instance.c_str(), cfg_.unixPath.c_str());
    return {};
  }

  ForwardConfig cfg_;
  mutable std::vector<int> fds_;
  mutable int udpFd_ = -1;
  mutable unsigned handed_ = 0;
  unsigned workers_ = 1;
  bool createdUnix_ = false;
};

Result<std::shared_ptr<InputFactory>> makeFactory(const OptionValues& v, const PluginEnv& env) {
  ForwardConfig c;
  c.instance = env.instanceName;
  c.listen = std::string(v.str("Listen"));
  int64_t port = v.integer("Port");
  if (port < 0 || port > 65535)
    return Status::error(v.where("Port") + ": invalid value '" + std::to_string(port) +
                         "' for 'Port' in [INPUT] forward: expected 0-65535");
  c.port = static_cast<int>(port);
  c.unixPath = std::string(v.str("unix_path"));
  std::string perm(v.str("unix_perm"));
  if (!perm.empty()) {
    char* end = nullptr;
    long p = std::strtol(perm.c_str(), &end, 8);
    if (*end != '\0' || p < 0 || p > 07777)
      return Status::error(v.where("unix_perm") + ": invalid value '" + perm +
                           "' for 'unix_perm' in [INPUT] forward: expected octal permissions like 0666");
    c.unixPerm = static_cast<int>(p);
  }
  c.tag = std::string(v.str("Tag"));
  c.tagPrefix = std::string(v.str("tag_prefix"));
  c.ackAfterDelivered = v.str("ack_after") == "delivered";
  c.bufferChunkSize = std::max<size_t>(4096, v.size("buffer_chunk_size"));
  c.bufferMaxSize = std::max<size_t>(c.bufferChunkSize, v.size("buffer_max_size"));
  c.limits.maxFrameBytes = c.bufferMaxSize;
  c.limits.maxDecompressedBytes = std::max<size_t>(c.bufferMaxSize * 16, 64u << 20);
  c.security.sharedKey = std::string(v.str("shared_key"));
  if (v.boolean("empty_shared_key")) {
    // Fluent Bit silently lets the empty key win; here a config naming both is a mistake.
    if (!c.security.sharedKey.empty())
      return Status::error(v.where("empty_shared_key") +
                           ": 'empty_shared_key' and 'shared_key' in [INPUT] forward exclude each other");
    c.security.emptySharedKey = true;
  }
  c.security.selfHostname = std::string(v.str("self_hostname"));
  if (c.security.selfHostname.empty()) {
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    c.security.selfHostname = host;
  }
  for (std::string_view u : v.all("security.users")) {
    size_t sp = u.find_first_of(" \t");
    size_t pw = sp == std::string_view::npos ? sp : u.find_first_not_of(" \t", sp);
    if (pw == std::string_view::npos)
      return Status::error(v.where("security.users") +
                           ": invalid value for 'security.users' in [INPUT] forward: expected 'user password'");
    c.security.users.push_back({std::string(u.substr(0, sp)), std::string(u.substr(pw))});
  }
  if (!c.security.users.empty() && !c.security.handshake())
    return Status::error(v.where("security.users") +
                         ": 'security.users' in [INPUT] forward needs 'shared_key' (or 'empty_shared_key on')");
  if (v.boolean("tls")) {
    if (v.str("tls.crt_file").empty() || v.str("tls.key_file").empty())
      return Status::error(v.where("tls") + ": 'tls on' in [INPUT] forward needs 'tls.crt_file' and 'tls.key_file'");
    net::TlsOptions o;
    o.server = true;
    o.crtFile = std::string(v.str("tls.crt_file"));
    o.keyFile = std::string(v.str("tls.key_file"));
    o.verify = v.boolean("tls.verify");
    o.caFile = std::string(v.str("tls.ca_file"));
    if (o.verify && o.caFile.empty())
      return Status::error(v.where("tls.verify") + ": 'tls.verify' in [INPUT] forward needs 'tls.ca_file'");
    auto ctx = net::TlsContext::create(o);
    if (!ctx) return Status::error(v.where("tls.crt_file") + ": " + ctx.message());
    c.security.tls = *ctx;
  }
  int64_t maxConn = v.integer("max_connections");
  if (maxConn < 0)
    return Status::error(v.where("max_connections") +
                         ": invalid value for 'max_connections' in [INPUT] forward: expected 0 or more");
  c.maxConnections = static_cast<size_t>(maxConn);
  c.idleTimeoutSec = v.seconds("idle_timeout");
  c.udpHeartbeat = v.boolean("udp_heartbeat");
  return std::shared_ptr<InputFactory>(std::make_shared<ForwardFactory>(std::move(c)));
}

}  // namespace

void registerPlugin(Registry& registry) {
  PluginInfo info;
  info.kind = PluginKind::Input;
  info.name = "forward";
  info.description = "Fluentd forward protocol over TCP or a unix socket (all four modes, acks)";
  info.options = optionTable();
  info.makeInput = makeFactory;
  registry.add(std::move(info));
}

}  // namespace firelane::inputs::forward
