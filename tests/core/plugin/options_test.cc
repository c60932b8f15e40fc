// Tests for option tables: validation messages (unknown key, bad value, missing required),
// typed access, repeated keys, defaults, suggestions and the --help table.
#include "core/plugin/options.h"

#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

namespace firelane {
namespace {

using T = OptionType;

// Builds a spec without aggregate initialization, which -Wextra flags when trailing fields are omitted.
OptionSpec opt(std::string name, T type, std::string def, std::string help, bool multiple = false,
               bool required = false, bool secret = false, std::vector<std::string> choices = {}) {
  OptionSpec s;
  s.name = std::move(name);
  s.type = type;
  s.defaultValue = std::move(def);
  s.help = std::move(help);
  s.multiple = multiple;
  s.required = required;
  s.secret = secret;
  s.choices = std::move(choices);
  return s;
}

std::vector<OptionSpec> forwardSpecs() {
  return {
      opt("Listen", T::String, "0.0.0.0", "address to bind"),
      opt("Port", T::Int, "24224", "TCP port"),
      opt("Buffer_Max_Size", T::Size, "6M", "largest accepted message"),
      opt("Tls", T::Bool, "off", "enable TLS"),
      opt("Timeout", T::Seconds, "1.5", "idle timeout"),
      opt("Format", T::Enum, "json", "payload format", false, false, false, {"json", "msgpack"}),
      opt("Header", T::String, "", "extra header", true),
      opt("Tag_Prefix", T::String, "", "prefix added to tags"),
  };
}

std::vector<OptionSpec> datadogSpecs() {
  return {
      opt("apikey", T::String, "", "Datadog API key", false, true, true),
      opt("Host", T::String, "http-intake.logs.datadoghq.com", "intake host"),
      opt("pin", T::Int, "", "a secret number", false, false, true),
  };
}

// A section as the parser would build it: header on line 1 of x.conf, entries from line 2.
config::Section section(std::string kind, std::vector<std::pair<std::string, std::string>> kvs) {
  config::Section s;
  s.kind = std::move(kind);
  s.file = "x.conf";
  s.line = 1;
  int line = 2;
  for (auto& [k, v] : kvs) s.entries.push_back({k, v, "x.conf", line++});
  return s;
}

constexpr std::string_view kSkipName[] = {"Name"};

Result<OptionValues> validateForward(std::vector<std::pair<std::string, std::string>> kvs) {
  auto specs = forwardSpecs();
  return validateOptions(section("input", std::move(kvs)), specs, "[INPUT] forward", kSkipName);
}

std::string forwardError(std::vector<std::pair<std::string, std::string>> kvs) {
  auto r = validateForward(std::move(kvs));
  REQUIRE_FALSE(r.ok());
  return r.message();
}

TEST_CASE("validateOptions returns defaults when nothing is set", "[config]") {
  auto r = validateForward({{"Name", "forward"}});
  REQUIRE(r.ok());
  const OptionValues& v = *r;
  CHECK(v.label() == "[INPUT] forward");
  CHECK_FALSE(v.isSet("Port"));
  CHECK(v.str("Listen") == "0.0.0.0");
  CHECK(v.integer("Port") == 24224);
  CHECK(v.size("Buffer_Max_Size") == 6000000u);
  CHECK(v.boolean("Tls") == false);
  CHECK(v.seconds("Timeout") == 1.5);
  CHECK(v.str("Format") == "json");
  CHECK(v.str("Tag_Prefix") == "");
  CHECK(v.all("Header").empty());
  CHECK(v.all("Port") == std::vector<std::string_view>{"24224"});
  CHECK(v.where("Port") == "[INPUT] forward");
}

TEST_CASE("validateOptions reads typed values with case-insensitive keys", "[config]") {
  auto r = validateForward({{"name", "forward"},
                            {"LISTEN", "127.0.0.1"},
                            {"port", "5170"},
                            {"buffer_max_size", "1.5MiB"},
                            {"TLS", "On"},
                            {"timeout", ".25"},
                            {"format", "MsgPack"}});
  REQUIRE(r.ok());
  const OptionValues& v = *r;
  CHECK(v.isSet("Port"));
  CHECK(v.isSet("port"));
  CHECK(v.str("Listen") == "127.0.0.1");
  CHECK(v.integer("Port") == 5170);
  CHECK(v.size("Buffer_Max_Size") == 1572864u);
  CHECK(v.boolean("Tls"));
  CHECK(v.seconds("Timeout") == 0.25);
  CHECK(v.str("Format") == "MsgPack");
  CHECK(v.where("Port") == "x.conf:4");
  CHECK(v.where("Listen") == "x.conf:3");
}

TEST_CASE("validateOptions keeps every value of a repeatable key in order", "[config]") {
  auto r = validateForward({{"Header", "a: 1"}, {"Port", "1"}, {"header", "b: 2"}, {"HEADER", "c: 3"}});
  REQUIRE(r.ok());
  CHECK(r->all("Header") == std::vector<std::string_view>{"a: 1", "b: 2", "c: 3"});
  CHECK(r->str("Header") == "c: 3");
  CHECK(r->where("Header") == "x.conf:5");
}

TEST_CASE("validateOptions keeps the last value of a repeated single-value key", "[config]") {
  auto r = validateForward({{"Port", "1"}, {"port", "2"}});
  REQUIRE(r.ok());
  CHECK(r->integer("Port") == 2);
  CHECK(r->all("Port") == std::vector<std::string_view>{"2"});
  CHECK(r->where("Port") == "x.conf:3");
}

TEST_CASE("validateOptions accepts skipped keys without a spec", "[config]") {
  auto r = validateForward({{"NAME", "forward"}, {"Port", "1"}});
  REQUIRE(r.ok());
  CHECK(r->integer("Port") == 1);
}

TEST_CASE("unknown keys are reported with a suggestion when one is close", "[config]") {
  CHECK(forwardError({{"Name", "forward"}, {"Prot", "24224"}}) ==
        "x.conf:3: unknown key 'Prot' in [INPUT] forward (did you mean 'Port'?)");
  CHECK(forwardError({{"Listne", "x"}}) ==
        "x.conf:2: unknown key 'Listne' in [INPUT] forward (did you mean 'Listen'?)");
  CHECK(forwardError({{"buffer_max_sise", "1"}}) ==
        "x.conf:2: unknown key 'buffer_max_sise' in [INPUT] forward (did you mean 'Buffer_Max_Size'?)");
  // Skipped keys are candidates too.
  CHECK(forwardError({{"Nmae", "forward"}}) ==
        "x.conf:2: unknown key 'Nmae' in [INPUT] forward (did you mean 'Name'?)");
}

TEST_CASE("unknown keys without a close match get no suggestion", "[config]") {
  CHECK(forwardError({{"Bogus_Setting", "1"}}) == "x.conf:2: unknown key 'Bogus_Setting' in [INPUT] forward");
  CHECK(forwardError({{"Pxyz", "1"}}) == "x.conf:2: unknown key 'Pxyz' in [INPUT] forward");
}

TEST_CASE("invalid values are reported per type", "[config]") {
  CHECK(forwardError({{"Port", "abc"}}) ==
        "x.conf:2: invalid value 'abc' for 'Port' in [INPUT] forward: expected an integer");
  CHECK(forwardError({{"Name", "forward"}, {"port", "12x"}}) ==
        "x.conf:3: invalid value '12x' for 'Port' in [INPUT] forward: expected an integer");
  CHECK(forwardError({{"Buffer_Max_Size", "-5M"}}) ==
        "x.conf:2: invalid value '-5M' for 'Buffer_Max_Size' in [INPUT] forward: expected a size such as "
        "1024, 64K, "
        "5M or 1G");
  CHECK(
      forwardError({{"Tls", "maybe"}}) ==
      "x.conf:2: invalid value 'maybe' for 'Tls' in [INPUT] forward: expected on/off, true/false or yes/no");
  CHECK(forwardError({{"Timeout", "-1"}}) ==
        "x.conf:2: invalid value '-1' for 'Timeout' in [INPUT] forward: expected a non-negative number of "
        "seconds");
  CHECK(forwardError({{"Format", "xml"}}) ==
        "x.conf:2: invalid value 'xml' for 'Format' in [INPUT] forward: expected one of: json, msgpack");
  CHECK(forwardError({{"Port", ""}}) ==
        "x.conf:2: invalid value '' for 'Port' in [INPUT] forward: expected an integer");
}

TEST_CASE("string options accept any text, including empty", "[config]") {
  auto r = validateForward({{"Tag_Prefix", ""}, {"Listen", "::1 # really"}});
  REQUIRE(r.ok());
  CHECK(r->isSet("Tag_Prefix"));
  CHECK(r->str("Tag_Prefix") == "");
  CHECK(r->str("Listen") == "::1 # really");
}

TEST_CASE("missing required keys name the section header", "[config]") {
  auto specs = datadogSpecs();
  auto r = validateOptions(section("output", {{"Name", "datadog"}, {"Host", "h"}}), specs, "[OUTPUT] datadog",
                           kSkipName);
  REQUIRE_FALSE(r.ok());
  CHECK(r.message() == "x.conf:1: missing required key 'apikey' in [OUTPUT] datadog");
}

TEST_CASE("a required key with an empty value is an error", "[config]") {
  auto specs = datadogSpecs();
  auto r = validateOptions(section("output", {{"Name", "datadog"}, {"APIKEY", ""}}), specs,
                           "[OUTPUT] datadog", kSkipName);
  REQUIRE_FALSE(r.ok());
  CHECK(r.message() == "x.conf:3: required key 'apikey' in [OUTPUT] datadog has an empty value");
}

TEST_CASE("secret values are never printed in errors", "[config]") {
  auto specs = datadogSpecs();
  auto r = validateOptions(section("output", {{"apikey", "s3cr3t"}, {"pin", "hunter2"}}), specs,
                           "[OUTPUT] datadog");
  REQUIRE_FALSE(r.ok());
  CHECK(r.message() == "x.conf:3: invalid value for 'pin' in [OUTPUT] datadog: expected an integer");
  CHECK(r.message().find("hunter2") == std::string::npos);

  auto ok =
      validateOptions(section("output", {{"apikey", "s3cr3t"}, {"pin", "1234"}}), specs, "[OUTPUT] datadog");
  REQUIRE(ok.ok());
  CHECK(ok->str("apikey") == "s3cr3t");
  CHECK(ok->integer("pin") == 1234);
  CHECK(ok->str("Host") == "http-intake.logs.datadoghq.com");
}

TEST_CASE("unset typed options without a default read as zero", "[config]") {
  auto specs = datadogSpecs();
  auto r = validateOptions(section("output", {{"apikey", "k"}}), specs, "[OUTPUT] datadog");
  REQUIRE(r.ok());
  CHECK_FALSE(r->isSet("pin"));
  CHECK(r->integer("pin") == 0);
  CHECK(r->str("pin") == "");
}

#ifdef NDEBUG
// In debug builds a bad default trips an assert; release builds refuse the table instead.
TEST_CASE("an invalid default is refused", "[config]") {
  std::vector<OptionSpec> specs = {opt("Port", T::Int, "lots", "broken default")};
  auto r = validateOptions(section("input", {}), specs, "[INPUT] broken");
  REQUIRE_FALSE(r.ok());
  CHECK(r.message() ==
        "internal error: invalid default 'lots' for 'Port' in [INPUT] broken: expected an integer");
}
#endif

TEST_CASE("valid defaults of every type pass validation", "[config]") {
  std::vector<OptionSpec> specs = {
      opt("Mem_Buf_Limit", T::Size, "0", ""),
      opt("queue_limit", T::Size, "8M", ""),
      opt("storage.type", T::Enum, "memory", "", false, false, false, {"memory", "filesystem"}),
      opt("Flush", T::Seconds, "1", ""),
      opt("HTTP_Server", T::Bool, "off", ""),
      opt("workers", T::Int, "0", ""),
  };
  auto r = validateOptions(section("output", {}), specs, "[OUTPUT] x");
  REQUIRE(r.ok());
  CHECK(r->size("queue_limit") == 8000000u);
  CHECK(r->str("storage.type") == "memory");
}

TEST_CASE("OptionValues can be built directly", "[config]") {
  OptionValues v(forwardSpecs(), {{}, {{"9000", "cli", 0}}}, "[INPUT] forward");
  CHECK(v.isSet("Port"));
  CHECK(v.integer("Port") == 9000);
  CHECK(v.where("Port") == "cli:0");
  CHECK_FALSE(v.isSet("Tls"));  // values shorter than specs: the rest are unset
  CHECK(v.str("Format") == "json");
}

TEST_CASE("suggestName picks the closest name case-insensitively", "[config]") {
  std::vector<std::string> names = {"forward", "stdin", "dummy", "tail"};
  CHECK(suggestName("forwrd", names) == "forward");
  CHECK(suggestName("FORWARD", names) == "forward");
  CHECK(suggestName("fowrard", names) == "forward");  // adjacent swap counts as one edit
  CHECK(suggestName("tial", names) == "tail");
  CHECK(suggestName("stdn", names) == "stdin");
  CHECK(suggestName("syslog", names) == "");
  CHECK(suggestName("x", names) == "");
  CHECK(suggestName("", names) == "");
  CHECK(suggestName("forwrd", std::vector<std::string>{}) == "");
}

TEST_CASE("suggestName allows one edit per three characters", "[config]") {
  std::vector<std::string> names = {"Retry_Limit"};
  CHECK(suggestName("Retry_Lmt", names) == "Retry_Limit");             // 2 edits, 9 chars
  CHECK(suggestName("Retr_Lmt", names) == "");                         // 3 edits, 8 chars
  CHECK(suggestName("Tg", std::vector<std::string>{"Tag"}) == "Tag");  // short words get one edit
}

TEST_CASE("suggestOption suggests spec names", "[config]") {
  auto specs = forwardSpecs();
  CHECK(suggestOption("Prot", specs) == "Port");
  CHECK(suggestOption("tls_verify", specs) == "");
}

TEST_CASE("formatOptionHelp renders an aligned table", "[config]") {
  std::vector<OptionSpec> specs = {
      opt("Port", T::Int, "24224", "TCP port"),
      opt("Header", T::String, "", "extra header", true),
      opt("apikey", T::String, "", "API key", false, true, true),
      opt("token", T::String, "abc", "token", false, false, true),
      opt("Format", T::Enum, "json", "payload format", false, false, false, {"json", "msgpack"}),
  };
  CHECK(formatOptionHelp(specs) ==
        "  KEY     TYPE    DEFAULT   DESCRIPTION\n"
        "  Port    int     24224     TCP port\n"
        "  Header  string  -         extra header (repeatable)\n"
        "  apikey  string  -         API key (required) (secret)\n"
        "  token   string  (hidden)  token (secret)\n"
        "  Format  enum    json      payload format [json|msgpack]\n");
  CHECK(formatOptionHelp(specs).find("abc") == std::string::npos);
}

}  // namespace
}  // namespace firelane
