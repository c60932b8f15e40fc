// Routing rules: Fluent Bit Match globbing and Match_Regex.
#include <catch2/catch.hpp>

#include "core/router/tag_matcher.h"

using firelane::globMatch;
using firelane::TagMatcher;

TEST_CASE("Match '*' spans dots and any run of characters", "[router]") {
  CHECK(globMatch("*", ""));
  CHECK(globMatch("*", "app.web.1"));
  CHECK(globMatch("app.*", "app.web.1"));
  CHECK(globMatch("app-firelens*", "app-firelens-0123456789abcdef"));
  CHECK(globMatch("*-firelens-*", "web-firelens-abc"));
  CHECK(globMatch("a*b*c", "a.x.b.y.c"));
  CHECK(globMatch("a**c", "abc"));
  CHECK_FALSE(globMatch("app.*", "app"));
  CHECK_FALSE(globMatch("app.*", "other.app.x"));
  CHECK_FALSE(globMatch("a*b*c", "a.x.b.y.d"));
  CHECK(globMatch("exact", "exact"));
  CHECK_FALSE(globMatch("exact", "exact2"));
  CHECK_FALSE(globMatch("exact2", "exact"));
}

TEST_CASE("Match is case-sensitive", "[router]") {
  auto m = TagMatcher::create("App.*", "");
  REQUIRE(m.ok());
  CHECK(m->matches("App.x"));
  CHECK_FALSE(m->matches("app.x"));
}

TEST_CASE("Match_Regex is anchored at the start and wins over Match", "[router]") {
  auto m = TagMatcher::create("nothing", "web-[0-9]+");
  REQUIRE(m.ok());
  CHECK(m->matches("web-12"));
  CHECK(m->matches("web-12.extra"));  // anchored at the start only
  CHECK_FALSE(m->matches("xweb-12"));
  CHECK_FALSE(m->matches("nothing"));  // Match is ignored when Match_Regex is set
  CHECK(m->describe() == "Match_Regex web-[0-9]+");
}

TEST_CASE("an invalid Match_Regex reports re2's message", "[router]") {
  auto m = TagMatcher::create("", "web-(");
  REQUIRE_FALSE(m.ok());
  CHECK(m.message().find("invalid Match_Regex 'web-('") == 0);
  CHECK(m.message().find("missing )") != std::string::npos);
}

TEST_CASE("an empty matcher matches nothing", "[router]") {
  TagMatcher m;
  CHECK(m.empty());
  CHECK_FALSE(m.matches("anything"));
  auto m2 = TagMatcher::create("", "");
  REQUIRE(m2.ok());
  CHECK_FALSE(m2->matches(""));
}
