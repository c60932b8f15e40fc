// Records to PutLogEvents request bodies: group/stream names from templates, messages (log_key or
// the record as JSON), the API's batching rules. Pure: no I/O; the clock is an argument.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/event/event_batch.h"
#include "core/record/record_accessor.h"

namespace firelane::outputs::cloudwatch_logs {

// A log group / stream name template. Accepts Fluent Bit's C-plugin record accessors
// ($key['sub'], $TAG, $TAG[n]) and the Go plugin's $(key), $(key['sub']), $(tag), $(tag[n]), plus
// $(ecs_task_id) (the record's ecs_task_id, else the last part of its ecs_task_arn).
class NameTemplate {
 public:
  static Result<NameTemplate> parse(std::string_view text);
  // Appends the rendering; false when a referenced value is missing (callers fall back to the fixed
  // name). `extra` (the batch's extra fields as a msgpack map) is searched when the record lacks a key.
  bool render(std::string& out, std::string_view tag, record::Bytes record, record::Bytes extra) const;
  const std::string& text() const { return text_; }

 private:
  enum class Kind : uint8_t { Fluent, Key, Tag, TagPart, EcsTaskId };
  struct Part {
    Kind kind = Kind::Fluent;
    record::RecordTemplate fluent;
    record::RecordAccessor accessor;
    uint32_t n = 0;
  };
  std::string text_;
  std::vector<Part> parts_;
};

struct CloudWatchEncoderConfig {
  std::string logGroupName;
  std::optional<NameTemplate> logGroupTemplate;
  std::string logStreamName;    // fixed stream, or empty when logStreamPrefix is used
  std::string logStreamPrefix;  // stream = prefix + tag
  std::optional<NameTemplate> logStreamTemplate;
  std::optional<record::RecordAccessor> logKey;  // send only this value as the message

  // PutLogEvents limits (AWS API reference).
  size_t maxEventSize = 1'048'576;         // one event, counting the 26 bytes of overhead
  size_t maxCallBytes = 1'048'576;         // message UTF-8 bytes + 26 per event
  size_t maxCallEvents = 10'000;
  int64_t maxSpanMs = 24LL * 3600 * 1000;  // first to last event of one call stays below this
  int64_t maxAgeMs = 14LL * 24 * 3600 * 1000;
  int64_t maxAheadMs = 2LL * 3600 * 1000;
};

inline constexpr size_t kEventOverhead = 26;

// One PutLogEvents call: the JSON body plus what it holds.
struct PutCall {
  std::string group;
  std::string stream;
  std::string body;
  size_t events = 0;
  size_t bytes = 0;  // as AWS counts them
  int64_t firstMs = 0;
  int64_t lastMs = 0;
};

struct EncodeStats {
  size_t events = 0;     // events placed in calls
  size_t truncated = 0;  // messages cut to maxEventSize
  size_t tooOld = 0;     // older than maxAgeMs: not sent
  size_t tooNew = 0;     // more than maxAheadMs ahead: not sent
  size_t noLogKey = 0;   // log_key set but absent from the record: not sent
  size_t fallbackNames = 0;  // a template could not be rendered: the fixed name was used
};

// UTF-8 byte count AWS sees for `s` once every ill-formed byte is replaced by U+FFFD (3 bytes), as
// codec::appendJsonString writes it; `cut` receives the longest prefix (on a sequence boundary)
// whose count is <= limit.
size_t utf8Size(std::string_view s, size_t limit, size_t& cut);

// Holds scratch buffers; one per output instance, on its worker thread.
class CloudWatchEncoder {
 public:
  explicit CloudWatchEncoder(CloudWatchEncoderConfig config) : config_(std::move(config)) {}

  // Appends to `calls` the PutLogEvents calls for every event of `chunk`: one group/stream each,
  // events sorted by timestamp (stable), within every limit. Events outside the accepted time window
  // are counted and left out. Calls come grouped by stream in the order streams first appear.
  EncodeStats encode(const FlushChunk& chunk, int64_t nowMs, std::vector<PutCall>& calls);

  const CloudWatchEncoderConfig& config() const { return config_; }

 private:
  struct Pending {
    int64_t ms;
    uint32_t offset;  // into messages_
    uint32_t length;
    uint32_t size;    // AWS-counted bytes of the (possibly cut) message
    uint32_t seq;
  };
  struct Bucket {
    std::string group;
    std::string stream;
    std::vector<Pending> events;
  };
  Bucket& bucketFor(const std::string& group, const std::string& stream);
  void emit(Bucket& b, std::vector<PutCall>& calls);

  CloudWatchEncoderConfig config_;
  std::string messages_;
  std::vector<Bucket> buckets_;
  std::string group_, stream_, scratch_;
  std::vector<uint8_t> extraMap_;
};

}  // namespace firelane::outputs::cloudwatch_logs
