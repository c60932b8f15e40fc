// Tests for the classic-format parser: sections, entries, comments, @SET / ${VAR}, @INCLUDE
// (relative, absolute, glob, missing, cycles, depth) and the exact wording of every error.
#include "core/config/classic_parser.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace firelane::config {
namespace {

namespace fs = std::filesystem;

// A fresh folder per test, removed afterwards, so include tests never see each other's files.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "firelane_config_XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Writes `text` to `rel` (creating folders) and returns the full path.
  std::string write(const std::string& rel, const std::string& text) const {
    fs::path p = fs::path(path_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  std::string path(const std::string& rel) const { return (fs::path(path_) / rel).string(); }
  const std::string& dir() const { return path_; }

 private:
  std::string path_;
};

// An environment the tests control, so results do not depend on the machine's variables.
ParseOptions fakeEnv(std::map<std::string, std::string> vars) {
  ParseOptions o;
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  o.getenv = [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
  return o;
}

Result<Document> parse(std::string_view text, const ParseOptions& o = fakeEnv({})) {
  return parseString(text, "test.conf", "", o);
}

std::string errorOf(std::string_view text, const ParseOptions& o = fakeEnv({})) {
  auto r = parse(text, o);
  REQUIRE_FALSE(r.ok());
  return r.message();
}

TEST_CASE("classic parser reads sections and Key Value entries", "[config]") {
  auto r = parse(
      "[SERVICE]\n"
      "    Flush        1\n"
      "    Log_Level    info\n"
      "\n"
      "[INPUT]\n"
      "    Name   forward\n"
      "    Port   24224\n");
  REQUIRE(r.ok());
  const auto& s = r->sections;
  REQUIRE(s.size() == 2);
  CHECK(s[0].kind == "service");
  CHECK(s[0].file == "test.conf");
  CHECK(s[0].line == 1);
  CHECK(s[0].where() == "test.conf:1");
  REQUIRE(s[0].entries.size() == 2);
  CHECK(s[0].entries[0].key == "Flush");
  CHECK(s[0].entries[0].value == "1");
  CHECK(s[0].entries[0].file == "test.conf");
  CHECK(s[0].entries[0].line == 2);
  CHECK(s[0].entries[1].key == "Log_Level");
  CHECK(s[0].entries[1].value == "info");
  CHECK(s[1].kind == "input");
  CHECK(s[1].line == 5);
  REQUIRE(s[1].entries.size() == 2);
  CHECK(s[1].entries[1].key == "Port");
  CHECK(s[1].entries[1].value == "24224");
  CHECK(s[1].entries[1].line == 7);
  CHECK(r->warnings.empty());
}

TEST_CASE("classic parser keeps the value up to the end of the line, trimmed", "[config]") {
  auto r = parse(
      "[FILTER]\n"
      "    Name    grep\n"
      "    Regex   log   ^a b  c$   \n"
      "\tAdd\tkey\tvalue with\ttab\t\n"
      "    Record  url http://x/#anchor\n"
      "    Exclude log # not a comment\n");
  REQUIRE(r.ok());
  const auto& e = r->sections.at(0).entries;
  REQUIRE(e.size() == 5);
  CHECK(e[1].key == "Regex");
  CHECK(e[1].value == "log   ^a b  c$");
  CHECK(e[2].key == "Add");
  CHECK(e[2].value == "key\tvalue with\ttab");
  CHECK(e[3].value == "url http://x/#anchor");
  CHECK(e[4].value == "log # not a comment");
}

TEST_CASE("classic parser ignores full-line comments and blank lines", "[config]") {
  auto r = parse(
      "# top comment\n"
      "\n"
      "[INPUT]\n"
      "    # indented comment\n"
      "#   Name ignored\n"
      "   \t \n"
      "    Name dummy\n"
      "\t# tab comment\n");
  REQUIRE(r.ok());
  REQUIRE(r->sections.size() == 1);
  REQUIRE(r->sections[0].entries.size() == 1);
  CHECK(r->sections[0].entries[0].key == "Name");
  CHECK(r->sections[0].entries[0].line == 7);
}

TEST_CASE("classic parser accepts indented and unindented entries", "[config]") {
  auto r = parse(
      "[OUTPUT]\n"
      "Name stdout\n"
      "    Match *\n"
      "\tFormat json\n"
      "        Alias   out\n");
  REQUIRE(r.ok());
  const auto& e = r->sections.at(0).entries;
  REQUIRE(e.size() == 4);
  CHECK(e[0].key == "Name");
  CHECK(e[1].key == "Match");
  CHECK(e[2].key == "Format");
  CHECK(e[3].value == "out");
}

TEST_CASE("classic parser lower-cases any section name and matches keys case-insensitively", "[config]") {
  auto r = parse(
      "[Service]\n  flush 1\n"
      "[PARSER]\n  Name p\n"
      "[MULTILINE_PARSER]\n  name m\n"
      "[upstream]\n  name u\n"
      "[NODE]\n  name n\n"
      "[PLUGINS]\n  path /x.so\n"
      "[ INPUT ]\n  NAME dummy\n");
  REQUIRE(r.ok());
  std::vector<std::string> kinds;
  for (const auto& s : r->sections) kinds.push_back(s.kind);
  CHECK(kinds == std::vector<std::string>{"service", "parser", "multiline_parser", "upstream", "node",
                                          "plugins", "input"});
  const Section& service = r->sections[0];
  REQUIRE(service.find("FLUSH") != nullptr);
  CHECK(service.find("FLUSH")->key == "flush");  // case preserved as written
  CHECK(service.find("Flush")->value == "1");
  CHECK(service.find("Grace") == nullptr);
  CHECK(r->sections.back().find("name")->value == "dummy");
}

TEST_CASE("classic parser keeps repeated keys in order and find returns the last", "[config]") {
  auto r = parse(
      "[FILTER]\n"
      "    Name   record_modifier\n"
      "    Record a 1\n"
      "    record b 2\n"
      "    RECORD c 3\n");
  REQUIRE(r.ok());
  const Section& s = r->sections.at(0);
  std::vector<std::string> values;
  for (const auto& e : s.entries)
    if (iequals(e.key, "record")) values.push_back(e.value);
  CHECK(values == std::vector<std::string>{"a 1", "b 2", "c 3"});
  REQUIRE(s.find("Record") != nullptr);
  CHECK(s.find("Record")->value == "c 3");
  CHECK(s.find("Record")->line == 5);
}

TEST_CASE("iequals compares ASCII case-insensitively", "[config]") {
  CHECK(iequals("Mem_Buf_Limit", "mem_buf_LIMIT"));
  CHECK(iequals("", ""));
  CHECK_FALSE(iequals("Port", "Ports"));
  CHECK_FALSE(iequals("Port", "Fort"));
}

TEST_CASE("classic parser tolerates CRLF line endings and a byte order mark", "[config]") {
  auto r = parse(
      "\xEF\xBB\xBF[INPUT]\r\n    Name forward\r\n    Tag  app\r\n\r\n# c\r\n[OUTPUT]\r\n  Name null\r\n");
  REQUIRE(r.ok());
  REQUIRE(r->sections.size() == 2);
  CHECK(r->sections[0].kind == "input");
  CHECK(r->sections[0].entries[0].value == "forward");
  CHECK(r->sections[0].entries[1].value == "app");
  CHECK(r->sections[1].line == 6);
  CHECK(r->sections[1].entries[0].value == "null");
}

TEST_CASE("classic parser handles a last line without a newline", "[config]") {
  auto r = parse("[INPUT]\n  Name dummy");
  REQUIRE(r.ok());
  CHECK(r->sections.at(0).entries.at(0).value == "dummy");
}

TEST_CASE("classic parser reports entries outside of a section", "[config]") {
  CHECK(errorOf("# header\n  Name forward\n[INPUT]\n") ==
        "test.conf:2: entry outside of a section: 'Name'");
}

TEST_CASE("classic parser reports a key without a value", "[config]") {
  CHECK(errorOf("[INPUT]\n    Name\n") == "test.conf:2: key 'Name' has no value");
  CHECK(errorOf("[INPUT]\n    Name forward\n    Port   \t\n") == "test.conf:3: key 'Port' has no value");
}

TEST_CASE("classic parser reports bad section headers", "[config]") {
  CHECK(errorOf("[INPUT\n") == "test.conf:1: invalid section header '[INPUT': missing ']'");
  CHECK(errorOf("[]\n") == "test.conf:1: invalid section header '[]': empty section name");
  CHECK(errorOf("[INPUT]\n  Name a\n[  ]\n") ==
        "test.conf:3: invalid section header '[  ]': empty section name");
  CHECK(errorOf("[INPUT] forward\n") ==
        "test.conf:1: invalid section header '[INPUT] forward': unexpected text after ']'");
  CHECK(errorOf("[INPUT]]\n") == "test.conf:1: invalid section header '[INPUT]]': unexpected text after ']'");
}

TEST_CASE("classic parser reports unknown and malformed directives", "[config]") {
  CHECK(errorOf("@FOO bar\n") == "test.conf:1: unknown directive '@FOO' (expected @INCLUDE or @SET)");
  CHECK(errorOf("@SET NOVALUE\n") == "test.conf:1: @SET expects KEY=VALUE, got '@SET NOVALUE'");
  CHECK(errorOf("@SET =x\n") == "test.conf:1: @SET expects KEY=VALUE, got '@SET =...'");
  CHECK(errorOf("\n@INCLUDE\n") == "test.conf:2: @INCLUDE without a path");
}

TEST_CASE("@SET defines variables that ${VAR} expands in values and keys", "[config]") {
  auto r = parse(
      "@SET region=eu-west-1\n"
      "@set  KEY = api key with spaces \n"
      "@SET field=Tag\n"
      "[OUTPUT]\n"
      "    Name   datadog\n"
      "    Region ${region}\n"
      "    apikey ${KEY}\n"
      "    ${field} ${region}-${region}\n"
      "    Url    https://${region}.example/${region}\n");
  REQUIRE(r.ok());
  const auto& e = r->sections.at(0).entries;
  CHECK(e[1].value == "eu-west-1");
  CHECK(e[2].value == "api key with spaces");
  CHECK(e[3].key == "Tag");
  CHECK(e[3].value == "eu-west-1-eu-west-1");
  CHECK(e[4].value == "https://eu-west-1.example/eu-west-1");
  CHECK(r->warnings.empty());
}

TEST_CASE("${VAR} falls back to the environment, and @SET shadows it", "[config]") {
  auto env = fakeEnv({{"HOST", "example.com"}, {"PORT", "443"}});
  auto r = parse(
      "[OUTPUT]\n"
      "    Host ${HOST}\n"
      "    Port ${PORT}\n"
      "@SET PORT=8443\n"
      "    Port ${PORT}\n"
      "@SET ADDR=${HOST}:${PORT}\n"
      "    Addr ${ADDR}\n",
      env);
  REQUIRE(r.ok());
  const auto& e = r->sections.at(0).entries;
  CHECK(e[0].value == "example.com");
  CHECK(e[1].value == "443");
  CHECK(e[2].value == "8443");  // entries after @SET still belong to the open section
  CHECK(e[3].value == "example.com:8443");
}

TEST_CASE("an unset ${VAR} expands to empty with a warning", "[config]") {
  auto r = parse(
      "[OUTPUT]\n"
      "    Name   datadog\n"
      "    apikey ${DD_API_KEY}\n"
      "    Tags   a${MISSING}b ${MISSING}\n");
  REQUIRE(r.ok());
  const auto& e = r->sections.at(0).entries;
  CHECK(e[1].value == "");
  CHECK(e[2].value == "ab ");
  CHECK(r->warnings == std::vector<std::string>{"test.conf:3: environment variable 'DD_API_KEY' is not set",
                                                "test.conf:4: environment variable 'MISSING' is not set"});
}

TEST_CASE("unterminated ${ and empty ${} are kept literally", "[config]") {
  auto r = parse(
      "[FILTER]\n"
      "    Regex log ^${abc\n"
      "    Other ${}x\n"
      "    Third $HOME {x}\n");
  REQUIRE(r.ok());
  const auto& e = r->sections.at(0).entries;
  CHECK(e[0].value == "log ^${abc");
  CHECK(e[1].value == "${}x");
  CHECK(e[2].value == "$HOME {x}");
  CHECK(r->warnings.empty());
}

TEST_CASE("a key that expands to nothing is an error", "[config]") {
  CHECK(errorOf("[INPUT]\n  ${NOPE} value\n") ==
        "test.conf:2: key '${NOPE}' is empty after variable expansion");
}

TEST_CASE("without an injected getenv the process environment is used", "[config]") {
  ::setenv("FIRELANE_CONFIG_TEST_VAR", "from-env", 1);
  auto r = parseString("[INPUT]\n  Tag ${FIRELANE_CONFIG_TEST_VAR}\n", "env.conf", "");
  ::unsetenv("FIRELANE_CONFIG_TEST_VAR");
  REQUIRE(r.ok());
  CHECK(r->sections.at(0).entries.at(0).value == "from-env");
}

TEST_CASE("@INCLUDE inserts the included sections in place", "[config]") {
  TempDir tmp;
  tmp.write("inputs/forward.conf", "[INPUT]\n    Name forward\n");
  std::string main = tmp.write("main.conf",
                               "[SERVICE]\n"
                               "    Flush 1\n"
                               "@INCLUDE inputs/forward.conf\n"
                               "    Grace 5\n"
                               "[OUTPUT]\n"
                               "    Name null\n");
  auto r = parseFile(main, fakeEnv({}));
  REQUIRE(r.ok());
  const auto& s = r->sections;
  REQUIRE(s.size() == 3);
  CHECK(s[0].kind == "service");
  CHECK(s[1].kind == "input");
  CHECK(s[1].file == tmp.path("inputs/forward.conf"));
  CHECK(s[1].line == 1);
  CHECK(s[1].entries.at(0).file == tmp.path("inputs/forward.conf"));
  CHECK(s[1].entries.at(0).line == 2);
  CHECK(s[2].kind == "output");
  CHECK(s[2].file == main);
  // As in Fluent Bit, lines after an @INCLUDE continue the includer's open section.
  REQUIRE(s[0].entries.size() == 2);
  CHECK(s[0].entries[1].key == "Grace");
  CHECK(s[0].entries[1].file == main);
  CHECK(s[0].entries[1].line == 4);
}

TEST_CASE("@INCLUDE is relative to the including file's folder", "[config]") {
  TempDir tmp;
  tmp.write("conf/sub/b.conf", "[OUTPUT]\n  Name null\n");
  tmp.write("conf/a.conf", "@INCLUDE sub/b.conf\n[FILTER]\n  Name grep\n");
  std::string main = tmp.write("main.conf", "@include conf/a.conf\n[INPUT]\n  Name dummy\n");
  auto r = parseFile(main, fakeEnv({}));
  REQUIRE(r.ok());
  REQUIRE(r->sections.size() == 3);
  CHECK(r->sections[0].kind == "output");
  CHECK(r->sections[0].file == tmp.path("conf/sub/b.conf"));
  CHECK(r->sections[1].kind == "filter");
  CHECK(r->sections[1].file == tmp.path("conf/a.conf"));
  CHECK(r->sections[2].kind == "input");
}

TEST_CASE("@INCLUDE falls back to the top-level file's folder like Fluent Bit", "[config]") {
  TempDir tmp;
  tmp.write("conf.d/outputs.conf", "[OUTPUT]\n  Name null\n");
  // Written the Fluent Bit way: relative to main.conf's folder, not to conf.d/.
  tmp.write("conf.d/inputs.conf", "[INPUT]\n  Name dummy\n@INCLUDE conf.d/outputs.conf\n");
  std::string main = tmp.write("main.conf", "@INCLUDE conf.d/inputs.conf\n");
  auto r = parseFile(main, fakeEnv({}));
  REQUIRE(r.ok());
  REQUIRE(r->sections.size() == 2);
  CHECK(r->sections[1].file == tmp.path("conf.d/outputs.conf"));
}

TEST_CASE("@INCLUDE accepts absolute paths and ${VAR} in the path", "[config]") {
  TempDir tmp;
  std::string abs = tmp.write("elsewhere/x.conf", "[INPUT]\n  Name dummy\n");
  std::string main = tmp.write("dir/main.conf", "@INCLUDE " + abs +
                                                    "\n"
                                                    "@INCLUDE ${CONF_DIR}/x.conf\n");
  auto r = parseFile(main, fakeEnv({{"CONF_DIR", tmp.path("elsewhere")}}));
  // The same file twice is not a cycle: both copies are included.
  REQUIRE(r.ok());
  REQUIRE(r->sections.size() == 2);
  CHECK(r->sections[0].file == abs);
  CHECK(r->sections[1].file == abs);
}

TEST_CASE("@INCLUDE expands globs in sorted order and skips folders", "[config]") {
  TempDir tmp;
  tmp.write("conf.d/30-c.conf", "[OUTPUT]\n  Name c\n");
  tmp.write("conf.d/10-a.conf", "[INPUT]\n  Name a\n");
  tmp.write("conf.d/20-b.conf", "[FILTER]\n  Name b\n");
  tmp.write("conf.d/notes.txt", "not a config\n");
  tmp.write("conf.d/15-dir.conf/inner.conf", "[INPUT]\n  Name inner\n");
  std::string main = tmp.write("main.conf", "[SERVICE]\n  Flush 1\n@INCLUDE conf.d/*.conf\n");
  auto r = parseFile(main, fakeEnv({}));
  REQUIRE(r.ok());
  std::vector<std::string> names;
  for (const auto& s : r->sections)
    if (s.find("Name")) names.push_back(s.find("Name")->value);
  CHECK(names == std::vector<std::string>{"a", "b", "c"});
  CHECK(r->sections[1].file == tmp.path("conf.d/10-a.conf"));
  CHECK(r->warnings.empty());
}

TEST_CASE("@INCLUDE of a glob that matches nothing is fine, with a warning", "[config]") {
  TempDir tmp;
  std::string main = tmp.write("main.conf", "[INPUT]\n  Name dummy\n@INCLUDE extra/*.conf\n");
  auto r = parseFile(main, fakeEnv({}));
  REQUIRE(r.ok());
  CHECK(r->sections.size() == 1);
  CHECK(r->warnings == std::vector<std::string>{main + ":3: @INCLUDE 'extra/*.conf' matched no files"});
}

TEST_CASE("@INCLUDE of a missing file is an error", "[config]") {
  TempDir tmp;
  std::string main = tmp.write("main.conf", "[INPUT]\n  Name dummy\n@INCLUDE missing.conf\n");
  auto r = parseFile(main, fakeEnv({}));
  REQUIRE_FALSE(r.ok());
  CHECK(r.message() == main + ":3: @INCLUDE 'missing.conf': no such file");
}

TEST_CASE("@INCLUDE of a folder is an error", "[config]") {
  TempDir tmp;
  tmp.write("sub/x.conf", "[INPUT]\n  Name dummy\n");
  std::string main = tmp.write("main.conf", "@INCLUDE sub\n");
  auto r = parseFile(main, fakeEnv({}));
  REQUIRE_FALSE(r.ok());
  CHECK(r.message() == main + ":1: @INCLUDE 'sub': is a directory");
}

TEST_CASE("@INCLUDE cycles are reported with the chain", "[config]") {
  TempDir tmp;
  std::string a = tmp.write("a.conf", "[INPUT]\n  Name dummy\n@INCLUDE b.conf\n");
  std::string b = tmp.write("b.conf", "[OUTPUT]\n  Name null\n@INCLUDE a.conf\n");
  auto r = parseFile(a, fakeEnv({}));
  REQUIRE_FALSE(r.ok());
  CHECK(r.message() == b + ":3: include cycle: " + a + " -> " + b + " -> " + a);
}

TEST_CASE("a file including itself is a cycle", "[config]") {
  TempDir tmp;
  std::string main = tmp.write("self.conf", "@INCLUDE ./self.conf\n");
  auto r = parseFile(main, fakeEnv({}));
  REQUIRE_FALSE(r.ok());
  CHECK(r.message() == main + ":1: include cycle: " + main + " -> " + main);
}

TEST_CASE("@INCLUDE depth is limited by maxIncludeDepth", "[config]") {
  TempDir tmp;
  std::string main = tmp.write("main.conf", "@INCLUDE d1.conf\n");
  tmp.write("d1.conf", "@INCLUDE d2.conf\n");
  std::string d2 = tmp.write("d2.conf", "# two\n@INCLUDE d3.conf\n");
  tmp.write("d3.conf", "[INPUT]\n  Name deep\n");
  auto options = fakeEnv({});
  options.maxIncludeDepth = 2;
  auto r = parseFile(main, options);
  REQUIRE_FALSE(r.ok());
  CHECK(r.message() == d2 + ":2: @INCLUDE 'd3.conf': includes nested deeper than 2 levels");
  options.maxIncludeDepth = 3;
  auto ok = parseFile(main, options);
  REQUIRE(ok.ok());
  CHECK(ok->sections.at(0).find("Name")->value == "deep");
}

TEST_CASE("an included file cannot start with entries", "[config]") {
  TempDir tmp;
  std::string inc = tmp.write("inc.conf", "# continues?\n    Port 24224\n");
  std::string main = tmp.write("main.conf", "[INPUT]\n    Name forward\n@INCLUDE inc.conf\n");
  auto r = parseFile(main, fakeEnv({}));
  REQUIRE_FALSE(r.ok());
  CHECK(r.message() == inc + ":2: entry outside of a section: 'Port'");
}

TEST_CASE("errors inside included files name that file and line", "[config]") {
  TempDir tmp;
  std::string inc = tmp.write("inc.conf", "[OUTPUT]\n  Name null\n  Match\n");
  std::string main = tmp.write("main.conf", "@INCLUDE inc.conf\n");
  auto r = parseFile(main, fakeEnv({}));
  REQUIRE_FALSE(r.ok());
  CHECK(r.message() == inc + ":3: key 'Match' has no value");
}

TEST_CASE("@SET in an included file is visible to the includer", "[config]") {
  TempDir tmp;
  tmp.write("vars.conf", "@SET tag=app.logs\n");
  std::string main = tmp.write("main.conf", "@INCLUDE vars.conf\n[INPUT]\n  Tag ${tag}\n");
  auto r = parseFile(main, fakeEnv({}));
  REQUIRE(r.ok());
  CHECK(r->sections.at(0).entries.at(0).value == "app.logs");
}

TEST_CASE("parseString resolves @INCLUDE against baseDir", "[config]") {
  TempDir tmp;
  tmp.write("x.conf", "[OUTPUT]\n  Name null\n");
  auto r = parseString("[INPUT]\n  Name dummy\n@INCLUDE x.conf\n", "inline.conf", tmp.dir(), fakeEnv({}));
  REQUIRE(r.ok());
  REQUIRE(r->sections.size() == 2);
  CHECK(r->sections[0].file == "inline.conf");
  CHECK(r->sections[1].file == tmp.path("x.conf"));
}

TEST_CASE("parseFile reports a missing top-level file", "[config]") {
  TempDir tmp;
  auto r = parseFile(tmp.path("nope.conf"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.message() == tmp.path("nope.conf") + ": cannot open config file: no such file");
  auto d = parseFile(tmp.dir());
  REQUIRE_FALSE(d.ok());
  CHECK(d.message() == tmp.dir() + ": cannot open config file: is a directory");
}

}  // namespace
}  // namespace firelane::config
