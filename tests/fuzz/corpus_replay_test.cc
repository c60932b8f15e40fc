// Replays every seed corpus (tests/fuzz/corpus/<target>/) through its fuzz target's entry function
// in the normal build (no clang needed): valid inputs, hostile bytes and every crash the fuzzers
// found must run cleanly, and so must truncated copies of them.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;
using Entry = int (*)(const uint8_t*, size_t);

std::string readAll(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Runs every file of corpus/<target> and `prefixes` truncations of it (all of them when the file is
// shorter); returns the number of files.
size_t replay(const std::string& target, Entry entry, size_t prefixes) {
  const fs::path dir = fs::path(FIRELANE_SOURCE_DIR) / "tests" / "fuzz" / "corpus" / target;
  REQUIRE(fs::is_directory(dir));
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string bytes = readAll(e.path());
    INFO(target << "/" << e.path().filename().string());
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    CHECK(entry(p, bytes.size()) == 0);
    // Truncated inputs are the common hostile case (a torn file, a cut connection).
    size_t stride = bytes.size() <= prefixes ? 1 : bytes.size() / prefixes;
    for (size_t n = 0; n < bytes.size(); n += stride) CHECK(entry(p, n) == 0);
    ++files;
  }
  return files;
}

}  // namespace

TEST_CASE("forward fuzz corpus replays through the decoder and handshake parsers", "[fuzz][forward]") {
  CHECK(replay("forward", &LLVMFuzzerTestOneInput, 512) >= 8);
}

TEST_CASE("config fuzz corpus replays through the classic parser and buildPipeline", "[fuzz][config]") {
  CHECK(replay("config", &firelane::fuzz::configOneInput, 64) >= 5);
}

TEST_CASE("http fuzz corpus replays through the HTTP/1.1 and h2 response paths", "[fuzz][http]") {
  CHECK(replay("http", &firelane::fuzz::httpOneInput, 32) >= 8);
}

TEST_CASE("parser fuzz corpus replays through the JSON and regex parsers and the parser filter", "[fuzz][parser]") {
  CHECK(replay("parser", &firelane::fuzz::parserOneInput, 64) >= 5);
}

TEST_CASE("spool fuzz corpus replays through segment recovery", "[fuzz][spool]") {
  CHECK(replay("spool", &firelane::fuzz::spoolOneInput, 32) >= 5);
}

TEST_CASE("http fuzz seeds reach the HTTP/1.1 and h2 response parsers", "[fuzz][http]") {
  // The harness is only useful if well-formed seeds produce real responses.
  auto run = [](const char* name) {
    std::string bytes = readAll(fs::path(FIRELANE_SOURCE_DIR) / "tests" / "fuzz" / "corpus" / "http" / name);
    return firelane::fuzz::httpExchange(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  };
  auto h1 = run("h1_ok");
  REQUIRE(h1.size() == 1);
  CHECK(h1[0].status == 202);
  CHECK(h1[0].body == "{}");
  CHECK_FALSE(h1[0].http2);

  auto two = run("h1_two_keepalive");
  REQUIRE(two.size() == 2);
  CHECK(two[0].status == 200);
  CHECK(two[1].status == 413);
  CHECK(two[1].body == "big");

  auto cut = run("h1_close_delimited");
  REQUIRE(cut.size() == 1);
  CHECK(cut[0].status == 200);
  CHECK(cut[0].body == "a body longer th");  // maxResponseBody 16

  auto proxied = run("proxy_connect");
  REQUIRE(proxied.size() == 1);
  CHECK(proxied[0].status == 200);
  CHECK(proxied[0].body == "ok");

  auto refusedProxy = run("proxy_refused");
  REQUIRE(refusedProxy.size() == 1);
  CHECK(refusedProxy[0].status == 0);
  CHECK(refusedProxy[0].error.find("407") != std::string::npos);

  auto h2 = run("h2_ok");
  REQUIRE(h2.size() == 1);
  CHECK(h2[0].status == 200);
  CHECK(h2[0].body == "{\"ok\":true}");
  CHECK(h2[0].http2);

  auto h2retry = run("h2_retry_after");
  REQUIRE(h2retry.size() == 1);
  CHECK(h2retry[0].status == 429);
  CHECK(h2retry[0].retryAfter == "3");
  CHECK(h2retry[0].body.size() == 16);

  auto h2proxy = run("h2_proxy");
  REQUIRE(h2proxy.size() == 1);
  CHECK(h2proxy[0].status == 200);
  CHECK(h2proxy[0].http2);
}
