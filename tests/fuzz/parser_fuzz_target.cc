// libFuzzer target for the parser filter's text parsers: the streaming JSON -> msgpack converter,
// JSON unescaping, every [PARSER] format (regex with named groups and Types, json, logfmt) with
// Time_Key / Time_Format, and the parser filter itself (Reserve_Data, Preserve_Key, Unescape_Key)
// run on a record whose `log` field is the input. Every produced record must be valid msgpack.
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/app/builtin_plugins.h"
#include "core/common/log.h"
#include "core/config/classic_parser.h"
#include "core/config/pipeline.h"
#include "core/parser/json_msgpack.h"
#include "core/parser/log_parser.h"
#include "core/proto/msgpack_cursor.h"
#include "tests/fuzz/fuzz_util.h"

namespace firelane::fuzz {
namespace {

// conf/parsers.conf's common formats plus one that exercises Types, Time_Offset and Skip_Empty_Values.
constexpr const char* kParsers = R"PARSERS(
[PARSER]
    Name        json
    Format      json
    Time_Key    time
    Time_Format %d/%b/%Y:%H:%M:%S %z
[PARSER]
    Name        docker
    Format      json
    Time_Key    time
    Time_Format %Y-%m-%dT%H:%M:%S.%L
    Time_Keep   On
[PARSER]
    Name        apache2
    Format      regex
    Regex       ^(?<host>[^ ]*) [^ ]* (?<user>[^ ]*) \[(?<time>[^\]]*)\] "(?<method>\S+)(?: +(?<path>[^ ]*) +\S*)?" (?<code>[^ ]*) (?<size>[^ ]*)(?: "(?<referer>[^\"]*)" "(?<agent>.*)")?$
    Time_Key    time
    Time_Format %d/%b/%Y:%H:%M:%S %z
[PARSER]
    Name        syslog-rfc5424
    Format      regex
    Regex       ^\<(?<pri>[0-9]{1,5})\>1 (?<time>[^ ]+) (?<host>[^ ]+) (?<ident>[^ ]+) (?<pid>[-0-9]+) (?<msgid>[^ ]+) (?<extradata>(\[(.*)\]|-)) (?<message>.+)$
    Time_Key    time
    Time_Format %Y-%m-%dT%H:%M:%S.%L%z
    Time_Keep   On
[PARSER]
    Name        syslog-rfc3164
    Format      regex
    Regex       /^\<(?<pri>[0-9]+)\>(?<time>[^ ]* {1,2}[^ ]* [^ ]*) (?<host>[^ ]*) (?<ident>[a-zA-Z0-9_\/\.\-]*)(?:\[(?<pid>[0-9]+)\])?(?:[^\:]*\:)? *(?<message>.*)$/
    Time_Key    time
    Time_Format %b %d %H:%M:%S
    Time_Keep   On
[PARSER]
    Name        cri
    Format      regex
    Regex       ^(?<time>[^ ]+) (?<stream>stdout|stderr) (?<logtag>[^ ]*) (?<message>.*)$
    Time_Key    time
    Time_Format %Y-%m-%dT%H:%M:%S.%L%z
[PARSER]
    Name        typed
    Format      regex
    Regex       ^(?<i>[^ ]*) (?<f>[^ ]*) (?<b>[^ ]*) (?<h>[^ ]*) (?<t>[^ ]*)(?<rest>.*)$
    Types       i:integer f:float b:bool h:hex
    Time_Key    t
    Time_Format %s.%L
    Time_Offset -07:00
    Skip_Empty_Values Off
[PARSER]
    Name        logfmt
    Format      logfmt
    Time_Key    ts
    Time_Format %Y-%m-%dT%H:%M:%S%z
)PARSERS";

struct Setup {
  ScratchDir dir{"firelane-fuzz-parser-"};
  parser::ParserSetRef parsers;
  std::vector<const parser::LogParser*> each;
  PipelineConfig pipeline;
  std::vector<FilterPtr> filters;
  DiscardingFilterContext ctx{nullptr, "parser.0"};

  Setup() {
    log::setLevel(log::Level::Off);
    std::string file = dir.path() + "/parsers.conf";
    std::ofstream(file, std::ios::binary) << kParsers;
    auto set = parser::ParserSet::load({{file, "", ""}});
    if (!set) __builtin_trap();
    parsers = *set;
    for (const auto& name : parsers->names()) each.push_back(parsers->find(name));
    std::string conf = "[SERVICE]\n    Parsers_File " + file +
                       "\n[INPUT]\n    Name dummy\n"
                       "[FILTER]\n    Name parser\n    Match *\n    Key_Name log\n"
                       "    Parser json\n    Parser apache2\n    Parser syslog-rfc5424\n    Parser syslog-rfc3164\n"
                       "    Parser cri\n    Parser typed\n    Parser logfmt\n"
                       "    Reserve_Data On\n    Preserve_Key On\n"
                       "[FILTER]\n    Name parser\n    Match *\n    Key_Name log\n"
                       "    Parser docker\n    Parser logfmt\n    Unescape_Key On\n"
                       "[OUTPUT]\n    Name null\n    Match *\n";
    auto doc = config::parseString(conf, "fuzz.conf", dir.path());
    Registry registry;
    registerBuiltinPlugins(registry);
    if (!doc) __builtin_trap();
    auto pc = buildPipeline(*doc, registry);
    if (!pc) __builtin_trap();
    pipeline = std::move(*pc);
    for (auto& spec : pipeline.filters) {
      filters.push_back(spec.factory->create(0));
      if (!filters.back()->start(ctx)) __builtin_trap();
    }
  }
};

Setup& setup() {
  static Setup s;
  return s;
}

void requireMsgpack(std::span<const uint8_t> bytes) {
  proto::MsgpackCursor c(bytes);
  if (c.skip() != proto::MsgpackStatus::Ok || !c.atEnd()) __builtin_trap();
}

void requireMap(std::span<const uint8_t> record) {
  proto::MsgpackCursor c(record);
  proto::MsgpackHeader h;
  if (c.peek(h) != proto::MsgpackStatus::Ok || h.type != proto::MsgpackType::Map) __builtin_trap();
  requireMsgpack(record);
}

// {"log": text, "stream": "stdout", "n": 1}, as msgpack-c would pack it.
std::vector<uint8_t> recordWith(std::string_view text) {
  std::vector<uint8_t> r = {0x83, 0xa3, 'l', 'o', 'g', 0xdb};
  uint32_t n = static_cast<uint32_t>(text.size());
  for (int shift = 24; shift >= 0; shift -= 8) r.push_back(static_cast<uint8_t>(n >> shift));
  r.insert(r.end(), text.begin(), text.end());
  static constexpr std::string_view kRest("\xa6stream\xa6stdout\xa1n\x01", 17);
  r.insert(r.end(), kRest.begin(), kRest.end());
  return r;
}

}  // namespace

int parserOneInput(const uint8_t* data, size_t size) {
  Setup& s = setup();
  std::string_view text(reinterpret_cast<const char*>(data), size);

  std::vector<uint8_t> out;
  std::vector<parser::JsonMember> members;
  if (parser::jsonObjectToMsgpack(text, out, members)) {
    for (const auto& m : members) {
      if (m.keyOff + m.keyLen > out.size() || m.valueOff + m.valueLen > out.size()) __builtin_trap();
      requireMsgpack({out.data() + m.valueOff, m.valueLen});
    }
  }
  std::string unescaped;
  parser::unescapeJsonString(text, unescaped);

  parser::ParsedFields fields;
  for (const parser::LogParser* p : s.each) {
    if (!p->parse(text, fields, 2024)) continue;
    for (const auto& f : fields.fields) {
      if (f.keyOff + f.keyLen > fields.bytes.size() || f.valueOff + f.valueLen > fields.bytes.size())
        __builtin_trap();
      requireMsgpack(fields.value(f));
    }
  }

  std::vector<uint8_t> rec = recordWith(text);
  BufferPtr buf = makeBuffer(rec.size());
  buf->append(rec.data(), rec.size());
  for (auto& filter : s.filters) {
    EventBatch batch;
    batch.tag = "app";
    batch.add(1700000000000000000, {buf->data(), rec.size()});
    batch.owners.push_back(buf);
    if (filter->apply(batch) == FilterResult::DropAll) continue;
    if (batch.events.size() != 1) __builtin_trap();  // the parser filter never drops or adds
    for (const Event& e : batch.events) requireMap(e.record);
  }
  return 0;
}

}  // namespace firelane::fuzz

FIRELANE_FUZZ_ENTRY(firelane::fuzz::parserOneInput)
