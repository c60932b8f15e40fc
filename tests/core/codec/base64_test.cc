// Base64 against the RFC 4648 test vectors.
#include <catch2/catch.hpp>

#include "core/codec/base64.h"

using firelane::codec::base64;

TEST_CASE("base64 matches RFC 4648 vectors", "[codec][base64]") {
  CHECK(base64("") == "");
  CHECK(base64("f") == "Zg==");
  CHECK(base64("fo") == "Zm8=");
  CHECK(base64("foo") == "Zm9v");
  CHECK(base64("foob") == "Zm9vYg==");
  CHECK(base64("fooba") == "Zm9vYmE=");
  CHECK(base64("foobar") == "Zm9vYmFy");
  CHECK(base64(std::string("\xff\xfe\x00", 3)) == "//4A");
}
