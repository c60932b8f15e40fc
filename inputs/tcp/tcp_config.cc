// The tcp input's option table, validation, listener set-up (main thread) and factory.
#include "inputs/tcp/tcp_config.h"

#include <unistd.h>
#include <utility>

#include "core/common/log.h"
#include "core/config/document.h"
#include "core/config/values.h"
#include "core/net/listen_socket.h"
#include "inputs/tcp/tcp.h"

namespace firelane::inputs::tcp {
namespace {

std::vector<OptionSpec> optionTable() {
  using T = OptionType;
  return {
      {"Listen", T::String, "0.0.0.0", "address to listen on"},
      {"Port", T::Int, "5170", "TCP port (0 = any free port, reported in the log)"},
      {"Format", T::Enum, "json", "json: a stream of JSON objects; none: one {\"log\": chunk} per Separator", false,
       false, false, {"json", "none"}},
      {"Separator", T::String, "\\n", "record boundary for Format none (\\n, \\r, \\t escapes allowed)"},
      {"Chunk_Size", T::String, "32", "receive step per connection: KB as a number (Fluent Bit), or a size like 64KB"},
      {"Buffer_Size", T::String, "", "largest JSON object or line (same units; default Chunk_Size); "
                                     "bigger ones close the connection"},
  };
}

// Fluent Bit reads a bare number as kilobytes (atoi(value) * 1024); a unit suffix is a size.
std::optional<size_t> parseKb(std::string_view text) {
  if (auto n = config::parseInt(text)) {
    if (*n <= 0 || *n > (1 << 20)) return std::nullopt;
    return static_cast<size_t>(*n) * 1024;
  }
  auto s = config::parseSize(text);
  if (!s || *s == 0 || *s > (1ull << 30)) return std::nullopt;
  return static_cast<size_t>(*s);
}

std::string unescapeSeparator(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\\' && i + 1 < in.size()) {
      char n = in[i + 1];
      if (n == 'n' || n == 'r' || n == 't' || n == '\\') {
        out += n == 'n' ? '\n' : n == 'r' ? '\r' : n == 't' ? '\t' : '\\';
        ++i;
        continue;
      }
    }
    out += in[i];
  }
  return out;
}

class TcpFactory final : public InputFactory {
 public:
  explicit TcpFactory(TcpConfig cfg) : cfg_(std::move(cfg)) {}
  ~TcpFactory() override {
    for (int fd : fds_)
      if (fd >= 0) ::close(fd);
  }
  Placement placement() const override { return Placement::PerWorker; }

  Status prepare(unsigned workers) override {
    auto bound = net::bindReusePortTcp(cfg_.listen, cfg_.port, workers);
    if (!bound) return bound.status();
    fds_ = std::move(bound->fds);
    FL_INFO("[input:tcp:%s] listening on tcp %s", cfg_.instance.c_str(), bound->endpoint().c_str());
    return {};
  }

  InputPtr create(unsigned workerId) const override {
    // The input owns its listening socket so that stopAccepting() really closes it.
    return std::make_unique<TcpInput>(cfg_, std::exchange(fds_.at(workerId), -1));
  }

 private:
  TcpConfig cfg_;
  mutable std::vector<int> fds_;
};

Result<std::shared_ptr<InputFactory>> makeFactory(const OptionValues& v, const PluginEnv& env) {
  TcpConfig c;
  c.instance = env.instanceName;
  c.listen = std::string(v.str("Listen"));
  int64_t port = v.integer("Port");
  if (port < 0 || port > 65535)
    return Status::error(v.where("Port") + ": invalid value '" + std::to_string(port) +
                         "' for 'Port' in [INPUT] tcp: expected 0-65535");
  c.port = static_cast<int>(port);
  c.format = config::iequals(v.str("Format"), "none") ? Format::None : Format::Json;
  c.separator = unescapeSeparator(v.str("Separator"));
  if (c.separator.empty())
    return Status::error(v.where("Separator") + ": 'Separator' in [INPUT] tcp must not be empty");
  auto chunk = parseKb(v.str("Chunk_Size"));
  if (!chunk)
    return Status::error(v.where("Chunk_Size") + ": invalid value '" + std::string(v.str("Chunk_Size")) +
                         "' for 'Chunk_Size' in [INPUT] tcp: expected KB (e.g. 32) or a size (e.g. 64KB)");
  c.chunkSize = *chunk;
  c.bufferSize = c.chunkSize;
  if (v.isSet("Buffer_Size")) {
    auto buf = parseKb(v.str("Buffer_Size"));
    if (!buf)
      return Status::error(v.where("Buffer_Size") + ": invalid value '" + std::string(v.str("Buffer_Size")) +
                           "' for 'Buffer_Size' in [INPUT] tcp: expected KB (e.g. 32) or a size (e.g. 64KB)");
    c.bufferSize = *buf;
  }
  c.tag = std::string(v.str("Tag"));
  return std::shared_ptr<InputFactory>(std::make_shared<TcpFactory>(std::move(c)));
}

}  // namespace

void registerPlugin(Registry& registry) {
  PluginInfo info;
  info.kind = PluginKind::Input;
  info.name = "tcp";
  info.description = "JSON objects or separated lines over TCP (Fluent Bit in_tcp; FireLens health check)";
  info.options = optionTable();
  info.makeInput = makeFactory;
  registry.add(std::move(info));
}

}  // namespace firelane::inputs::tcp
