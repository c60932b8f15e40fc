// [PARSER] / [MULTILINE_PARSER] loading and the regex, json and logfmt parse steps.
#include "core/parser/log_parser.h"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include "core/codec/msgpack_writer.h"
#include "core/config/classic_parser.h"
#include "core/plugin/options.h"
#include "core/record/regex.h"

namespace firelane::parser {
namespace {

const std::vector<OptionSpec>& parserOptions() {
  using T = OptionType;
  static const std::vector<OptionSpec> specs = {
      {"Name", T::String, "", "parser name", false, true},
      {"Format", T::Enum, "", "regex, json or logfmt", false, true, false, {"regex", "json", "logfmt"}},
      {"Regex", T::String, "", "pattern with named groups (?<name>...)"},
      {"Time_Key", T::String, "time", "field holding the event time"},
      {"Time_Format", T::String, "", "strptime-style format of Time_Key (%L: fractional seconds)"},
      {"Time_Keep", T::Bool, "off", "keep Time_Key in the record"},
      {"Time_Offset", T::String, "", "UTC offset (+0900) for times without a zone"},
      {"Time_Strict", T::Bool, "on", "accepted for compatibility"},
      {"Time_System_Timezone", T::Bool, "off", "accepted for compatibility (times without zone are UTC)"},
      {"Types", T::String, "", "KEY:TYPE ... with TYPE integer, float, bool, hex or string"},
      {"Skip_Empty_Values", T::Bool, "on", "regex: leave out groups that matched nothing"},
      {"Decode_Field", T::String, "", "accepted and ignored (decoders are not implemented)", true},
      {"Decode_Field_As", T::String, "", "accepted and ignored (decoders are not implemented)", true},
      {"Logfmt_No_Bare_Keys", T::Bool, "off", "logfmt: fail on keys without a value"},
  };
  return specs;
}

const std::vector<OptionSpec>& multilineOptions() {
  using T = OptionType;
  static const std::vector<OptionSpec> specs = {
      {"Name", T::String, "", "multiline parser name", false, true},
      {"Type", T::Enum, "", "regex (the only type supported in parsers files)", false, true, false, {"regex"}},
      {"Flush_Timeout", T::Int, "4000", "milliseconds before a pending group is emitted"},
      {"Rule", T::String, "", "\"FROM_STATES\" \"/REGEX/\" \"TO_STATE\"", true},
      {"Key_Content", T::String, "", "field holding the text (default: the filter's multiline.key_content)"},
  };
  return specs;
}

void writeKey(codec::MsgpackWriter& w, ParsedFields& out, ParsedFields::Field& f, std::string_view key) {
  w.str(key);
  f.keyLen = key.size();
  f.keyOff = out.bytes.size() - key.size();
}

}  // namespace

int currentYear() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  return tm.tm_year + 1900;
}

Result<std::shared_ptr<const LogParser>> LogParser::fromSection(const config::Section& section) {
  auto v = validateOptions(section, parserOptions(), "[PARSER]");
  if (!v) return v.status();
  auto p = std::make_shared<LogParser>();
  p->name_ = std::string(v->str("Name"));
  std::string label = "[PARSER] " + p->name_;
  std::string_view fmt = v->str("Format");
  p->format_ = config::iequals(fmt, "json") ? Format::Json : config::iequals(fmt, "logfmt") ? Format::Logfmt : Format::Regex;
  if (p->format_ == Format::Regex) {
    if (!v->isSet("Regex")) return Status::error(section.where() + ": missing required key 'Regex' in " + label);
    auto re = record::compileRegex(v->str("Regex"));
    if (!re) {
      return Status::error(v->where("Regex") + ": invalid Regex in " + label + ": " + re.message() +
                           " (re2 has no lookaround, backreferences, possessive or atomic groups)");
    }
    p->regex_ = *re;
    p->groupNames_.assign(static_cast<size_t>(p->regex_->NumberOfCapturingGroups()) + 1, "");
    for (const auto& [name, idx] : p->regex_->NamedCapturingGroups()) p->groupNames_[static_cast<size_t>(idx)] = name;
  }
  p->timeKey_ = std::string(v->str("Time_Key"));
  if (v->isSet("Time_Format")) {
    auto tf = TimeFormat::parse(v->str("Time_Format"));
    if (!tf) return Status::error(v->where("Time_Format") + ": invalid Time_Format in " + label + ": " + tf.message());
    p->timeFormat_ = std::move(*tf);
  }
  p->timeKeep_ = v->boolean("Time_Keep");
  if (v->isSet("Time_Offset") && !parseUtcOffset(v->str("Time_Offset"), p->timeOffset_)) {
    return Status::error(v->where("Time_Offset") + ": invalid value '" + std::string(v->str("Time_Offset")) +
                         "' for 'Time_Offset' in " + label + ": expected +HHMM or -HHMM");
  }
  p->skipEmpty_ = v->boolean("Skip_Empty_Values");
  p->noBareKeys_ = v->boolean("Logfmt_No_Bare_Keys");
  if (v->isSet("Types")) {
    std::string_view t = v->str("Types");
    size_t i = 0;
    while (i < t.size()) {
      while (i < t.size() && (t[i] == ' ' || t[i] == '\t')) ++i;
      size_t start = i;
      while (i < t.size() && t[i] != ' ' && t[i] != '\t') ++i;
      if (start == i) break;
      std::string_view word = t.substr(start, i - start);
      size_t colon = word.rfind(':');
      std::string_view type = colon == std::string_view::npos ? std::string_view() : word.substr(colon + 1);
      FieldType ft;
      if (config::iequals(type, "integer")) ft = FieldType::Integer;
      else if (config::iequals(type, "float")) ft = FieldType::Float;
      else if (config::iequals(type, "bool")) ft = FieldType::Bool;
      else if (config::iequals(type, "hex")) ft = FieldType::Hex;
      else if (config::iequals(type, "string")) ft = FieldType::String;
      else {
        return Status::error(v->where("Types") + ": invalid Types entry '" + std::string(word) + "' in " + label +
                             ": expected KEY:TYPE with TYPE integer, float, bool, hex or string");
      }
      if (colon == 0) {
        return Status::error(v->where("Types") + ": invalid Types entry '" + std::string(word) + "' in " + label +
                             ": empty key");
      }
      p->types_.emplace_back(std::string(word.substr(0, colon)), ft);
    }
  }
  return std::shared_ptr<const LogParser>(std::move(p));
}

const FieldType* LogParser::typeOf(std::string_view key) const {
  for (const auto& [k, t] : types_)
    if (k == key) return &t;
  return nullptr;
}

bool LogParser::parseTime(std::string_view value, ParsedFields& out, int nowYear) const {
  int64_t ns;
  if (!timeFormat_->apply(value, ns, nowYear, timeOffset_)) {
    out.timeFailed = true;
    return false;
  }
  out.timeNs = ns;
  out.hasTime = true;
  return true;
}

void LogParser::addString(std::string_view key, std::string_view value, ParsedFields& out, int nowYear) const {
  if (isTimeKey(key) && parseTime(value, out, nowYear) && !timeKeep_) return;
  codec::MsgpackWriter w(out.bytes);
  ParsedFields::Field f;
  writeKey(w, out, f, key);
  f.valueOff = out.bytes.size();
  const FieldType* t = types_.empty() ? nullptr : typeOf(key);
  if (!t || *t == FieldType::String) {
    w.str(value);
  } else {
    // Fluent Bit's flb_parser_typecast: C conversions, so "12abc" is 12 and "abc" is 0.
    std::string tmp(value);
    switch (*t) {
      case FieldType::Integer: w.integer(std::strtoll(tmp.c_str(), nullptr, 10)); break;
      case FieldType::Hex: w.uint(std::strtoull(tmp.c_str(), nullptr, 16)); break;
      case FieldType::Float: w.float64(std::strtod(tmp.c_str(), nullptr)); break;
      case FieldType::Bool: w.boolean(config::iequals(value, "true")); break;
      case FieldType::String: break;
    }
  }
  f.valueLen = out.bytes.size() - f.valueOff;
  out.fields.push_back(f);
}

bool LogParser::parse(std::string_view text, ParsedFields& out, int nowYear) const {
  out.clear();
  switch (format_) {
    case Format::Regex: {
      const size_t n = groupNames_.size();
      re2::StringPiece groups[32];
      std::vector<re2::StringPiece> many;
      re2::StringPiece* g = groups;
      if (n > 32) {
        many.resize(n);
        g = many.data();
      }
      if (!regex_->Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), RE2::UNANCHORED, g,
                         static_cast<int>(n))) {
        return false;
      }
      for (size_t i = 1; i < n; ++i) {
        if (groupNames_[i].empty() || g[i].data() == nullptr) continue;
        if (skipEmpty_ && g[i].empty()) continue;
        addString(groupNames_[i], std::string_view(g[i].data(), g[i].size()), out, nowYear);
      }
      return true;
    }
    case Format::Json: {
      if (!jsonObjectToMsgpack(text, out.bytes, out.members)) return false;
      for (const JsonMember& m : out.members) {
        std::string_view key(reinterpret_cast<const char*>(out.bytes.data() + m.keyOff), m.keyLen);
        std::span<const uint8_t> value(out.bytes.data() + m.valueOff, m.valueLen);
        bool isStr = (value[0] & 0xe0) == 0xa0 || value[0] == 0xd9 || value[0] == 0xda || value[0] == 0xdb;
        if (isStr && (isTimeKey(key) || (!types_.empty() && typeOf(key)))) {
          size_t hdr = (value[0] & 0xe0) == 0xa0 ? 1 : value[0] == 0xd9 ? 2 : value[0] == 0xda ? 3 : 5;
          // Copy out: addString appends to the same vector.
          std::string k(key);
          std::string val(reinterpret_cast<const char*>(value.data() + hdr), value.size() - hdr);
          addString(k, val, out, nowYear);
          continue;
        }
        out.fields.push_back({m.keyOff, m.keyLen, m.valueOff, m.valueLen});
      }
      return true;
    }
    case Format::Logfmt: {
      // Fluent Bit's logfmt: keys and bare values are runs of printable non-blank bytes other than '"'
      // and '='; key="quoted \" value"; a key without '=' is true; parsing stops at the first newline.
      auto ident = [](unsigned char c) { return c > 0x20 && c != '"' && c != '=' && c != 0x7f; };
      size_t i = 0;
      const size_t end = text.size();
      while (i < end) {
        while (i < end && !ident(static_cast<unsigned char>(text[i])) && text[i] != '\n') ++i;
        if (i >= end || text[i] == '\n') break;
        size_t k0 = i;
        while (i < end && ident(static_cast<unsigned char>(text[i]))) ++i;
        std::string_view key = text.substr(k0, i - k0);
        bool valueSet = false, quoted = false, escaped = false;
        std::string_view value;
        if (i < end && text[i] == '=') {
          valueSet = true;
          ++i;
          if (i < end && text[i] == '"') {
            quoted = true;
            size_t v0 = ++i;
            while (i < end && text[i] != '"') {
              if (text[i] == '\\') {
                escaped = true;
                ++i;
              }
              if (i < end) ++i;
            }
            value = text.substr(v0, std::min(i, end) - v0);
            if (i < end) ++i;
          } else {
            size_t v0 = i;
            while (i < end && ident(static_cast<unsigned char>(text[i]))) ++i;
            value = text.substr(v0, i - v0);
          }
        }
        if (!valueSet && noBareKeys_) return false;
        if (value.empty() && !quoted) {
          if (isTimeKey(key) && !timeKeep_) continue;
          codec::MsgpackWriter w(out.bytes);
          ParsedFields::Field f;
          writeKey(w, out, f, key);
          f.valueOff = out.bytes.size();
          if (valueSet) {
            w.str("");
          } else {
            w.boolean(true);
          }
          f.valueLen = out.bytes.size() - f.valueOff;
          out.fields.push_back(f);
          continue;
        }
        if (escaped) {
          unescapeJsonString(value, out.tmp);
          std::string k(key);
          std::string val = out.tmp;
          addString(k, val, out, nowYear);
        } else {
          addString(key, value, out, nowYear);
        }
      }
      return !out.fields.empty() || out.hasTime;
    }
  }
  return false;
}

Result<MultilineRule> parseMultilineRule(std::string_view text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    if (i >= text.size()) break;
    if (text[i] != '"') return Status::error("expected a double-quoted word at '" + std::string(text.substr(i)) + "'");
    // The word ends at a '"' followed by a blank or the end: regexes may hold quotes themselves.
    size_t start = ++i;
    size_t close = std::string_view::npos;
    for (size_t k = start; k < text.size(); ++k) {
      if (text[k] == '"' && (k + 1 == text.size() || text[k + 1] == ' ' || text[k + 1] == '\t')) {
        close = k;
        break;
      }
    }
    if (close == std::string_view::npos) return Status::error("unterminated quote");
    words.emplace_back(text.substr(start, close - start));
    i = close + 1;
  }
  if (words.size() != 3) return Status::error("expected \"FROM_STATES\" \"/REGEX/\" \"TO_STATE\"");
  MultilineRule r;
  std::string_view from = words[0];
  size_t p = 0;
  while (p <= from.size()) {
    size_t comma = from.find(',', p);
    std::string_view s = from.substr(p, comma == std::string_view::npos ? std::string_view::npos : comma - p);
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    if (!s.empty()) r.from.emplace_back(s);
    if (comma == std::string_view::npos) break;
    p = comma + 1;
  }
  if (r.from.empty()) return Status::error("empty from-state");
  auto re = record::compileRegex(words[1]);
  if (!re) return Status::error("invalid regex '" + words[1] + "': " + re.message());
  r.regex = *re;
  r.to = words[2];
  if (r.to.empty()) return Status::error("empty to-state");
  return r;
}

Status ParserSet::addDocument(const config::Document& doc) {
  for (const auto& s : doc.sections) {
    if (s.kind == "parser") {
      auto p = LogParser::fromSection(s);
      if (!p) return p.status();
      parsers_.push_back(std::move(*p));
    } else if (s.kind == "multiline_parser") {
      auto v = validateOptions(s, multilineOptions(), "[MULTILINE_PARSER]");
      if (!v) return v.status();
      auto def = std::make_shared<MultilineParserDef>();
      def->name = std::string(v->str("Name"));
      def->where = s.where();
      int64_t ft = v->integer("Flush_Timeout");
      def->flushTimeoutMs = static_cast<int>(std::clamp<int64_t>(ft, 1, 3600000));
      def->keyContent = std::string(v->str("Key_Content"));
      bool hasStart = false;
      for (const auto& e : s.entries) {
        if (!config::iequals(e.key, "rule")) continue;
        auto r = parseMultilineRule(e.value);
        if (!r) {
          return Status::error(e.file + ":" + std::to_string(e.line) + ": invalid rule in [MULTILINE_PARSER] " +
                               def->name + ": " + r.message());
        }
        for (const auto& f : r->from) hasStart = hasStart || f == "start_state";
        def->rules.push_back(std::move(*r));
      }
      if (!hasStart) {
        return Status::error(s.where() + ": [MULTILINE_PARSER] " + def->name +
                             " needs a rule from \"start_state\"");
      }
      multiline_.push_back(std::move(def));
    }
  }
  return {};
}

Result<std::shared_ptr<const ParserSet>> ParserSet::load(const std::vector<FileRef>& files) {
  namespace fs = std::filesystem;
  auto set = std::make_shared<ParserSet>();
  for (const auto& f : files) {
    std::string path = f.path;
    std::error_code ec;
    // Fluent Bit resolves relative paths against the main config's folder; the working directory is
    // tried first so command-line users are not surprised.
    if (!fs::path(path).is_absolute() && !fs::exists(path, ec) && !f.baseDir.empty()) {
      path = (fs::path(f.baseDir) / path).lexically_normal().string();
    }
    std::string prefix = f.where.empty() ? std::string() : f.where + ": ";
    if (!fs::exists(path, ec)) return Status::error(prefix + "Parsers_File '" + f.path + "': no such file");
    auto doc = config::parseFile(path);
    if (!doc) return Status::error(prefix + "in Parsers_File: " + doc.message());
    Status st = set->addDocument(*doc);
    if (!st) return st;
  }
  return std::shared_ptr<const ParserSet>(std::move(set));
}

const LogParser* ParserSet::find(std::string_view name) const {
  for (const auto& p : parsers_)
    if (p->name() == name) return p.get();
  return nullptr;
}

const MultilineParserDef* ParserSet::findMultiline(std::string_view name) const {
  for (const auto& p : multiline_)
    if (p->name == name) return p.get();
  return nullptr;
}

std::vector<std::string> ParserSet::names() const {
  std::vector<std::string> out;
  for (const auto& p : parsers_) out.push_back(p->name());
  return out;
}

}  // namespace firelane::parser
