// PutLogEvents bodies: names per event, messages into one arena, then per stream a stable sort by
// time and calls cut at the count / byte / 24 h limits.
#include "outputs/cloudwatch_logs/cloudwatch_logs_encoder.h"

#include <algorithm>
#include <charconv>

#include "core/codec/json_writer.h"
#include "core/codec/msgpack_writer.h"

namespace firelane::outputs::cloudwatch_logs {
namespace {

// Length of the well-formed UTF-8 sequence at s[i], or 0 when the byte starts none (Unicode 3-7).
size_t sequenceLength(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t left = s.size() - i;
  auto cont = [&](size_t k, unsigned char lo = 0x80, unsigned char hi = 0xbf) {
    return b(i + k) >= lo && b(i + k) <= hi;
  };
  if (c >= 0xc2 && c <= 0xdf) return left >= 2 && cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (left < 3) return 0;
    unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (left < 4) return 0;
    unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

std::string_view tagPart(std::string_view tag, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) {
    auto dot = tag.find('.');
    if (dot == std::string_view::npos) return {};
    tag.remove_prefix(dot + 1);
  }
  return tag.substr(0, tag.find('.'));
}

record::Bytes lookup(const record::RecordAccessor& a, record::Bytes rec, record::Bytes extra) {
  record::Bytes v = a.find(rec);
  if (v.empty() && !extra.empty()) v = a.find(extra);
  return v;
}

}  // namespace

size_t utf8Size(std::string_view s, size_t limit, size_t& cut) {
  size_t size = 0;
  size_t i = 0;
  cut = s.size();
  bool cutSet = false;
  while (i < s.size()) {
    size_t len = sequenceLength(s, i);
    size_t add = len ? len : 3;
    if (!cutSet && size + add > limit) {
      cut = i;
      cutSet = true;
    }
    size += add;
    i += len ? len : 1;
  }
  return size;
}

Result<NameTemplate> NameTemplate::parse(std::string_view text) {
  NameTemplate t;
  t.text_ = std::string(text);
  size_t pos = 0;
  auto addFluent = [&](std::string_view seg) -> Status {
    if (seg.empty()) return {};
    auto ft = record::RecordTemplate::parse(seg);
    if (!ft) return ft.status();
    Part p;
    p.kind = Kind::Fluent;
    p.fluent = std::move(*ft);
    t.parts_.push_back(std::move(p));
    return {};
  };
  while (pos < text.size()) {
    size_t open = text.find("$(", pos);
    if (open == std::string_view::npos) {
      if (Status st = addFluent(text.substr(pos)); !st) return st;
      break;
    }
    if (Status st = addFluent(text.substr(pos, open - pos)); !st) return st;
    size_t close = text.find(')', open);
    if (close == std::string_view::npos) return Status::error("unclosed '$(' in '" + std::string(text) + "'");
    std::string_view name = text.substr(open + 2, close - open - 2);
    Part p;
    if (name == "tag") {
      p.kind = Kind::Tag;
    } else if (name.substr(0, 4) == "tag[" && name.back() == ']') {
      p.kind = Kind::TagPart;
      auto digits = name.substr(4, name.size() - 5);
      auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), p.n);
      if (ec != std::errc() || ptr != digits.data() + digits.size())
        return Status::error("bad tag index in '$(" + std::string(name) + ")'");
    } else if (name == "ecs_task_id") {
      p.kind = Kind::EcsTaskId;
    } else {
      auto a = record::RecordAccessor::parse("$" + std::string(name));
      if (!a) return Status::error("bad key '$(" + std::string(name) + ")': " + a.message());
      p.kind = Kind::Key;
      p.accessor = std::move(*a);
    }
    t.parts_.push_back(std::move(p));
    pos = close + 1;
  }
  return t;
}

bool NameTemplate::render(std::string& out, std::string_view tag, record::Bytes rec, record::Bytes extra) const {
  bool all = true;
  for (const Part& p : parts_) {
    switch (p.kind) {
      case Kind::Fluent:
        if (!p.fluent.render(out, tag, rec)) all = false;
        break;
      case Kind::Tag:
        out.append(tag);
        break;
      case Kind::TagPart: {
        auto part = tagPart(tag, p.n);
        if (part.empty()) all = false;
        out.append(part);
        break;
      }
      case Kind::Key: {
        auto v = lookup(p.accessor, rec, extra);
        if (v.empty() || !record::appendValueText(out, v)) all = false;
        break;
      }
      case Kind::EcsTaskId: {
        static const record::RecordAccessor id = record::RecordAccessor::literal("ecs_task_id");
        static const record::RecordAccessor arn = record::RecordAccessor::literal("ecs_task_arn");
        std::string_view s;
        if (record::stringValue(lookup(id, rec, extra), s) && !s.empty()) {
          out.append(s);
        } else if (record::stringValue(lookup(arn, rec, extra), s) && !s.empty()) {
          out.append(s.substr(s.rfind('/') + 1));
        } else {
          all = false;
        }
        break;
      }
    }
  }
  return all;
}

CloudWatchEncoder::Bucket& CloudWatchEncoder::bucketFor(const std::string& group, const std::string& stream) {
  for (auto& b : buckets_)
    if (b.stream == stream && b.group == group) return b;
  buckets_.push_back(Bucket{group, stream, {}});
  return buckets_.back();
}

EncodeStats CloudWatchEncoder::encode(const FlushChunk& chunk, int64_t nowMs, std::vector<PutCall>& calls) {
  EncodeStats st;
  messages_.clear();
  buckets_.clear();
  const auto& c = config_;
  const size_t maxMessage = c.maxEventSize - kEventOverhead;
  uint32_t seq = 0;
  const EventBatch* lastBatch = nullptr;
  record::Bytes extra;
  for (const BatchSlice& slice : chunk.slices) {
    const EventBatch& batch = *slice.batch;
    if (&batch != lastBatch) {
      lastBatch = &batch;
      extra = {};
      if (batch.extra && batch.extra->count) {
        extraMap_.clear();
        codec::MsgpackWriter(extraMap_).mapHeader(batch.extra->count);
        extraMap_.insert(extraMap_.end(), batch.extra->kv.begin(), batch.extra->kv.end());
        extra = record::Bytes(extraMap_.data(), extraMap_.size());
      }
    }
    const std::string& tag = batch.tag;
    for (const Event& ev : slice.events()) {
      int64_t ms = ev.timeNs / 1'000'000;
      if (ms < nowMs - c.maxAgeMs) {
        st.tooOld++;
        continue;
      }
      if (ms > nowMs + c.maxAheadMs) {
        st.tooNew++;
        continue;
      }
      // Names.
      group_.clear();
      if (!c.logGroupTemplate || !c.logGroupTemplate->render(group_, tag, ev.record, extra) || group_.empty()) {
        if (c.logGroupTemplate) st.fallbackNames++;
        group_ = c.logGroupName;
      }
      stream_.clear();
      if (!c.logStreamTemplate || !c.logStreamTemplate->render(stream_, tag, ev.record, extra) || stream_.empty()) {
        if (c.logStreamTemplate) st.fallbackNames++;
        stream_.clear();
        if (!c.logStreamName.empty()) stream_ = c.logStreamName;
        else stream_.append(c.logStreamPrefix).append(tag);
      }
      // Message.
      size_t start = messages_.size();
      if (c.logKey) {
        record::Bytes v = lookup(*c.logKey, ev.record, extra);
        std::string_view s;
        if (v.empty()) {
          st.noLogKey++;
          continue;
        }
        if (record::stringValue(v, s)) messages_.append(s);
        else codec::appendJsonValue(messages_, v);
      } else {
        codec::appendJsonObject(messages_, ev.record, batch.extra.get());
      }
      size_t cut = 0;
      std::string_view msg(messages_.data() + start, messages_.size() - start);
      size_t size = utf8Size(msg, maxMessage, cut);
      if (size > maxMessage) {
        messages_.resize(start + cut);
        size = utf8Size(std::string_view(messages_.data() + start, cut), maxMessage, cut);
        st.truncated++;
      }
      if (messages_.size() == start) {
        // CloudWatch rejects empty messages (InvalidParameterException): send one space instead.
        messages_.push_back(' ');
        size = 1;
      }
      bucketFor(group_, stream_).events.push_back(Pending{ms, static_cast<uint32_t>(start),
                                                          static_cast<uint32_t>(messages_.size() - start),
                                                          static_cast<uint32_t>(size), seq++});
      st.events++;
    }
  }
  for (auto& b : buckets_) emit(b, calls);
  return st;
}

void CloudWatchEncoder::emit(Bucket& b, std::vector<PutCall>& calls) {
  std::stable_sort(b.events.begin(), b.events.end(), [](const Pending& x, const Pending& y) { return x.ms < y.ms; });
  const auto& c = config_;
  std::string head;
  head.append("{\"logGroupName\":");
  codec::appendJsonString(head, b.group);
  head.append(",\"logStreamName\":");
  codec::appendJsonString(head, b.stream);
  head.append(",\"logEvents\":[");
  char num[24];
  const std::vector<Pending>& events = b.events;
  for (size_t first = 0; first < events.size();) {
    // The events of this call (the service's limits), first: so its body is allocated once, at its
    // size (growing a 1 MiB string by doubling copies it and faults in fresh pages several times).
    size_t end = first, bytes = 0, text = 0;
    while (end < events.size()) {
      const Pending& e = events[end];
      size_t add = e.size + kEventOverhead;
      if (end > first && (end - first >= c.maxCallEvents || bytes + add > c.maxCallBytes ||
                          e.ms - events[first].ms >= c.maxSpanMs))
        break;
      bytes += add;
      text += e.length;
      ++end;
    }
    calls.push_back(PutCall{b.group, b.stream, head, 0, 0, events[first].ms, events[first].ms});
    PutCall& call = calls.back();
    // {"timestamp":<13 digits>,"message":""}, per event; escapes beyond 1/16 of the text grow it.
    call.body.reserve(head.size() + text + text / 16 + (end - first) * 42 + 2);
    for (size_t i = first; i < end; ++i) {
      const Pending& e = events[i];
      if (i > first) call.body.push_back(',');
      call.body.append("{\"timestamp\":");
      auto [p, ec] = std::to_chars(num, num + sizeof(num), e.ms);
      (void)ec;
      call.body.append(num, p);
      call.body.append(",\"message\":");
      codec::appendJsonString(call.body, std::string_view(messages_.data() + e.offset, e.length));
      call.body.push_back('}');
      call.bytes += e.size + kEventOverhead;
      call.lastMs = e.ms;
    }
    call.events = end - first;
    call.body.append("]}");
    first = end;
  }
}

}  // namespace firelane::outputs::cloudwatch_logs
