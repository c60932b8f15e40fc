// Fluent Bit [PARSER] definitions (regex, json, logfmt) compiled once at config time, and the parse
// step that turns one text value into record fields plus an optional event time.
#pragma once

#include <re2/re2.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/status.h"
#include "core/config/document.h"
#include "core/parser/json_msgpack.h"
#include "core/parser/time_format.h"

namespace firelane::parser {

enum class Format { Regex, Json, Logfmt };
enum class FieldType { String, Integer, Float, Bool, Hex };

// The fields one parse produced: msgpack key/value pairs back to back in `bytes`, indexed by `fields`.
// Reused between calls (clear() keeps capacity). Valid until the next parse into it.
struct ParsedFields {
  struct Field {
    size_t keyOff = 0;  // key text inside bytes
    size_t keyLen = 0;
    size_t valueOff = 0;  // value msgpack inside bytes
    size_t valueLen = 0;
  };
  std::vector<uint8_t> bytes;
  std::vector<Field> fields;
  int64_t timeNs = 0;
  bool hasTime = false;
  bool timeFailed = false;  // Time_Key present but its text did not fit Time_Format

  std::string_view key(const Field& f) const {
    return {reinterpret_cast<const char*>(bytes.data() + f.keyOff), f.keyLen};
  }
  std::span<const uint8_t> value(const Field& f) const { return {bytes.data() + f.valueOff, f.valueLen}; }
  void clear() {
    bytes.clear();
    fields.clear();
    members.clear();
    hasTime = timeFailed = false;
    timeNs = 0;
  }
  // scratch for the json format
  std::vector<JsonMember> members;
  std::string tmp;
};

// One immutable [PARSER]; shared by every worker.
class LogParser {
 public:
  // Builds a parser from a [PARSER] section; errors are "file:line: ..." naming the key.
  static Result<std::shared_ptr<const LogParser>> fromSection(const config::Section& section);

  const std::string& name() const { return name_; }
  Format format() const { return format_; }

  // Parses `text` into `out` (cleared first). False when the text does not match (regex), is not a
  // JSON object (json) or holds no key (logfmt); `out` is then meaningless. `nowYear` is the year used
  // for time formats without one.
  bool parse(std::string_view text, ParsedFields& out, int nowYear) const;

 private:
  // Adds one string value (typed per Types), or the time when key == Time_Key.
  void addString(std::string_view key, std::string_view value, ParsedFields& out, int nowYear) const;
  bool isTimeKey(std::string_view key) const { return timeFormat_ && key == timeKey_; }
  bool parseTime(std::string_view value, ParsedFields& out, int nowYear) const;
  const FieldType* typeOf(std::string_view key) const;

  std::string name_;
  Format format_ = Format::Regex;
  std::shared_ptr<const RE2> regex_;
  std::vector<std::string> groupNames_;  // by capture index (1-based; [0] unused); empty = unnamed
  std::string timeKey_ = "time";
  std::optional<TimeFormat> timeFormat_;
  bool timeKeep_ = false;
  int timeOffset_ = 0;
  bool skipEmpty_ = true;
  bool noBareKeys_ = false;
  std::vector<std::pair<std::string, FieldType>> types_;
};
using LogParserRef = std::shared_ptr<const LogParser>;

// One rule of a [MULTILINE_PARSER] of type regex: from states -> regex -> to state.
struct MultilineRule {
  std::vector<std::string> from;
  std::shared_ptr<const RE2> regex;
  std::string to;
};

struct MultilineParserDef {
  std::string name;
  int flushTimeoutMs = 4000;
  std::string keyContent;  // empty = the filter's multiline.key_content
  std::vector<MultilineRule> rules;
  std::string where;
};
using MultilineParserRef = std::shared_ptr<const MultilineParserDef>;

// Parses a rule line's value: "start_state" "/regex/" "cont" (three double-quoted words; the regex is
// taken verbatim, backslashes included).
Result<MultilineRule> parseMultilineRule(std::string_view text);

// Every [PARSER] and [MULTILINE_PARSER] of the Parsers_File files. Immutable once loaded.
class ParserSet {
 public:
  struct FileRef {
    std::string path;   // as written
    std::string where;  // "file:line" of the Parsers_File entry, or empty
    std::string baseDir;  // folder of the config file that named it (relative paths)
  };
  static Result<std::shared_ptr<const ParserSet>> load(const std::vector<FileRef>& files);
  // From an already parsed document (tests, or [PARSER] sections of the main file).
  Status addDocument(const config::Document& doc);

  const LogParser* find(std::string_view name) const;
  const MultilineParserDef* findMultiline(std::string_view name) const;
  std::vector<std::string> names() const;

 private:
  std::vector<LogParserRef> parsers_;
  std::vector<MultilineParserRef> multiline_;
};
using ParserSetRef = std::shared_ptr<const ParserSet>;

// The year now (UTC): the default for time formats without %Y.
int currentYear();

}  // namespace firelane::parser
