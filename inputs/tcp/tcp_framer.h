// Splits a TCP byte stream into records, without I/O so it is unit-tested alone: Format json reads
// a stream of JSON objects (one record each), Format none one {"log": chunk} per separator.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/parser/json_msgpack.h"
#include "inputs/tcp/tcp_config.h"

namespace firelane::inputs::tcp {

// Where a record's msgpack map lies in the output vector.
struct RecordSpan {
  size_t offset = 0;
  size_t size = 0;
};

class StreamFramer {
 public:
  enum class Error {
    None,
    Malformed,      // json: not an object, or invalid JSON; the connection cannot continue
    TooLarge,       // a record (object or line) grew over Buffer_Size
    Truncated,      // json: the stream ended inside an object
  };

  explicit StreamFramer(const TcpConfig& config) : config_(config) {}

  // Consumes `data`; every complete record's msgpack map is appended to `out` and listed in
  // `records`. Records completed before an error are still appended; after an error the framer
  // must not be fed again.
  Error feed(std::string_view data, std::vector<uint8_t>& out, std::vector<RecordSpan>& records);
  // End of stream: a trailing line without separator becomes a record (none); an unfinished
  // object is an error (json).
  Error finish(std::vector<uint8_t>& out, std::vector<RecordSpan>& records);
  size_t pendingBytes() const { return buf_.size(); }

 private:
  Error feedJson(std::vector<uint8_t>& out, std::vector<RecordSpan>& records);
  Error feedNone(std::vector<uint8_t>& out, std::vector<RecordSpan>& records);
  bool appendJson(std::string_view object, std::vector<uint8_t>& out, std::vector<RecordSpan>& records);
  void appendLine(std::string_view line, std::vector<uint8_t>& out, std::vector<RecordSpan>& records);

  const TcpConfig& config_;
  std::string buf_;  // bytes not yet part of a record; buf_[0] starts the current one
  // json scanner state over buf_[0, scanned_): inside an object, string, or after a backslash.
  size_t scanned_ = 0;
  int depth_ = 0;
  bool inString_ = false;
  bool escape_ = false;
  std::vector<uint8_t> scratch_;
  std::vector<parser::JsonMember> members_;
};

const char* errorName(StreamFramer::Error e);

}  // namespace firelane::inputs::tcp
