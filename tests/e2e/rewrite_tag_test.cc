// End to end: rewrite_tag re-emits through the real engine without looping, even when its own rule
// and Match accept what it emits; KEEP true prints a record twice, KEEP false once.
#include <catch2/catch.hpp>

#include "e2e/e2e_util.h"

namespace firelane::e2e {

TEST_CASE("rewrite_tag e2e: re-emitted records do not loop", "[e2e][rewrite_tag]") {
  bool keep = GENERATE(false, true);
  INFO("KEEP " << keep);
  Firelane fl;
  fl.start(forwardToStdoutConfig() +
           "\n[FILTER]\n    Name rewrite_tag\n    Match *\n    Rule $log ^loop $TAG.again " + (keep ? "true" : "false") +
           "\n[FILTER]\n    Name record_modifier\n    Match *.again\n    Record retagged yes\n");
  auto c = fl.connect();
  std::vector<Event> events;
  for (uint32_t i = 0; i < 3; ++i) events.push_back(Event{1700000000 + i, 0, {{"log", "loop " + std::to_string(i)}}});
  events.push_back(Event{1700000100, 0, {{"log", "end"}}});
  std::string wire;
  for (const auto& e : events) wire += buildMessage("app", e);
  REQUIRE(c->send(wire, kTimeout));
  // Everything comes out before the sentinel ("end" is not rewritten and follows on the same connection).
  size_t expected = keep ? 7 : 4;
  auto lines = fl.lines(expected);
  CHECK(lines.back().find("\"log\":\"end\"") != std::string::npos);
  size_t retagged = 0;
  for (const auto& l : lines) retagged += l.find("\"retagged\":\"yes\"") != std::string::npos;
  CHECK(retagged == 3);  // each rewritten once, under app.again, and seen by the later filter
  CHECK(fl.proc().takeStdoutLines().empty());
}

}  // namespace firelane::e2e
