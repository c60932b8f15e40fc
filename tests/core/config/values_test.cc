// Tests for the scalar value parsers: sizes with Fluent Bit's suffixes, bools, integers, seconds.
#include "core/config/values.h"

#include <catch2/catch.hpp>

namespace firelane::config {
namespace {

TEST_CASE("parseSize reads plain byte counts", "[config]") {
  CHECK(parseSize("0") == 0u);
  CHECK(parseSize("1024") == 1024u);
  CHECK(parseSize("9223372036854775807") == 9223372036854775807u);
}

TEST_CASE("parseSize uses decimal K, M and G like flb_utils_size_to_bytes", "[config]") {
  CHECK(parseSize("1k") == 1000u);
  CHECK(parseSize("1K") == 1000u);
  CHECK(parseSize("1KB") == 1000u);
  CHECK(parseSize("1kb") == 1000u);
  CHECK(parseSize("32k") == 32000u);
  CHECK(parseSize("5M") == 5000000u);
  CHECK(parseSize("5m") == 5000000u);
  CHECK(parseSize("25MB") == 25000000u);
  CHECK(parseSize("25mB") == 25000000u);
  CHECK(parseSize("1G") == 1000000000u);
  CHECK(parseSize("2gb") == 2000000000u);
}

TEST_CASE("parseSize uses binary multiples for KiB, MiB and GiB", "[config]") {
  CHECK(parseSize("1KiB") == 1024u);
  CHECK(parseSize("5MiB") == 5u * 1024 * 1024);
  CHECK(parseSize("1gib") == 1024u * 1024 * 1024);
}

TEST_CASE("parseSize accepts decimals and truncates to whole bytes", "[config]") {
  CHECK(parseSize("1.5M") == 1500000u);
  CHECK(parseSize("0.5K") == 500u);
  CHECK(parseSize(".5K") == 500u);
  CHECK(parseSize("2.K") == 2000u);
  CHECK(parseSize("1.0005K") == 1000u);
  CHECK(parseSize("1.5KiB") == 1536u);
  CHECK(parseSize("1.5") == 1u);
}

TEST_CASE("parseSize reads 'false' as 0 like Fluent Bit", "[config]") {
  CHECK(parseSize("false") == 0u);
  CHECK(parseSize("FALSE") == 0u);
}

TEST_CASE("parseSize rejects negatives, blanks, garbage and overflow", "[config]") {
  for (const char* bad : {"",
                          "-1",
                          "-1M",
                          "abc",
                          "M",
                          "KB",
                          ".",
                          ".K",
                          "1X",
                          "1MBB",
                          "1Mi",
                          "1B",
                          "1.2.3M",
                          " 1M",
                          "1M ",
                          "1 M",
                          "+1",
                          "1e3",
                          "0x10",
                          "true",
                          "9223372036854775808",
                          "9999999999G",
                          "9223372036854776K",
                          "99999999999999999999999999"}) {
    INFO("text: '" << bad << "'");
    CHECK_FALSE(parseSize(bad).has_value());
  }
}

TEST_CASE("parseBool accepts Fluent Bit's spellings case-insensitively", "[config]") {
  for (const char* yes : {"on", "ON", "true", "True", "yes", "YES", "1"}) {
    INFO(yes);
    CHECK(parseBool(yes) == true);
  }
  for (const char* no : {"off", "Off", "false", "FALSE", "no", "No", "0"}) {
    INFO(no);
    CHECK(parseBool(no) == false);
  }
  for (const char* bad : {"", "2", "enable", "onn", " on", "y", "-1"}) {
    INFO(bad);
    CHECK_FALSE(parseBool(bad).has_value());
  }
}

TEST_CASE("parseInt reads signed decimals without trailing garbage", "[config]") {
  CHECK(parseInt("0") == 0);
  CHECK(parseInt("42") == 42);
  CHECK(parseInt("-7") == -7);
  CHECK(parseInt("+7") == 7);
  CHECK(parseInt("9223372036854775807") == INT64_MAX);
  CHECK(parseInt("-9223372036854775808") == INT64_MIN);
  for (const char* bad :
       {"", "+", "-", "1.5", "12abc", " 1", "1 ", "9223372036854775808", "+-1", "0x10", "abc"}) {
    INFO(bad);
    CHECK_FALSE(parseInt(bad).has_value());
  }
}

TEST_CASE("parseSeconds reads non-negative decimal seconds", "[config]") {
  CHECK(parseSeconds("1") == 1.0);
  CHECK(parseSeconds("0") == 0.0);
  CHECK(parseSeconds("0.5") == 0.5);
  CHECK(parseSeconds(".25") == 0.25);
  CHECK(parseSeconds("5.") == 5.0);
  CHECK(parseSeconds("2000") == 2000.0);
  for (const char* bad : {"", ".", "-1", "+1", "1e3", "inf", "nan", "1s", "1.2.3", " 1"}) {
    INFO(bad);
    CHECK_FALSE(parseSeconds(bad).has_value());
  }
}

}  // namespace
}  // namespace firelane::config
