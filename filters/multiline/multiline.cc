// The multiline filter. Records that take part in a join are held (their bytes copied: they outlive
// the batch); every other record passes with its view untouched and in order. A joined record keeps
// the pairs of its first piece (raw bytes), with the content key's value replaced by the joined text
// (and, for partial messages, without the partial_* keys). Joins completed by a record of the current
// batch take that record's place in it; joins that time out (flush_ms / flush_timeout) or are held at
// shutdown are emitted through FilterContext::emit.
#include "filters/multiline/multiline.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "core/config/document.h"
#include "core/parser/log_parser.h"
#include "core/record/record_builder.h"
#include "core/record/regex.h"

namespace firelane::filters::multiline {
namespace {

using firelane::parser::MultilineRule;
namespace pr = firelane::parser;

enum class Mode { Parser, Partial };
enum class Kind { Regex, Docker, Cri };

struct MlParser {
  std::string name;
  Kind kind = Kind::Regex;
  std::vector<MultilineRule> rules;
  uint64_t flushMs = 0;  // 0 = the filter's flush_ms
  std::string keyContent;  // empty = the filter's
};

struct MultilineConfig {
  Mode mode = Mode::Parser;
  std::vector<MlParser> parsers;
  std::string keyContent = "log";
  uint64_t flushMs = 2000;
  uint64_t bufferLimit = 2u << 20;
};

MultilineRule makeRule(std::vector<std::string> from, std::string_view regex, std::string to) {
  auto re = record::compileRegex(regex);
  // Built-in patterns are constants: a failure is a programming error caught by the tests.
  return MultilineRule{std::move(from), re ? *re : nullptr, std::move(to)};
}

// Fluent Bit's built-in regex parsers (src/multiline/flb_ml_parser_{java,python,go}.c) in re2 syntax.
std::vector<MultilineRule> builtinRules(std::string_view name) {
  using V = std::vector<std::string>;
  std::vector<MultilineRule> r;
  if (name == "java") {
    r.push_back(makeRule(V{"start_state", "java_start_exception"},
                         R"((.)(?:Exception|Error|Throwable|V8 errors stack trace)[:\r\n])", "java_after_exception"));
    r.push_back(makeRule(V{"java_after_exception"}, R"(^[\t ]*nested exception is:[\t ]*)", "java_start_exception"));
    r.push_back(makeRule(V{"java_after_exception"}, R"(^[\r\n]*$)", "java_after_exception"));
    r.push_back(makeRule(V{"java_after_exception", "java"}, R"(^[\t ]+(?:eval )?at )", "java"));
    r.push_back(makeRule(V{"java_after_exception", "java"}, R"(^[\t ]+--- End of inner exception stack trace ---$)", "java"));
    r.push_back(makeRule(V{"java_after_exception", "java"},
                         R"(^--- End of stack trace from previous location where exception was thrown ---$)", "java"));
    r.push_back(makeRule(V{"java_after_exception", "java"}, R"(^[\t ]*(?:Caused by|Suppressed):)", "java_after_exception"));
    r.push_back(makeRule(V{"java_after_exception", "java"}, R"(^[\t ]*... \d+ (?:more|common frames omitted))", "java"));
  } else if (name == "python") {
    r.push_back(makeRule(V{"start_state"}, R"(^Traceback \(most recent call last\):$)", "python"));
    r.push_back(makeRule(V{"python"}, R"(^[\t ]+File )", "python_code"));
    r.push_back(makeRule(V{"python_code"}, R"([^\t ])", "python"));
    r.push_back(makeRule(V{"python"}, R"(^(?:[^\s.():]+\.)*[^\s.():]+:)", "start_state"));
  } else if (name == "go") {
    r.push_back(makeRule(V{"start_state"}, R"(\bpanic: )", "go_after_panic"));
    r.push_back(makeRule(V{"start_state"}, R"(http: panic serving)", "go_goroutine"));
    r.push_back(makeRule(V{"go_after_panic"}, R"(^$)", "go_goroutine"));
    r.push_back(makeRule(V{"go_after_panic", "go_after_signal", "go_frame_1"}, R"(^$)", "go_goroutine"));
    r.push_back(makeRule(V{"go_after_panic"}, R"(^\[signal )", "go_after_signal"));
    r.push_back(makeRule(V{"go_goroutine"}, R"(^goroutine \d+ \[[^\]]+\]:$)", "go_frame_1"));
    r.push_back(makeRule(V{"go_frame_1"}, R"(^(?:[^\s.:]+\.)*[^\s.():]+\(|^created by )", "go_frame_2"));
    r.push_back(makeRule(V{"go_frame_2"}, R"(^\s)", "go_frame_1"));
  }
  return r;
}

bool isStartRule(const MultilineRule& r) {
  return std::find(r.from.begin(), r.from.end(), "start_state") != r.from.end();
}

bool truthy(record::Bytes v) {
  if (v.size() == 1 && v[0] == 0xc3) return true;
  std::string_view s;
  return record::stringValue(v, s) && s == "true";
}

bool parseOrdinal(record::Bytes v, uint32_t& out) {
  std::string_view s;
  if (record::stringValue(v, s)) {
    if (s.empty() || s.size() > 9) return false;
    uint32_t n = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      n = n * 10 + static_cast<uint32_t>(c - '0');
    }
    out = n;
    return n > 0;
  }
  if (v.size() == 1 && v[0] > 0 && v[0] < 0x80) {
    out = v[0];
    return true;
  }
  if (v.size() == 2 && v[0] == 0xcc) {
    out = v[1];
    return out > 0;
  }
  if (v.size() == 3 && v[0] == 0xcd) {
    out = (uint32_t(v[1]) << 8) | v[2];
    return out > 0;
  }
  return false;
}

// One join in progress: a stream's pending lines (parser mode) or one partial_id's pieces.
struct Held {
  std::string tag;
  std::vector<uint8_t> first;  // copy of the first record (its other pairs are kept)
  int64_t timeNs = 0;
  std::string content;                      // the joined text so far
  std::map<uint32_t, std::string> pieces;   // partial mode: out-of-order pieces by partial_ordinal
  uint32_t contig = 0;                      // partial mode: ordinals 1..contig are in `content`
  uint32_t firstOrdinal = 0;                // partial mode: ordinal of `first`
  uint32_t lastOrdinal = 0;                 // partial mode: known once partial_last "true" arrived
  uint32_t nextArrival = 1;                 // partial mode: ordinal for pieces that carry none
  size_t bytes = 0;
  uint32_t lines = 0;  // parser mode: lines joined so far
  uint64_t touchedMs = 0;
  size_t parser = 0;  // parser mode
  std::string state;
  bool active = false;
};

class MultilineFilter final : public Filter {
 public:
  explicit MultilineFilter(const MultilineConfig& cfg) : cfg_(cfg) {}

  Status start(FilterContext& ctx) override {
    ctx_ = &ctx;
    uv_loop_t* loop = ctx.loop();
    if (!loop) return {};
    uint64_t shortest = cfg_.flushMs;
    for (const auto& p : cfg_.parsers) shortest = std::min(shortest, p.flushMs ? p.flushMs : cfg_.flushMs);
    uint64_t tick = std::clamp<uint64_t>(shortest / 2, 5, 1000);
    timer_ = new uv_timer_t;
    uv_timer_init(loop, timer_);
    timer_->data = this;
    uv_timer_start(
        timer_, [](uv_timer_t* t) { static_cast<MultilineFilter*>(t->data)->onTimer(); }, tick, tick);
    uv_unref(reinterpret_cast<uv_handle_t*>(timer_));
    return {};
  }

  FilterResult apply(EventBatch& batch) override {
    builder_.clear();
    outs_.clear();
    changed_ = false;
    tag_ = &batch.tag;
    now_ = ctx_ && ctx_->loop() ? uv_now(ctx_->loop()) : 0;
    for (size_t i = 0; i < batch.events.size(); ++i) {
      if (cfg_.mode == Mode::Partial) {
        partial(batch.events[i], i);
      } else {
        line(batch.events[i], i);
      }
    }
    FilterResult r = changed_ ? assemble(batch) : FilterResult::Unchanged;
    retired_.clear();
    return r;
  }

  void close(std::function<void()> closed) override {
    flushWhere([](const Held&) { return true; }, false);
    if (!timer_) {
      closed();
      return;
    }
    // The close callback owns `closed` and the handle: it may run after this object is gone.
    uv_timer_stop(timer_);
    timer_->data = new std::function<void()>(std::move(closed));
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) {
      auto* cb = static_cast<std::function<void()>*>(h->data);
      delete reinterpret_cast<uv_timer_t*>(h);
      if (*cb) (*cb)();
      delete cb;
    });
    timer_ = nullptr;
  }

  ~MultilineFilter() override {
    if (!timer_) return;  // close() was not called (start-up failed elsewhere): just release the handle
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  }

 private:
  struct Out {
    bool built;
    size_t index;  // event index or builder record
    int64_t timeNs;
  };

  void keepEvent(size_t i, const Event& ev) { outs_.push_back({false, i, ev.timeNs}); }
  void emitHeld(Held&& h) {
    size_t rec = buildJoined(h);
    outs_.push_back({true, rec, h.timeNs});
    retired_.push_back(std::move(h));
    changed_ = true;
    if (ctx_) ctx_->counters().recordsAdded.add();
  }

  std::string_view contentKey(size_t parser) const {
    if (cfg_.mode == Mode::Parser && parser < cfg_.parsers.size() && !cfg_.parsers[parser].keyContent.empty())
      return cfg_.parsers[parser].keyContent;
    return cfg_.keyContent;
  }

  // Builds the joined record of `h` into builder_; referenced bytes live in `h` (kept in retired_ or
  // alive until the builder is written).
  size_t buildJoined(Held& h) {
    if (cfg_.mode == Mode::Partial) {
      for (auto& [ord, piece] : h.pieces) h.content += piece;  // pieces after a gap (incomplete groups)
      h.pieces.clear();
    }
    std::string_view key = contentKey(h.parser);
    builder_.begin();
    bool wrote = false;
    if (record::readEntries(h.first, entries_)) {
      for (const auto& e : entries_) {
        if (e.keyIsString && e.key == key) {
          if (!wrote) builder_.addStrRef(key, h.content);
          wrote = true;
          continue;
        }
        if (cfg_.mode == Mode::Partial && e.keyIsString &&
            (e.key == "partial_message" || e.key == "partial_id" || e.key == "partial_ordinal" ||
             e.key == "partial_last")) {
          continue;
        }
        builder_.copyPair(e.pair());
      }
    }
    if (!wrote) builder_.addStrRef(key, h.content);
    return builder_.end();
  }

  // ---- partial_message mode ----
  void partial(const Event& ev, size_t i) {
    record::Bytes rec = ev.record;
    if (!truthy(record::findKey(rec, "partial_message"))) return keepEvent(i, ev);
    std::string_view content;
    if (!record::stringValue(record::findKey(rec, cfg_.keyContent), content)) return keepEvent(i, ev);
    std::string_view id;
    record::stringValue(record::findKey(rec, "partial_id"), id);
    std::string key = *tag_;
    key.push_back('\0');
    key.append(id);
    Held& h = held_[key];
    if (!h.active) {
      h = Held{};
      h.active = true;
      h.tag = *tag_;
    }
    uint32_t ord = 0;
    if (!parseOrdinal(record::findKey(rec, "partial_ordinal"), ord) || ord <= h.contig || h.pieces.count(ord)) {
      ord = std::max(h.nextArrival, h.contig + 1);  // missing or repeated ordinal: arrival order
    }
    h.nextArrival = std::max(h.nextArrival, ord + 1);
    if (h.first.empty() || ord < h.firstOrdinal) {
      h.first.assign(rec.begin(), rec.end());
      h.timeNs = ev.timeNs;
      h.firstOrdinal = ord;
    }
    // In-order pieces (the normal case) go straight into the joined text; others wait in `pieces`.
    if (ord == h.contig + 1) {
      h.content.append(content);
      ++h.contig;
      while (!h.pieces.empty() && h.pieces.begin()->first == h.contig + 1) {
        h.content += h.pieces.begin()->second;
        h.pieces.erase(h.pieces.begin());
        ++h.contig;
      }
    } else {
      h.pieces.emplace(ord, std::string(content));
    }
    h.bytes += content.size();
    h.touchedMs = now_;
    if (truthy(record::findKey(rec, "partial_last"))) h.lastOrdinal = ord;
    changed_ = true;  // this piece is held (dropped from the batch)
    if (h.lastOrdinal && h.contig >= h.lastOrdinal) {
      Held done = std::move(h);
      held_.erase(key);
      emitHeld(std::move(done));
    } else if (h.bytes >= cfg_.bufferLimit) {
      // Emit what is held; the group stays open (same keys) so later pieces still join and complete.
      if (ctx_) ctx_->counters().errors.add("partial_buffer_limit");
      Held part;
      part.tag = h.tag;
      part.first = h.first;
      part.timeNs = h.timeNs;
      part.content = std::move(h.content);
      part.pieces = std::move(h.pieces);
      h.content.clear();
      h.pieces.clear();
      h.contig = std::max(h.contig, part.pieces.empty() ? 0u : part.pieces.rbegin()->first);
      h.bytes = 0;
      emitHeld(std::move(part));
    }
  }

  // ---- multiline.parser mode ----
  std::string streamKey(record::Bytes rec) const {
    std::string key = *tag_;
    std::string_view s;
    key.push_back('\0');
    if (record::stringValue(record::findKey(rec, "container_id"), s)) key.append(s);
    key.push_back('\0');
    if (record::stringValue(record::findKey(rec, "stream"), s) || record::stringValue(record::findKey(rec, "source"), s))
      key.append(s);
    return key;
  }

  // What a parser says about a line when no join is pending (start) or one is (cont).
  enum class Step { No, Start, Single, Append, AppendEnd };

  Step startStep(const MlParser& p, std::string_view text, record::Bytes rec, std::string& state) const {
    switch (p.kind) {
      case Kind::Docker:
        return !text.empty() && text.back() == '\n' ? Step::Single : Step::Start;
      case Kind::Cri: {
        std::string_view flag;
        if (!record::stringValue(record::findKey(rec, "_p"), flag)) return Step::No;
        return flag == "P" ? Step::Start : Step::Single;
      }
      case Kind::Regex:
        for (const auto& r : p.rules) {
          if (isStartRule(r) && RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *r.regex)) {
            state = r.to;
            return Step::Start;
          }
        }
        return Step::No;
    }
    return Step::No;
  }

  Step contStep(const MlParser& p, std::string_view text, record::Bytes rec, std::string& state) const {
    switch (p.kind) {
      case Kind::Docker:
        return !text.empty() && text.back() == '\n' ? Step::AppendEnd : Step::Append;
      case Kind::Cri: {
        std::string_view flag;
        if (!record::stringValue(record::findKey(rec, "_p"), flag)) return Step::No;
        return flag == "P" ? Step::Append : Step::AppendEnd;
      }
      case Kind::Regex:
        for (const auto& r : p.rules) {
          if (isStartRule(r)) continue;  // as Fluent Bit: a start rule always begins a new join
          if (std::find(r.from.begin(), r.from.end(), state) == r.from.end()) continue;
          if (RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *r.regex)) {
            state = r.to;
            return Step::Append;
          }
        }
        return Step::No;
    }
    return Step::No;
  }

  void appendText(Held& h, std::string_view text) {
    // Regex parsers join lines with a newline (lines arrive without one, and may be empty); docker and cri pieces are
    // fragments of one line and join as they are.
    if (cfg_.parsers[h.parser].kind == Kind::Regex && h.lines > 0) h.content.push_back('\n');
    ++h.lines;
    h.content.append(text);
    h.bytes = h.content.size();
    h.touchedMs = now_;
  }

  void line(const Event& ev, size_t i) {
    record::Bytes rec = ev.record;
    std::string key = streamKey(rec);
    auto it = held_.find(key);
    Held* h = it == held_.end() || !it->second.active ? nullptr : &it->second;
    if (h) {
      std::string_view text;
      if (!record::stringValue(record::findKey(rec, contentKey(h->parser)), text)) return keepEvent(i, ev);
      std::string state = h->state;
      Step s = contStep(cfg_.parsers[h->parser], text, rec, state);
      if (s == Step::Append || s == Step::AppendEnd) {
        appendText(*h, text);
        h->state = state;
        changed_ = true;
        if (s == Step::AppendEnd || h->bytes >= cfg_.bufferLimit) {
          if (s != Step::AppendEnd && ctx_) ctx_->counters().errors.add("multiline_buffer_limit");
          Held done = std::move(*h);
          held_.erase(key);
          emitHeld(std::move(done));
        }
        return;
      }
      // The join ended before this line: emit it first, then look at the line afresh.
      Held done = std::move(*h);
      held_.erase(key);
      emitHeld(std::move(done));
    }
    for (size_t p = 0; p < cfg_.parsers.size(); ++p) {
      std::string_view text;
      if (!record::stringValue(record::findKey(rec, contentKey(p)), text)) continue;
      std::string state;
      Step s = startStep(cfg_.parsers[p], text, rec, state);
      if (s == Step::No) continue;
      if (s == Step::Single) break;
      Held& n = held_[key];
      n = Held{};
      n.active = true;
      n.tag = *tag_;
      n.first.assign(rec.begin(), rec.end());
      n.timeNs = ev.timeNs;
      n.parser = p;
      n.state = state;
      appendText(n, text);
      changed_ = true;
      return;
    }
    keepEvent(i, ev);
  }

  // Writes outs_ into the batch: kept events keep their views, joined records go into one new buffer.
  FilterResult assemble(EventBatch& batch) {
    if (outs_.empty()) {
      batch.events.clear();
      batch.bytes = 0;
      return FilterResult::DropAll;
    }
    BufferPtr buf;
    if (builder_.records() > 0) buf = makeBuffer(builder_.totalSize());
    std::vector<Event> events;
    events.reserve(outs_.size());
    size_t bytes = 0;
    for (const Out& o : outs_) {
      if (!o.built) {
        events.push_back(batch.events[o.index]);
      } else {
        uint8_t* dst = buf->tail().data();
        size_t n = builder_.writeRecord(o.index, dst);
        buf->commit(n);
        events.push_back(Event{o.timeNs, {dst, n}});
      }
      bytes += events.back().record.size();
    }
    batch.events = std::move(events);
    batch.bytes = bytes;
    if (buf) batch.owners.push_back(std::move(buf));
    return FilterResult::Modified;
  }

  uint64_t timeoutOf(const Held& h) const {
    if (cfg_.mode == Mode::Parser && h.parser < cfg_.parsers.size() && cfg_.parsers[h.parser].flushMs)
      return cfg_.parsers[h.parser].flushMs;
    return cfg_.flushMs;
  }

  void onTimer() {
    uint64_t now = uv_now(ctx_->loop());
    flushWhere([&](const Held& h) { return h.touchedMs + timeoutOf(h) <= now; }, true);
  }

  // Emits (through ctx.emit, one batch per tag) every held join for which `pred` holds.
  template <typename Pred>
  void flushWhere(Pred pred, bool timedOut) {
    std::vector<std::string> keys;
    for (auto& [k, h] : held_)
      if (h.active && pred(h)) keys.push_back(k);
    if (keys.empty()) return;
    std::sort(keys.begin(), keys.end());
    std::vector<Held> done;
    for (const auto& k : keys) {
      auto it = held_.find(k);
      done.push_back(std::move(it->second));
      held_.erase(it);
    }
    // Oldest first, grouped per tag.
    std::stable_sort(done.begin(), done.end(), [](const Held& a, const Held& b) {
      return a.tag != b.tag ? a.tag < b.tag : a.timeNs < b.timeNs;
    });
    size_t i = 0;
    while (i < done.size()) {
      size_t j = i;
      builder_.clear();
      std::vector<int64_t> times;
      while (j < done.size() && done[j].tag == done[i].tag) {
        if (cfg_.mode == Mode::Partial && ctx_) ctx_->counters().errors.add(timedOut ? "partial_incomplete" : "partial_flushed_at_close");
        buildJoined(done[j]);
        times.push_back(done[j].timeNs);
        ++j;
      }
      EventBatch b;
      b.tag = done[i].tag;
      BufferPtr buf = makeBuffer(builder_.totalSize());
      for (size_t r = 0; r < builder_.records(); ++r) {
        uint8_t* dst = buf->tail().data();
        size_t n = builder_.writeRecord(r, dst);
        buf->commit(n);
        b.add(times[r], {dst, n});
      }
      b.owners.push_back(std::move(buf));
      if (ctx_) {
        ctx_->counters().recordsAdded.add(builder_.records());
        ctx_->emit(std::move(b));
      }
      i = j;
    }
    builder_.clear();
  }

  const MultilineConfig& cfg_;
  FilterContext* ctx_ = nullptr;
  uv_timer_t* timer_ = nullptr;  // owned; freed by its uv_close callback
  std::unordered_map<std::string, Held> held_;
  std::vector<Held> retired_;
  record::RecordBuilder builder_;
  std::vector<record::Entry> entries_;
  std::vector<Out> outs_;
  const std::string* tag_ = nullptr;
  uint64_t now_ = 0;
  bool changed_ = false;
};

class MultilineFactory final : public FilterFactory {
 public:
  explicit MultilineFactory(MultilineConfig cfg) : cfg_(std::move(cfg)) {}
  FilterPtr create(unsigned) const override { return std::make_unique<MultilineFilter>(cfg_); }

 private:
  MultilineConfig cfg_;
};

}  // namespace

void registerPlugin(Registry& registry) {
  PluginInfo info;
  info.kind = PluginKind::Filter;
  info.name = "multiline";
  info.description = "joins partial messages and multi-line stack traces into one record";
  info.options = {
      {"multiline.parser", OptionType::String, "",
       "comma list of docker, cri, java, python, go or [MULTILINE_PARSER] names (repeatable)", true},
      {"multiline.key_content", OptionType::String, "log", "field holding the text to join"},
      {"mode", OptionType::Enum, "parser", "parser (stack traces) or partial_message (Docker's split lines)", false,
       false, false, {"parser", "partial_message"}},
      {"flush_ms", OptionType::Int, "2000", "milliseconds before a pending join is emitted as it is"},
      {"buffer_limit", OptionType::Size, "2MiB", "bytes held per join; beyond, what is held is emitted"},
      {"buffer", OptionType::Bool, "on", "accepted for compatibility (joins are always buffered)"},
      {"emitter_name", OptionType::String, "", "accepted for compatibility"},
      {"emitter_storage.type", OptionType::String, "memory", "accepted for compatibility"},
      {"emitter_mem_buf_limit", OptionType::Size, "10M", "accepted for compatibility"},
      {"debug_flush", OptionType::Bool, "off", "accepted for compatibility"},
  };
  info.makeFilter = [](const OptionValues& v, const PluginEnv& env) -> Result<std::shared_ptr<FilterFactory>> {
    MultilineConfig c;
    c.mode = config::iequals(v.str("mode"), "partial_message") ? Mode::Partial : Mode::Parser;
    c.keyContent = std::string(v.str("multiline.key_content"));
    int64_t flush = v.integer("flush_ms");
    if (flush <= 0) {
      return Status::error(v.where("flush_ms") + ": invalid value '" + std::string(v.str("flush_ms")) +
                           "' for 'flush_ms' in " + v.label() + ": expected a positive number of milliseconds");
    }
    c.flushMs = static_cast<uint64_t>(flush);
    c.bufferLimit = std::max<uint64_t>(v.size("buffer_limit"), 1024);
    for (std::string_view list : v.all("multiline.parser")) {
      size_t p = 0;
      while (p <= list.size()) {
        size_t comma = list.find(',', p);
        std::string_view name = list.substr(p, comma == std::string_view::npos ? std::string_view::npos : comma - p);
        while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
        while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
        if (!name.empty()) {
          MlParser mp;
          mp.name = std::string(name);
          const pr::MultilineParserDef* def = env.service.parsers ? env.service.parsers->findMultiline(name) : nullptr;
          if (def) {
            mp.rules = def->rules;
            mp.flushMs = static_cast<uint64_t>(def->flushTimeoutMs);
            mp.keyContent = def->keyContent;
          } else if (name == "docker") {
            mp.kind = Kind::Docker;
          } else if (name == "cri") {
            mp.kind = Kind::Cri;
          } else if (name == "java" || name == "python" || name == "go") {
            mp.rules = builtinRules(name);
          } else {
            std::string msg = v.where("multiline.parser") + ": unknown multiline parser '" + std::string(name) +
                              "' in " + v.label() + " (built-in: docker, cri, java, python, go";
            msg += env.service.parsers ? "; or a [MULTILINE_PARSER] of a Parsers_File)" : "; none loaded from Parsers_File)";
            return Status::error(msg);
          }
          c.parsers.push_back(std::move(mp));
        }
        if (comma == std::string_view::npos) break;
        p = comma + 1;
      }
    }
    if (c.mode == Mode::Parser && c.parsers.empty()) {
      // No line of its own to point at: the section's Match line locates it.
      return Status::error(v.where("Match") + ": missing required key 'multiline.parser' in " + v.label() +
                           " (or set mode partial_message)");
    }
    return std::shared_ptr<FilterFactory>(std::make_shared<MultilineFactory>(std::move(c)));
  };
  registry.add(std::move(info));
}

}  // namespace firelane::filters::multiline
