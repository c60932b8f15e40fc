// End to end: the forward input's UDP heartbeat (Fluentd's in_forward behaviour: every datagram on
// the TCP port is answered with one 0x00 byte) and `udp_heartbeat off`.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>

#include "e2e/e2e_util.h"

namespace firelane::e2e {
namespace {

// A UDP socket connected to 127.0.0.1:port (so ICMP port-unreachable comes back as ECONNREFUSED).
class UdpClient {
 public:
  explicit UdpClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  }
  ~UdpClient() { ::close(fd_); }
  UdpClient(const UdpClient&) = delete;
  UdpClient& operator=(const UdpClient&) = delete;

  bool send(const std::string& bytes) { return ::send(fd_, bytes.data(), bytes.size(), 0) == ssize_t(bytes.size()); }

  struct Reply {
    std::string bytes;
    int error = 0;  // errno of a failed recv (ECONNREFUSED: nobody listens)
  };
  // The next datagram or error within `timeout`; nullopt at the deadline.
  std::optional<Reply> receive(Millis timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    char buf[256];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n < 0) return Reply{{}, errno};
    return Reply{std::string(buf, static_cast<size_t>(n)), 0};
  }

 private:
  int fd_ = -1;
};

}  // namespace

TEST_CASE("forward input: a UDP heartbeat on the TCP port is answered with one zero byte",
          "[e2e][forward][heartbeat]") {
  Firelane agg;
  // Two workers: the heartbeat socket lives on one of them, the TCP port on both.
  agg.start("[SERVICE]\n    Flush 0.05\n    Grace 1\n    workers 2\n"
            "[INPUT]\n    Name forward\n    Listen 127.0.0.1\n    Port 0\n"
            "[OUTPUT]\n    Name stdout\n    Match *\n    Format json_lines\n");
  // Fluentd's out_forward sends "\0"; Fluentd answers any datagram, so do we (also a truncated one).
  const std::string zero(1, '\0');
  for (const std::string& ping : {zero, zero, std::string("\xc0"), std::string(300, 'x')}) {
    UdpClient udp(agg.tcpPort());
    REQUIRE(udp.send(ping));
    auto reply = udp.receive(kTimeout);
    REQUIRE(reply);
    CHECK(reply->error == 0);
    CHECK(reply->bytes == std::string(1, '\0'));
  }
  // The TCP side is unaffected.
  auto client = agg.connect();
  REQUIRE(client->send(buildMessage("hb", makeEvents("h", 1)[0])));
  CHECK(fieldOf(agg.lines(1)[0], "id") == "h0");
}

TEST_CASE("forward input: udp_heartbeat off leaves the UDP port closed", "[e2e][forward][heartbeat]") {
  Firelane agg;
  agg.start(forwardToStdoutConfig("    udp_heartbeat off\n"));
  UdpClient udp(agg.tcpPort());
  // Loopback answers a datagram to a closed port with ICMP port-unreachable (ECONNREFUSED on a
  // connected socket). ICMP errors are rate limited, so a lost one is asked for again (bounded).
  std::optional<UdpClient::Reply> reply;
  auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (!reply && std::chrono::steady_clock::now() < deadline) {
    REQUIRE(udp.send(std::string(1, '\0')));
    reply = udp.receive(Millis(200));
  }
  REQUIRE(reply);
  CHECK(reply->error == ECONNREFUSED);
  CHECK(reply->bytes.empty());
  CHECK(agg.proc().stderrText().find("udp heartbeat") == std::string::npos);
}

}  // namespace firelane::e2e
