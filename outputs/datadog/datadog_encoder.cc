// Datadog JSON encoding: Fluent Bit's datadog_format() (plugins/out_datadog/datadog.c) and its ECS
// remapping (datadog_remap.c) written straight from msgpack bytes to JSON, plus payload cutting.
#include "outputs/datadog/datadog_encoder.h"

#include <algorithm>
#include <charconv>

#include "core/codec/json_writer.h"
#include "core/proto/msgpack_cursor.h"

namespace firelane::outputs::datadog {
namespace {

using proto::MsgpackCursor;
using proto::MsgpackHeader;
using proto::MsgpackStatus;
using proto::MsgpackType;

// String values shorter than this (msgpack bytes) are not worth remembering as places to cut an
// oversized event: the message, which is always remembered, is what makes events huge.
constexpr size_t kMinCutCandidate = 256;

// `,"key":` followed by the JSON string of `value`.
std::string memberJson(std::string_view key, std::string_view value) {
  std::string s = ",";
  codec::appendJsonString(s, key);
  s.push_back(':');
  codec::appendJsonString(s, value);
  return s;
}

// Fluent Bit copies values into NUL-terminated buffers and then uses strlen/strstr/strchr on them:
// anything after an embedded NUL is invisible to those steps.
std::string_view cString(std::string_view s) { return s.substr(0, s.find('\0')); }

bool isStringValue(uint8_t b) {
  return (b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb) || (b >= 0xc4 && b <= 0xc6);
}

// Length of the JSON string-body token starting at p: an escape or one UTF-8 character (the JSON
// writer emits only well-formed UTF-8, so lead bytes are reliable).
size_t tokenLength(const char* p, const char* end) {
  const auto b = static_cast<uint8_t>(*p);
  if (b == '\\') return end - p > 1 && p[1] == 'u' ? 6 : 2;
  if (b < 0x80) return 1;
  if (b >= 0xf0) return 4;
  if (b >= 0xe0) return 3;
  if (b >= 0xc0) return 2;
  return 1;
}

// The largest prefix of the string body [p, p + n) at most `keep` bytes long that ends on a token
// boundary, so the cut string is still valid JSON and valid UTF-8.
size_t alignedPrefix(const char* p, size_t n, size_t keep) {
  size_t i = 0;
  while (i < n) {
    const size_t t = tokenLength(p + i, p + n);
    if (i + t > keep) break;
    i += t;
  }
  return i;
}

}  // namespace

int64_t datadogTimestampMs(int64_t timeNs) {
  int64_t sec = timeNs / 1'000'000'000;
  int64_t nsec = timeNs % 1'000'000'000;
  if (nsec < 0) {  // struct timespec keeps tv_nsec in [0, 1e9)
    nsec += 1'000'000'000;
    --sec;
  }
  int64_t ms = sec * 1000 + nsec / 1'000'000;
  if (nsec % 1'000'000 >= 500'000) ++ms;
  return ms;
}

DatadogEncoder::DatadogEncoder(DatadogEncoderConfig config) : config_(std::move(config)) {
  // One event must always fit an otherwise empty array, so every call makes progress.
  config_.maxEventsPerPayload = std::max<size_t>(config_.maxEventsPerPayload, 1);
  config_.maxPayloadBytes = std::max<size_t>(config_.maxPayloadBytes, 64);
  config_.maxEventBytes = std::min(config_.maxEventBytes, config_.maxPayloadBytes - 2);
  if (config_.ddSource) fixedHead_ += memberJson("ddsource", *config_.ddSource);
  if (config_.ddService) fixedHead_ += memberJson("service", *config_.ddService);
  if (config_.ddHostname) fixedHead_ += memberJson("hostname", *config_.ddHostname);
  if (config_.ddTags) fixedTail_ = memberJson("ddtags", *config_.ddTags);
}

void DatadogEncoder::appendEvent(std::string& out, std::string_view tag, const Event& event,
                                 const ExtraFields* extra) {
  strings_.clear();
  remapped_.clear();
  out.push_back('{');
  firstMember_ = true;
  // Members are kept as `,"k":v`; the first one written drops its comma.
  auto member = [&](std::string_view json) {
    out.append(firstMember_ ? json.substr(1) : json);
    firstMember_ = false;
  };

  if (!config_.jsonDateKey.empty()) {
    codec::appendJsonString(out, config_.jsonDateKey);
    out.push_back(':');
    char num[24];
    out.append(num, std::to_chars(num, num + sizeof num, datadogTimestampMs(event.timeNs)).ptr);
    firstMember_ = false;
  }
  if (config_.includeTagKey) {
    if (tagMember_.empty() || tagMemberOf_ != tag) {
      tagMember_ = memberJson(config_.tagKey, tag);
      tagMemberOf_.assign(tag);
    }
    member(tagMember_);
  }
  if (!fixedHead_.empty()) member(fixedHead_);

  MsgpackCursor c(event.record);
  uint32_t pairs = 0;
  if (c.readMap(pairs) == MsgpackStatus::Ok) appendMembers(out, c.rest(), pairs);
  if (extra && extra->count > 0) appendMembers(out, extra->kv, extra->count);

  if (!remapped_.empty()) {
    if (config_.ddTags) {
      remapped_.push_back(',');
      remapped_ += *config_.ddTags;
    }
    if (!firstMember_) out.push_back(',');
    out += "\"ddtags\":";
    codec::appendJsonString(out, remapped_);
    firstMember_ = false;
  } else if (!fixedTail_.empty()) {
    member(fixedTail_);
  }
  out.push_back('}');
}

void DatadogEncoder::appendMembers(std::string& out, std::span<const uint8_t> kv, uint64_t pairs) {
  MsgpackCursor c(kv);
  for (uint64_t i = 0; i < pairs; ++i) {
    MsgpackHeader kh;
    if (c.peek(kh) != MsgpackStatus::Ok) return;
    std::string_view key;
    std::span<const uint8_t> keyRaw;
    // Fluent Bit reads keys through msgpack_object's str view, which bin keys share.
    const bool textKey = kh.type == MsgpackType::Str || kh.type == MsgpackType::Bin;
    if (textKey) {
      std::span<const uint8_t> b;
      if (c.readStrOrBin(b) != MsgpackStatus::Ok) return;
      key = {reinterpret_cast<const char*>(b.data()), b.size()};
    } else if (c.skip(keyRaw) != MsgpackStatus::Ok) {
      return;
    }
    std::span<const uint8_t> value;
    if (c.skip(value) != MsgpackStatus::Ok) return;

    if (config_.providerEcs && textKey) {
      // dd_attr_need_remapping(): the value must be a non-empty str (bin does not qualify).
      std::string_view sv;
      if (MsgpackCursor(value).readStr(sv) == MsgpackStatus::Ok && !sv.empty()) {
        if (remap(key, sv)) continue;
      }
    }

    if (!firstMember_) out.push_back(',');
    firstMember_ = false;
    bool message = false;
    if (!textKey) {
      // Same rule as the JSON writer: a non-string key becomes the string of its JSON text.
      keyScratch_.clear();
      codec::appendJsonValue(keyScratch_, keyRaw);
      codec::appendJsonString(out, keyScratch_);
    } else if (key == config_.ddMessageKey) {
      out += "\"message\"";
      message = true;
    } else {
      codec::appendJsonString(out, key);
    }
    out.push_back(':');
    const size_t begin = out.size();
    codec::appendJsonValue(out, value);
    if (isStringValue(value[0]) && (message || value.size() >= kMinCutCandidate)) {
      strings_.push_back({begin, out.size(), message});
    }
  }
}

bool DatadogEncoder::remap(std::string_view key, std::string_view value) {
  // The table in datadog_remap.c: attribute -> tag(s). Each rule appends at least one tag.
  auto add = [this](std::string_view k, std::string_view v) {
    if (!remapped_.empty()) remapped_.push_back(',');
    remapped_ += k;
    remapped_.push_back(':');
    remapped_ += v;
  };
  if (key == "container_id" || key == "container_image") {
    add(key, value);
  } else if (key == "container_name") {
    add(key, cString(value.substr(value[0] == '/' ? 1 : 0)));
  } else if (key == "ecs_cluster") {
    const std::string_view v = cString(value);
    const size_t at = v.find("cluster/");
    add("cluster_name", at == std::string_view::npos ? v : v.substr(at + 8));
  } else if (key == "ecs_task_definition") {
    const std::string_view v = cString(value);
    const size_t colon = v.find(':');
    if (colon == std::string_view::npos) {
      add("ecs_task_definition", v);
    } else {
      add("task_family", v.substr(0, colon));
      add("task_version", v.substr(colon + 1));
    }
  } else if (key == "ecs_task_arn") {
    add("task_arn", value);  // the whole value (flb_sds_len), unlike the steps below
    const std::string_view v = cString(value);
    constexpr std::string_view kArnPrefix = "arn:aws:ecs:";
    if (v.size() > kArnPrefix.size() && v.starts_with(kArnPrefix)) {
      const std::string_view rest = v.substr(kArnPrefix.size());
      const size_t colon = rest.find(':');
      if (colon != std::string_view::npos) add("region", rest.substr(0, colon));
    }
    // New-format ARNs give "<cluster>/<id>" here: Fluent Bit keeps everything after "task/".
    const size_t at = v.find("task/");
    add("task_id", at == std::string_view::npos ? v : v.substr(at + 5));
  } else {
    return false;
  }
  return true;
}

bool DatadogEncoder::shrinkEvent(std::string& out, size_t eventStart) {
  size_t need = out.size() - eventStart - config_.maxEventBytes;
  // The message first (it is what users send big), then other strings largest first.
  std::sort(strings_.begin(), strings_.end(), [](const StringRange& a, const StringRange& b) {
    if (a.message != b.message) return a.message;
    return a.end - a.begin > b.end - b.begin;
  });
  struct Cut {
    size_t from;  // first body byte removed
    size_t to;    // one past the last (the closing quote's offset)
  };
  std::vector<Cut> cuts;
  for (const StringRange& s : strings_) {
    if (need == 0) break;
    const size_t bodyBegin = s.begin + 1;
    const size_t body = s.end - 1 - bodyBegin;
    if (body == 0) continue;
    const size_t take = std::min(need, body);
    const size_t keep = alignedPrefix(out.data() + bodyBegin, body, body - take);
    cuts.push_back({bodyBegin + keep, s.end - 1});
    need -= std::min(need, body - keep);
  }
  if (need > 0) return false;
  // Erase back to front so earlier offsets stay valid.
  std::sort(cuts.begin(), cuts.end(), [](const Cut& a, const Cut& b) { return a.from > b.from; });
  for (const Cut& c : cuts) out.erase(c.from, c.to - c.from);
  return true;
}

PayloadStats DatadogEncoder::encodePayload(const FlushChunk& chunk, ChunkPosition& pos, std::string& out) {
  PayloadStats st;
  out.clear();
  out.push_back('[');
  auto skipExhausted = [&] {
    while (!pos.atEnd(chunk) && pos.event >= chunk.slices[pos.slice].events().size()) {
      ++pos.slice;
      pos.event = 0;
    }
  };
  skipExhausted();
  while (!pos.atEnd(chunk) && st.events < config_.maxEventsPerPayload) {
    const BatchSlice& slice = chunk.slices[pos.slice];
    const size_t mark = out.size();
    if (st.events > 0) out.push_back(',');
    const size_t start = out.size();
    appendEvent(out, slice.tag(), slice.events()[pos.event], slice.batch->extra.get());
    bool truncated = false;
    if (out.size() - start > config_.maxEventBytes) {
      if (!shrinkEvent(out, start)) {
        out.resize(mark);
        ++st.dropped;
        ++st.consumed;
        ++pos.event;
        skipExhausted();
        continue;
      }
      truncated = true;
    }
    // +1 for the closing bracket. The event that does not fit is encoded again by the next call:
    // once per payload, cheaper than keeping it aside.
    if (out.size() + 1 > config_.maxPayloadBytes && st.events > 0) {
      out.resize(mark);
      break;
    }
    ++st.events;
    ++st.consumed;
    st.truncated += truncated;
    ++pos.event;
    skipExhausted();
  }
  out.push_back(']');
  return st;
}

}  // namespace firelane::outputs::datadog
