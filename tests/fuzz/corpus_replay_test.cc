// Replays every seed corpus (tests/fuzz/corpus/<target>/) through its fuzz target's entry function
// in the normal build (no clang needed): valid inputs, hostile bytes and every crash the fuzzers
// found must run cleanly, and so must truncated copies of them. Then a short, seeded mutation run
// per target: under the sanitizer build (CI) it is a bounded fuzz pass without clang; the
// coverage-guided libFuzzer runs are scripts/fuzz.sh.
#include <catch2/catch.hpp>
#include <chrono>
#include <random>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

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

// Runs up to `rounds` mutants of the corpus of `target` (bit flips, byte runs, inserts, deletes,
// splices of two seeds, cuts) from a fixed seed, stopping early after `budget` so a slow machine
// stays bounded. Returns the number of mutants run.
size_t mutate(const std::string& target, Entry entry, size_t rounds, std::chrono::seconds budget) {
  const fs::path dir = fs::path(FIRELANE_SOURCE_DIR) / "tests" / "fuzz" / "corpus" / target;
  std::vector<std::string> seeds;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) seeds.push_back(readAll(e.path()));
  REQUIRE_FALSE(seeds.empty());
  std::mt19937_64 rng(20261205);
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  auto deadline = std::chrono::steady_clock::now() + budget;
  size_t run = 0;
  for (; run < rounds && std::chrono::steady_clock::now() < deadline; ++run) {
    std::string m = seeds[pick(seeds.size())];
    for (int k = 1 + static_cast<int>(pick(4)); k > 0; --k) {
      size_t at = pick(m.size() + 1);
      switch (pick(6)) {
        case 0: if (!m.empty()) m[pick(m.size())] ^= static_cast<char>(1u << pick(8)); break;
        case 1: if (!m.empty()) m[pick(m.size())] = static_cast<char>(pick(2) ? 0xff : 0x00); break;
        case 2: m.insert(at, pick(16) + 1, static_cast<char>(rng())); break;
        case 3: m.erase(at, pick(32) + 1); break;
        case 4: {
          const std::string& other = seeds[pick(seeds.size())];
          size_t from = pick(other.size() + 1);
          m.insert(at, other.substr(from, pick(256) + 1));
          break;
        }
        default: m.resize(at); break;
      }
    }
    INFO(target << " mutant " << run);
    REQUIRE(entry(reinterpret_cast<const uint8_t*>(m.data()), m.size()) == 0);
  }
  return run;
}

}  // namespace

TEST_CASE("fuzz smoke: seeded mutants of every corpus run cleanly", "[fuzz][mutate]") {
  using std::chrono::seconds;
  CHECK(mutate("forward", &LLVMFuzzerTestOneInput, 20000, seconds(5)) > 0);
  CHECK(mutate("config", &firelane::fuzz::configOneInput, 300, seconds(5)) > 0);
  CHECK(mutate("http", &firelane::fuzz::httpOneInput, 2000, seconds(5)) > 0);
  CHECK(mutate("parser", &firelane::fuzz::parserOneInput, 5000, seconds(5)) > 0);
  CHECK(mutate("spool", &firelane::fuzz::spoolOneInput, 2000, seconds(5)) > 0);
}

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
