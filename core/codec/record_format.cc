// Chunk -> json / json_lines / json_stream / msgpack bodies, and the json_date_format values.
#include "core/codec/record_format.h"

#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <vector>

#include "core/codec/json_writer.h"
#include "core/config/document.h"

namespace firelane::codec {

std::optional<RecordFormat> parseRecordFormat(std::string_view t) {
  if (config::iequals(t, "json")) return RecordFormat::Json;
  if (config::iequals(t, "json_lines")) return RecordFormat::JsonLines;
  if (config::iequals(t, "json_stream")) return RecordFormat::JsonStream;
  if (config::iequals(t, "msgpack")) return RecordFormat::Msgpack;
  return std::nullopt;
}

std::optional<JsonDateFormat> parseJsonDateFormat(std::string_view t) {
  if (config::iequals(t, "double")) return JsonDateFormat::Double;
  if (config::iequals(t, "epoch")) return JsonDateFormat::Epoch;
  if (config::iequals(t, "epoch_ms")) return JsonDateFormat::EpochMs;
  if (config::iequals(t, "iso8601")) return JsonDateFormat::Iso8601;
  if (config::iequals(t, "java_sql_timestamp")) return JsonDateFormat::JavaSqlTimestamp;
  return std::nullopt;
}

size_t formatJsonDate(char* buf, size_t cap, int64_t timeNs, JsonDateFormat f) {
  int64_t sec = timeNs / 1000000000;
  int64_t nsec = timeNs % 1000000000;
  if (nsec < 0) {
    nsec += 1000000000;
    --sec;
  }
  int n = 0;
  switch (f) {
    case JsonDateFormat::Double:
      n = snprintf(buf, cap, "%" PRId64 ".%06" PRId64, sec, nsec / 1000);
      break;
    case JsonDateFormat::Epoch:
      n = snprintf(buf, cap, "%" PRId64, sec);
      break;
    case JsonDateFormat::EpochMs:
      n = snprintf(buf, cap, "%" PRId64, sec * 1000 + nsec / 1000000);
      break;
    case JsonDateFormat::Iso8601:
    case JsonDateFormat::JavaSqlTimestamp: {
      time_t t = static_cast<time_t>(sec);
      tm tmv;
      gmtime_r(&t, &tmv);
      char d[40];
      strftime(d, sizeof(d), f == JsonDateFormat::Iso8601 ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tmv);
      n = snprintf(buf, cap, f == JsonDateFormat::Iso8601 ? "\"%s.%06" PRId64 "Z\"" : "\"%s.%06" PRId64 "\"", d,
                   nsec / 1000);
      break;
    }
  }
  if (n < 0) return 0;
  return static_cast<size_t>(n) < cap ? static_cast<size_t>(n) : cap - 1;
}

void appendChunk(std::string& out, const FlushChunk& chunk, const RecordFormatOptions& o) {
  if (o.format == RecordFormat::Msgpack) {
    std::vector<uint8_t> buf;
    buf.reserve(chunk.bytes + chunk.events * 12);
    MsgpackWriter w(buf);
    for (const auto& slice : chunk.slices) {
      const ExtraFields* extra = slice.batch->extra.get();
      for (const Event& e : slice.events()) appendMsgpackEntry(w, e, extra);
    }
    out.append(reinterpret_cast<const char*>(buf.data()), buf.size());
    return;
  }
  const bool array = o.format == RecordFormat::Json;
  if (array) out.push_back('[');
  bool first = true;
  char date[64];
  for (const auto& slice : chunk.slices) {
    const ExtraFields* extra = slice.batch->extra.get();
    for (const Event& e : slice.events()) {
      if (array && !first) out.push_back(',');
      first = false;
      size_t n = o.dateKey.empty() ? 0 : formatJsonDate(date, sizeof(date), e.timeNs, o.dateFormat);
      appendJsonObjectWithDate(out, o.dateKey, std::string_view(date, n), e.record, extra);
      if (o.format == RecordFormat::JsonLines) out.push_back('\n');
    }
  }
  if (array) out.push_back(']');
}

}  // namespace firelane::codec
