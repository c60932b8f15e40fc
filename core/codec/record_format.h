// The record formats Fluent Bit's stdout and http outputs share (`Format`, `json_date_key`,
// `json_date_format`): a flush chunk as a JSON array, JSON lines, concatenated JSON or msgpack
// [time, record] entries. Pure; written straight from the events' msgpack.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/codec/msgpack_writer.h"
#include "core/event/event_batch.h"

namespace firelane::codec {

enum class RecordFormat {
  Json,        // [{..},{..}]                    one array, no trailing newline
  JsonLines,   // {..}\n{..}\n                   newline-delimited JSON
  JsonStream,  // {..}{..}                       concatenated JSON, no separator
  Msgpack,     // [EventTime, record] entries back to back
};

// json_date_format values:
//   double             1700000000.123456       seconds, 6 decimals (microseconds, truncated)
//   epoch              1700000000              whole seconds
//   epoch_ms           1700000000123           milliseconds (truncated)
//   iso8601            "2023-11-14T22:13:20.123456Z"
//   java_sql_timestamp "2023-11-14 22:13:20.123456"
enum class JsonDateFormat { Double, Epoch, EpochMs, Iso8601, JavaSqlTimestamp };

// Case-insensitive; nullopt for anything else.
std::optional<RecordFormat> parseRecordFormat(std::string_view text);
std::optional<JsonDateFormat> parseJsonDateFormat(std::string_view text);

// Writes the event time as a JSON value (number or string literal) into buf; returns its length.
// `cap` of 64 is always enough.
size_t formatJsonDate(char* buf, size_t cap, int64_t timeNs, JsonDateFormat format);

struct RecordFormatOptions {
  RecordFormat format = RecordFormat::JsonLines;
  std::string dateKey = "date";  // empty: no date member
  JsonDateFormat dateFormat = JsonDateFormat::Double;
};

// Appends every event of `chunk` in the chosen format: JSON objects have the date member first,
// then the record's fields, then the batch's extra fields; msgpack entries carry the record with
// the extra fields spliced into its map (records copied as raw bytes, not repacked).
void appendChunk(std::string& out, const FlushChunk& chunk, const RecordFormatOptions& options);

// One msgpack [time, record] entry (time as EventTime, or whole seconds when `timeAsInteger`), the
// record extended by `extra`'s pairs: what the forward protocol and the msgpack formats carry.
inline void appendMsgpackEntry(MsgpackWriter& w, const Event& e, const ExtraFields* extra,
                               bool timeAsInteger = false) {
  w.arrayHeader(2);
  if (timeAsInteger) {
    int64_t sec = e.timeNs / 1000000000;
    if (e.timeNs % 1000000000 < 0) --sec;
    w.integer(sec);
  } else {
    w.eventTime(e.timeNs);
  }
  uint32_t count = 0;
  size_t header = readMapHeader(e.record, count);
  if (extra && extra->count && header) {
    w.mapHeader(count + extra->count);
    w.raw(e.record.subspan(header));
    w.raw(extra->kv.data(), extra->kv.size());
  } else {
    w.raw(e.record);
  }
}

}  // namespace firelane::codec
