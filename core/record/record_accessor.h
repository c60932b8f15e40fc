// Fluent Bit record accessors ($key, $key['sub'][0]) and templates ("$TAG[1].$level.$1"), parsed once at
// config time and evaluated against msgpack records in place: lookups return views, never copies.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/status.h"

namespace firelane::record {

using Bytes = std::span<const uint8_t>;

// One step of an accessor path: a map key, or an index into an array.
struct PathStep {
  std::string key;
  uint32_t index = 0;
  bool isIndex = false;
};

// A parsed accessor. Immutable and cheap to share between workers.
class RecordAccessor {
 public:
  RecordAccessor() = default;
  // "$key", "$key['sub']["sub2"][0]": a path. Text without a leading '$' is one literal top-level key
  // (modify's and record_modifier's keys are plain names, '[' included). Errors describe the syntax
  // problem without a location: callers prefix "file:line: ... in [FILTER] x".
  static Result<RecordAccessor> parse(std::string_view text);
  // The literal top-level key `name` (no parsing).
  static RecordAccessor literal(std::string_view name);

  // The msgpack bytes of the value in `record` (a msgpack map), or an empty span when the key is
  // absent, a step does not fit (index out of range, not a map/array), or the record is malformed.
  // Keys compare byte-exactly against str (or bin) keys; with duplicate keys the last one wins, as in
  // Fluent Bit. The view points into `record`.
  Bytes find(Bytes record) const;

  const std::string& text() const { return text_; }
  const std::vector<PathStep>& path() const { return path_; }
  // The top-level key (the first step).
  const std::string& key() const { return path_.front().key; }
  bool nested() const { return path_.size() > 1; }

 private:
  std::string text_;
  std::vector<PathStep> path_;  // never empty once parsed
};

// Looks `key` up among the top-level pairs of the map `record` (last duplicate wins); the value's
// bytes, or empty. `keyRange`, when given, receives the key's bytes.
Bytes findKey(Bytes record, std::string_view key, Bytes* keyRange = nullptr);

// The text of a str or bin value. False for other types or malformed bytes.
bool stringValue(Bytes value, std::string_view& out);

// Renders a value as text the way Fluent Bit's record accessor templates do: str as is, integers in
// decimal, floats with "%f", true/false, null, bin as lowercase hex, maps and arrays as JSON.
// Appends to `out`; false (nothing appended) for ext or malformed bytes.
bool appendValueText(std::string& out, Bytes value);

// A template: literal text mixed with $key accessors, $0..$9 (regex captures), $TAG and $TAG[n]
// (n-th dot-separated tag part). An accessor ends at '.', ' ', ',' or '"' outside quotes, as in
// Fluent Bit.
class RecordTemplate {
 public:
  static Result<RecordTemplate> parse(std::string_view text);

  // Appends the rendering. A missing key or capture renders as nothing; the result says whether
  // every key was found.
  bool render(std::string& out, std::string_view tag, Bytes record,
              std::span<const std::string_view> captures = {}) const;
  const std::string& text() const { return text_; }
  bool usesCaptures() const { return usesCaptures_; }

 private:
  enum class Kind : uint8_t { Literal, Key, Capture, Tag, TagPart };
  struct Part {
    Kind kind = Kind::Literal;
    std::string literal;
    RecordAccessor accessor;
    uint32_t n = 0;  // capture number or tag part
  };
  std::string text_;
  std::vector<Part> parts_;
  bool usesCaptures_ = false;
};

}  // namespace firelane::record
