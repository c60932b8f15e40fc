// The fluent-bit style command line and the pipeline it builds.
#include <catch2/catch.hpp>

#include "core/app/builtin_plugins.h"
#include "core/app/cli.h"
#include "core/config/classic_parser.h"
#include "core/config/pipeline.h"

using namespace firelane;

namespace {
Registry builtin() {
  Registry r;
  registerBuiltinPlugins(r);
  return r;
}

Result<PipelineConfig> pipelineFromText(const std::string& text) {
  auto doc = config::parseString(text, "t.conf", "/tmp");
  if (!doc) return doc.status();
  return buildPipeline(*doc, builtin());
}
}  // namespace

TEST_CASE("CLI -i/-p/-t/-o/-m/-f build sections", "[cli]") {
  auto cli = app::parseCli({"-i", "dummy", "-p", "Rate=5", "-t", "t1", "-o", "stdout", "-m", "t*", "-f", "0.5"});
  REQUIRE(cli.ok());
  REQUIRE(cli->sections.size() == 3);
  CHECK(cli->sections[0].kind == "input");
  CHECK(cli->sections[0].find("Name")->value == "dummy");
  CHECK(cli->sections[0].find("rate")->value == "5");
  CHECK(cli->sections[0].find("Tag")->value == "t1");
  CHECK(cli->sections[1].find("Match")->value == "t*");
  CHECK(cli->sections[2].kind == "service");
  CHECK(cli->sections[2].find("Flush")->value == "0.5");

  auto doc = app::loadConfig(*cli);
  REQUIRE(doc.ok());
  auto pc = buildPipeline(*doc, builtin());
  REQUIRE(pc.ok());
  CHECK(pc->service.flushSeconds == 0.5);
  REQUIRE(pc->inputs.size() == 1);
  CHECK(pc->inputs[0].instance == "dummy.0");
  REQUIRE(pc->outputs.size() == 1);
  CHECK(pc->outputs[0].matcher.matches("t1"));
  CHECK_FALSE(pc->outputs[0].matcher.matches("x1"));
}

TEST_CASE("CLI -o without -m matches everything", "[cli]") {
  auto cli = app::parseCli({"-i", "dummy", "-o", "null"});
  REQUIRE(cli.ok());
  CHECK(cli->sections[1].find("Match")->value == "*");
}

TEST_CASE("CLI errors", "[cli]") {
  CHECK(app::parseCli({"-p", "a=b"}).message() == "-p 'a=...' must follow -i, -F or -o");
  CHECK(app::parseCli({"-i", "dummy", "-p", "novalue"}).message() == "-p 'novalue': expected KEY=VALUE");
  CHECK(app::parseCli({"-i"}).message() == "option -i needs a value");
  CHECK(app::parseCli({"--bogus"}).message() == "unknown option '--bogus' (see firelane -h)");
  CHECK(app::parseCli({"-i", "dummy", "-m", "x"}).message() == "-m must follow -F or -o");
}

TEST_CASE("CLI --help after a plugin selects that plugin's help", "[cli]") {
  auto cli = app::parseCli({"-o", "stdout", "--help"});
  REQUIRE(cli.ok());
  CHECK(cli->pluginHelp);
  CHECK(cli->helpName == "stdout");
  auto text = app::pluginHelp(builtin(), cli->helpKind, cli->helpName);
  REQUIRE(text.ok());
  CHECK(text->find("OUTPUT stdout") == 0);
  CHECK(text->find("json_date_key") != std::string::npos);
  CHECK(text->find("Match") != std::string::npos);  // common options listed too
  CHECK(app::pluginHelp(builtin(), PluginKind::Input, "nope").message() == "unknown input plugin 'nope'");
}

TEST_CASE("pipeline: unknown plugin names suggest the closest", "[cli][config]") {
  auto pc = pipelineFromText("[INPUT]\n    Name forwrd\n[OUTPUT]\n    Name null\n    Match *\n");
  REQUIRE_FALSE(pc.ok());
  CHECK(pc.message() == "t.conf:2: unknown input plugin 'forwrd' (did you mean 'forward'?)");
  pc = pipelineFromText("[INPUT]\n    Name dummy\n[OUTPUT]\n    Name zzzzzzzz\n    Match *\n");
  REQUIRE_FALSE(pc.ok());
  CHECK(pc.message().find("t.conf:4: unknown output plugin 'zzzzzzzz'; available: ") == 0);
}

TEST_CASE("pipeline: unknown key in a plugin section names file, line and a suggestion", "[cli][config]") {
  auto pc = pipelineFromText("[INPUT]\n    Name forward\n    Prot 24224\n[OUTPUT]\n    Name null\n    Match *\n");
  REQUIRE_FALSE(pc.ok());
  CHECK(pc.message() == "t.conf:3: unknown key 'Prot' in [INPUT] forward (did you mean 'Port'?)");
}

TEST_CASE("pipeline: section problems", "[cli][config]") {
  CHECK(pipelineFromText("[INPUT]\n    Tag x\n").message() == "t.conf:1: [INPUT] section without a Name");
  CHECK(pipelineFromText("[INPT]\n    Name x\n").message() == "t.conf:1: unknown section [inpt]");
  CHECK(pipelineFromText("[OUTPUT]\n    Name null\n    Match *\n").message() ==
        "no inputs configured: add an [INPUT] section or -i NAME");
  CHECK(pipelineFromText("[INPUT]\n    Name dummy\n").message() ==
        "no outputs configured: add an [OUTPUT] section or -o NAME");
}

TEST_CASE("pipeline: Retry_Limit values", "[cli][config]") {
  int n = 0;
  CHECK((parseRetryLimit("3", n) && n == 3));
  CHECK((parseRetryLimit("no_limits", n) && n == -1));
  CHECK((parseRetryLimit("False", n) && n == -1));
  CHECK((parseRetryLimit("no_retries", n) && n == 0));
  CHECK_FALSE(parseRetryLimit("-2", n));
  CHECK_FALSE(parseRetryLimit("many", n));
  auto pc = pipelineFromText("[INPUT]\n    Name dummy\n[OUTPUT]\n    Name null\n    Match *\n    Retry_Limit many\n");
  REQUIRE_FALSE(pc.ok());
  CHECK(pc.message() ==
        "t.conf:6: invalid value 'many' for 'Retry_Limit' in [OUTPUT] null: expected a number, no_limits or no_retries");
}

TEST_CASE("pipeline: concurrency and storage.total_limit_policy values", "[cli][config]") {
  auto build = [](const std::string& extra) {
    return pipelineFromText("[INPUT]\n    Name dummy\n[OUTPUT]\n    Name null\n    Match *\n" + extra);
  };
  auto pc = build("");
  REQUIRE(pc.ok());
  CHECK(pc->outputs[0].adaptiveConcurrency);
  CHECK_FALSE(pc->outputs[0].storageDropOldest);
  pc = build("    Concurrency Fixed\n    storage.total_limit_policy Drop_Oldest\n");  // keys and values in any case
  REQUIRE(pc.ok());
  CHECK_FALSE(pc->outputs[0].adaptiveConcurrency);
  CHECK(pc->outputs[0].storageDropOldest);
  pc = build("    concurrency sometimes\n");
  REQUIRE_FALSE(pc.ok());
  CHECK(pc.message() ==
        "t.conf:6: invalid value 'sometimes' for 'concurrency' in [OUTPUT] null: expected one of: adaptive, fixed");
}

TEST_CASE("pipeline: service defaults match Fluent Bit", "[cli][config]") {
  auto pc = pipelineFromText("[INPUT]\n    Name dummy\n[OUTPUT]\n    Name null\n    Match *\n");
  REQUIRE(pc.ok());
  CHECK(pc->service.flushSeconds == 1.0);
  CHECK(pc->service.graceSeconds == 5.0);
  CHECK(pc->service.httpPort == 2020);
  CHECK(pc->service.schedulerBase == 5.0);
  CHECK(pc->service.workers >= 1);
  CHECK(pc->outputs[0].retryLimit == 1);
}

TEST_CASE("pipeline: instance names count per plugin; Alias replaces them", "[cli][config]") {
  auto pc = pipelineFromText(
      "[INPUT]\n    Name dummy\n[INPUT]\n    Name dummy\n    Alias second\n[INPUT]\n    Name dummy\n"
      "[OUTPUT]\n    Name null\n    Match *\n");
  REQUIRE(pc.ok());
  REQUIRE(pc->inputs.size() == 3);
  CHECK(pc->inputs[0].instance == "dummy.0");
  CHECK(pc->inputs[1].instance == "second");
  CHECK(pc->inputs[2].instance == "dummy.2");
}

TEST_CASE("pipeline: an output without Match gets a warning", "[cli][config]") {
  auto pc = pipelineFromText("[INPUT]\n    Name dummy\n[OUTPUT]\n    Name null\n");
  REQUIRE(pc.ok());
  REQUIRE(pc->warnings.size() == 1);
  CHECK(pc->warnings[0] == "t.conf:3: [OUTPUT] null has no Match rule; it gets no records");
}
