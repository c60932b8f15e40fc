// Records to Datadog logs-intake JSON, key for key as Fluent Bit's out_datadog writes them, cut into
// request-sized payloads. Pure: no I/O, no clock; the datadog output sends what this produces.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/event/event_batch.h"

namespace firelane::outputs::datadog {

// The Fluent Bit options that shape the JSON (plugins/out_datadog/datadog.c config_map) and the
// intake's limits (docs.datadoghq.com/api/latest/logs/send-logs). Unset optionals add no key, as in
// Fluent Bit; an empty but set value adds the key with "".
struct DatadogEncoderConfig {
  std::optional<std::string> ddService;   // -> "service"
  std::optional<std::string> ddSource;    // -> "ddsource"
  std::optional<std::string> ddTags;      // -> "ddtags" (after the tags the ecs provider makes)
  std::optional<std::string> ddHostname;  // -> "hostname"
  std::string ddMessageKey = "log";       // record key renamed "message" where it stands
  bool providerEcs = false;               // `provider ecs`: ECS/container fields move into ddtags
  bool includeTagKey = false;
  std::string tagKey = "tagkey";
  // Epoch milliseconds under this key. Fluent Bit's datadog output always writes it; empty (what the
  // config layer makes of `false`/`off`, as Fluent Bit's other outputs allow) leaves it out.
  std::string jsonDateKey = "timestamp";

  size_t maxEventsPerPayload = 1000;       // "1000 entries" per request
  size_t maxPayloadBytes = 5'000'000;      // "5MB" uncompressed per request (413 above)
  size_t maxEventBytes = 1'000'000;        // "1MB" per log: the smaller reading of "MB"
};

// Where encoding stands in a FlushChunk: the next event to encode.
struct ChunkPosition {
  size_t slice = 0;
  size_t event = 0;  // index within the slice's events()
  bool atEnd(const FlushChunk& chunk) const { return slice >= chunk.slices.size(); }
};

// What one encodePayload call did.
struct PayloadStats {
  size_t events = 0;     // objects in the JSON array
  size_t consumed = 0;   // events the position moved past (events + dropped)
  size_t truncated = 0;  // events over maxEventBytes kept by cutting string values (message first)
  size_t dropped = 0;    // events that stayed over maxEventBytes after cutting every top-level string
};

// Encodes the events of a chunk as JSON arrays of log objects, each array one request body that
// respects the limits in the config. Per event, keys come in Fluent Bit's order:
//   json_date_key, tag_key, ddsource, service, hostname, the record's keys (dd_message_key renamed
//   "message" in place; with provider ecs the remapped keys left out), the batch's extra fields
//   (treated like record keys), ddtags.
// Holds scratch buffers reused across calls: one per output instance, on its worker thread.
class DatadogEncoder {
 public:
  explicit DatadogEncoder(DatadogEncoderConfig config);

  // Replaces `out` with one JSON array made from the events at `pos` onward and moves `pos` past
  // them, stopping before the array would pass maxEventsPerPayload or maxPayloadBytes. Makes
  // progress on every call while !pos.atEnd(chunk) (an event that fits no payload alone is dropped
  // and counted). The array may be "[]" when every event it consumed was dropped: send nothing then.
  // Views into the chunk are not kept past the call.
  PayloadStats encodePayload(const FlushChunk& chunk, ChunkPosition& pos, std::string& out);

  // Appends one event's JSON object (no limits applied). For tests and benches.
  void appendEvent(std::string& out, std::string_view tag, const Event& event, const ExtraFields* extra);

  const DatadogEncoderConfig& config() const { return config_; }

 private:
  // A top-level string value in the event being encoded, as offsets into the output string: the
  // opening quote and one past the closing quote. Only large ones are kept (see kMinCutCandidate).
  struct StringRange {
    size_t begin;
    size_t end;
    bool message;
  };

  void appendMembers(std::string& out, std::span<const uint8_t> kv, uint64_t pairs);
  // provider ecs: adds the tags for a remapped attribute; false when `key` is not one.
  bool remap(std::string_view key, std::string_view value);
  // Cuts string values of the event at out[eventStart..] until it is at most maxEventBytes long.
  bool shrinkEvent(std::string& out, size_t eventStart);

  DatadogEncoderConfig config_;
  std::string fixedHead_;    // ,"ddsource":..,"service":..,"hostname":.. (precomputed JSON)
  std::string fixedTail_;    // ,"ddtags":"<dd_tags>" when no remapped tag is added
  std::string tagMember_;    // ,"tagkey":"<tag>" for the tag it was made for
  std::string tagMemberOf_;  // that tag
  std::string remapped_;     // ddtags being built for the current event (provider ecs)
  std::string keyScratch_;   // non-string keys' JSON text
  std::vector<StringRange> strings_;
  bool firstMember_ = true;
};

// Epoch milliseconds as Fluent Bit computes them: seconds * 1000 + ns / 1e6, plus one when the
// sub-millisecond rest is >= 0.5 ms.
int64_t datadogTimestampMs(int64_t timeNs);

}  // namespace firelane::outputs::datadog
