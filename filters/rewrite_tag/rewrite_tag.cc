// The rewrite_tag filter: the first Rule whose regex matches a record's field re-emits that record
// under the rule's tag template ($1..$9 captures, $TAG, $TAG[n], $key accessors) through
// FilterContext::emit (the engine skips this filter for what it emits, so rules cannot loop). The
// re-emitted events are views of the same records (no copy); KEEP false drops the original.
#include "filters/rewrite_tag/rewrite_tag.h"

#include <algorithm>

#include "core/record/option_text.h"
#include "core/record/record_accessor.h"
#include "core/config/values.h"
#include "core/record/regex.h"

namespace firelane::filters::rewrite_tag {
namespace {

struct Rule {
  record::RecordAccessor key;
  std::shared_ptr<const RE2> regex;
  record::RecordTemplate tag;
  bool keep = false;
};

struct RewriteConfig {
  std::vector<Rule> rules;
};

class RewriteTag final : public Filter {
 public:
  explicit RewriteTag(const RewriteConfig& cfg) : cfg_(cfg) {}

  Status start(FilterContext& ctx) override {
    ctx_ = &ctx;
    return {};
  }

  FilterResult apply(EventBatch& batch) override {
    if (cfg_.rules.empty() || !ctx_) return FilterResult::Unchanged;
    out_.clear();
    size_t kept = 0;
    size_t dropBytes = 0;
    auto& ev = batch.events;
    for (size_t i = 0; i < ev.size(); ++i) {
      const Rule* rule = nullptr;
      tag_.clear();
      if (match(ev[i].record, batch.tag, rule)) {
        EventBatch* target = batchFor(batch);
        target->add(ev[i].timeNs, ev[i].record);
        if (!rule->keep) {
          dropBytes += ev[i].record.size();
          continue;
        }
      }
      if (kept != i) ev[kept] = ev[i];
      ++kept;
    }
    const bool changed = kept != ev.size();
    ev.resize(kept);
    batch.bytes -= std::min(batch.bytes, dropBytes);
    for (auto& b : out_) ctx_->emit(std::move(b));
    out_.clear();
    if (!changed) return FilterResult::Unchanged;
    return kept == 0 ? FilterResult::DropAll : FilterResult::Modified;
  }

 private:
  // Finds the first matching rule and renders its tag into tag_.
  bool match(std::span<const uint8_t> rec, std::string_view tag, const Rule*& which) {
    for (const Rule& r : cfg_.rules) {
      std::string_view s;
      if (!record::stringValue(r.key.find(rec), s)) continue;
      int groups = std::min(r.regex->NumberOfCapturingGroups(), 9) + 1;
      re2::StringPiece sub[10];
      if (!r.regex->Match(s, 0, s.size(), RE2::UNANCHORED, sub, groups)) continue;
      std::string_view caps[10];
      for (int g = 0; g < groups; ++g) caps[g] = std::string_view(sub[g].data(), sub[g].size());
      r.tag.render(tag_, tag, rec, std::span<const std::string_view>(caps, static_cast<size_t>(groups)));
      // An empty tag cannot be routed: Fluent Bit skips such records too (they stay as they are).
      if (tag_.empty()) continue;
      which = &r;
      return true;
    }
    return false;
  }

  EventBatch* batchFor(const EventBatch& from) {
    for (auto& b : out_)
      if (b.tag == tag_) return &b;
    EventBatch b;
    b.tag = tag_;
    b.owners = from.owners;  // the same buffers: re-emitted events are views, not copies
    b.extra = from.extra;
    out_.push_back(std::move(b));
    return &out_.back();
  }

  const RewriteConfig& cfg_;
  FilterContext* ctx_ = nullptr;
  std::vector<EventBatch> out_;
  std::string tag_;
};

class RewriteFactory final : public FilterFactory {
 public:
  explicit RewriteFactory(RewriteConfig cfg) : cfg_(std::move(cfg)) {}
  FilterPtr create(unsigned) const override { return std::make_unique<RewriteTag>(cfg_); }

 private:
  RewriteConfig cfg_;
};

Result<std::shared_ptr<FilterFactory>> make(const OptionValues& v) {
  RewriteConfig c;
  const std::string label = v.label();
  for (std::string_view text : v.all("Rule")) {
    auto bad = [&](const std::string& why) {
      return Status::error(v.where("Rule") + ": invalid Rule '" + std::string(text) + "' in " + label + ": " + why);
    };
    auto words = record::splitWords(text);
    if (!words) return bad(words.message());
    if (words->size() != 4) return bad("expected KEY REGEX NEW_TAG KEEP (quote words that contain blanks)");
    const auto& w = *words;
    auto ra = record::RecordAccessor::parse(w[0][0] == '$' ? w[0] : "$" + w[0]);
    if (!ra) return bad(ra.message());
    auto re = record::compileRegex(w[1]);
    if (!re) return bad("regex '" + w[1] + "': " + re.message());
    auto tag = record::RecordTemplate::parse(w[2]);
    if (!tag) return bad(tag.message());
    auto keep = config::parseBool(w[3]);
    if (!keep) return bad("KEEP must be true or false, not '" + w[3] + "'");
    c.rules.push_back(Rule{std::move(*ra), std::move(*re), std::move(*tag), *keep});
  }
  if (c.rules.empty()) return Status::error(v.label() + ": [FILTER] rewrite_tag needs at least one Rule");
  return std::shared_ptr<FilterFactory>(std::make_shared<RewriteFactory>(std::move(c)));
}

}  // namespace

void registerPlugin(Registry& registry) {
  PluginInfo info;
  info.kind = PluginKind::Filter;
  info.name = "rewrite_tag";
  info.description = "re-emits records under a new tag chosen by regex rules";
  info.options = {
      {"Rule", OptionType::String, "", "KEY REGEX NEW_TAG KEEP: first matching rule re-tags the record", true},
      {"Emitter_Name", OptionType::String, "", "name of the emitter (accepted for compatibility)"},
      {"Emitter_Storage.type", OptionType::Enum, "memory", "accepted for compatibility", false, false, false,
       {"memory", "filesystem"}},
      {"Emitter_Mem_Buf_Limit", OptionType::Size, "10M", "accepted for compatibility (the emitted records are "
                                                          "accounted to the original input)"},
  };
  info.makeFilter = [](const OptionValues& v, const PluginEnv&) { return make(v); };
  registry.add(std::move(info));
}

}  // namespace firelane::filters::rewrite_tag
