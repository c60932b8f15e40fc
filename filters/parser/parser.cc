// The parser filter: Key_Name's string value is tried against each Parser in order; the first that
// matches wins. A parsed record is the parsed fields, then (Reserve_Data) the other original pairs and
// (Preserve_Key) the original Key_Name pair, copied as raw bytes; the event time becomes the parsed
// Time_Key when there is one. Records that do not match, lack the key or hold a non-string there pass
// unchanged (their views are kept, nothing is copied).
#include "filters/parser/parser.h"

#include "core/config/document.h"
#include "core/parser/log_parser.h"
#include "core/record/record_builder.h"

namespace firelane::filters::parser {
namespace {

using firelane::parser::LogParser;
using firelane::parser::ParsedFields;

struct ParserConfig {
  std::string keyName;
  std::vector<const LogParser*> parsers;
  firelane::parser::ParserSetRef set;  // keeps `parsers` alive
  bool reserveData = false;
  bool preserveKey = false;
  bool unescapeKey = false;
};

class ParserFilter final : public Filter {
 public:
  explicit ParserFilter(const ParserConfig& cfg) : cfg_(cfg) {}

  Status start(FilterContext& ctx) override {
    ctx_ = &ctx;
    return {};
  }

  FilterResult apply(EventBatch& batch) override {
    record::BatchEditor ed(batch, builder_);
    const int year = firelane::parser::currentYear();
    for (const Event& ev : batch.events) {
      std::string_view text;
      if (!record::stringValue(record::findKey(ev.record, cfg_.keyName), text)) {
        ed.keep();
        continue;
      }
      if (cfg_.unescapeKey && text.find('\\') != std::string_view::npos) {
        firelane::parser::unescapeJsonString(text, unescaped_);
        text = unescaped_;
      }
      bool parsed = false;
      for (const LogParser* p : cfg_.parsers) {
        if (p->parse(text, fields_, year)) {
          parsed = true;
          break;
        }
      }
      if (!parsed) {
        ed.keep();
        continue;
      }
      if (fields_.timeFailed && ctx_) ctx_->counters().errors.add("time_format_mismatch");
      size_t rec = build(ev.record);
      if (fields_.hasTime) {
        ed.replace(rec, fields_.timeNs);
      } else {
        ed.replace(rec);
      }
    }
    return ed.finish();
  }

 private:
  size_t build(record::Bytes original) {
    builder_.begin();
    for (const auto& f : fields_.fields) {
      builder_.addKey(fields_.key(f));
      builder_.writer().raw(fields_.value(f));
      builder_.valueWritten();
    }
    if ((cfg_.reserveData || cfg_.preserveKey) && record::readEntries(original, entries_)) {
      for (const auto& e : entries_) {
        bool isKey = e.keyIsString && e.key == cfg_.keyName;
        if (isKey ? !cfg_.preserveKey : !cfg_.reserveData) continue;
        // A parsed field of the same name wins: no duplicate keys in the new record.
        bool dup = false;
        for (const auto& f : fields_.fields) dup = dup || (e.keyIsString && fields_.key(f) == e.key);
        if (!dup) builder_.copyPair(e.pair());
      }
    }
    return builder_.end();
  }

  const ParserConfig& cfg_;
  FilterContext* ctx_ = nullptr;
  record::RecordBuilder builder_;
  ParsedFields fields_;
  std::vector<record::Entry> entries_;
  std::string unescaped_;
};

class ParserFactory final : public FilterFactory {
 public:
  explicit ParserFactory(ParserConfig cfg) : cfg_(std::move(cfg)) {}
  FilterPtr create(unsigned) const override { return std::make_unique<ParserFilter>(cfg_); }

 private:
  ParserConfig cfg_;
};

}  // namespace

void registerPlugin(Registry& registry) {
  PluginInfo info;
  info.kind = PluginKind::Filter;
  info.name = "parser";
  info.description = "parses a record field with [PARSER] definitions (regex, json, logfmt)";
  info.options = {
      {"Key_Name", OptionType::String, "", "field to parse", false, true},
      {"Parser", OptionType::String, "", "parser name (repeat: the first that matches wins)", true, true},
      {"Reserve_Data", OptionType::Bool, "off", "keep the record's other fields"},
      {"Preserve_Key", OptionType::Bool, "off", "keep the original Key_Name field"},
      {"Unescape_Key", OptionType::Bool, "off", "unescape \\n, \\\", \\uXXXX... in the value before parsing"},
  };
  info.makeFilter = [](const OptionValues& v, const PluginEnv& env) -> Result<std::shared_ptr<FilterFactory>> {
    ParserConfig c;
    c.keyName = std::string(v.str("Key_Name"));
    c.reserveData = v.boolean("Reserve_Data");
    c.preserveKey = v.boolean("Preserve_Key");
    c.unescapeKey = v.boolean("Unescape_Key");
    c.set = env.service.parsers;
    for (std::string_view name : v.all("Parser")) {
      const LogParser* p = c.set ? c.set->find(name) : nullptr;
      if (!p) {
        std::string msg = v.where("Parser") + ": unknown parser '" + std::string(name) + "' in " + v.label();
        std::vector<std::string> names = c.set ? c.set->names() : std::vector<std::string>{};
        std::string suggestion = suggestName(name, names);
        if (!suggestion.empty()) {
          msg += " (did you mean '" + suggestion + "'?)";
        } else if (names.empty()) {
          msg += " (no [PARSER] loaded: set Parsers_File in [SERVICE])";
        }
        return Status::error(msg);
      }
      c.parsers.push_back(p);
    }
    return std::shared_ptr<FilterFactory>(std::make_shared<ParserFactory>(std::move(c)));
  };
  registry.add(std::move(info));
}

}  // namespace firelane::filters::parser
