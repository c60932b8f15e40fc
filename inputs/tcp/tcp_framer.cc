// The tcp input's stream framing: a brace/string scanner finds each JSON object's end without
// re-reading earlier bytes; the object is converted by the streaming JSON -> msgpack converter.
#include "inputs/tcp/tcp_framer.h"

#include "core/codec/msgpack_writer.h"

namespace firelane::inputs::tcp {

const char* errorName(StreamFramer::Error e) {
  switch (e) {
    case StreamFramer::Error::None: return "none";
    case StreamFramer::Error::Malformed: return "malformed_json";
    case StreamFramer::Error::TooLarge: return "record_too_large";
    case StreamFramer::Error::Truncated: return "truncated_json";
  }
  return "unknown";
}

StreamFramer::Error StreamFramer::feed(std::string_view data, std::vector<uint8_t>& out,
                                       std::vector<RecordSpan>& records) {
  buf_.append(data);
  return config_.format == Format::Json ? feedJson(out, records) : feedNone(out, records);
}

StreamFramer::Error StreamFramer::finish(std::vector<uint8_t>& out, std::vector<RecordSpan>& records) {
  if (config_.format == Format::None) {
    if (!buf_.empty()) appendLine(buf_, out, records);
    buf_.clear();
    return Error::None;
  }
  size_t i = 0;
  while (i < buf_.size() && (buf_[i] == ' ' || buf_[i] == '\t' || buf_[i] == '\r' || buf_[i] == '\n')) ++i;
  return i == buf_.size() ? Error::None : Error::Truncated;
}

bool StreamFramer::appendJson(std::string_view object, std::vector<uint8_t>& out, std::vector<RecordSpan>& records) {
  scratch_.clear();
  members_.clear();
  if (!parser::jsonObjectToMsgpack(object, scratch_, members_)) return false;
  size_t start = out.size();
  codec::MsgpackWriter(out).mapHeader(static_cast<uint32_t>(members_.size()));
  out.insert(out.end(), scratch_.begin(), scratch_.end());
  records.push_back({start, out.size() - start});
  return true;
}

void StreamFramer::appendLine(std::string_view line, std::vector<uint8_t>& out, std::vector<RecordSpan>& records) {
  size_t start = out.size();
  codec::MsgpackWriter w(out);
  w.mapHeader(1);
  w.str("log");
  w.str(line);
  records.push_back({start, out.size() - start});
}

StreamFramer::Error StreamFramer::feedJson(std::vector<uint8_t>& out, std::vector<RecordSpan>& records) {
  size_t consumed = 0;  // bytes of buf_ done with (records and blanks between them)
  size_t i = scanned_;
  Error err = Error::None;
  while (i < buf_.size()) {
    char ch = buf_[i];
    if (depth_ == 0) {
      if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
        consumed = ++i;
        continue;
      }
      if (ch != '{') {
        err = Error::Malformed;
        break;
      }
      consumed = i;
      depth_ = 1;
      ++i;
      continue;
    }
    ++i;
    if (inString_) {
      if (escape_) {
        escape_ = false;
      } else if (ch == '\\') {
        escape_ = true;
      } else if (ch == '"') {
        inString_ = false;
      }
      continue;
    }
    if (ch == '"') {
      inString_ = true;
    } else if (ch == '{' || ch == '[') {
      ++depth_;
    } else if (ch == '}' || ch == ']') {
      if (--depth_ == 0) {
        if (!appendJson(std::string_view(buf_).substr(consumed, i - consumed), out, records)) {
          err = Error::Malformed;
          break;
        }
        consumed = i;
      }
    }
  }
  if (err == Error::None && depth_ > 0 && i - consumed > config_.bufferSize) err = Error::TooLarge;
  buf_.erase(0, consumed);
  scanned_ = i - consumed;
  return err;
}

StreamFramer::Error StreamFramer::feedNone(std::vector<uint8_t>& out, std::vector<RecordSpan>& records) {
  const std::string& sep = config_.separator;
  size_t start = 0;
  // Resume the separator search where the last one ended (minus a partial separator).
  size_t from = scanned_ >= sep.size() ? scanned_ - (sep.size() - 1) : 0;
  for (;;) {
    size_t at = buf_.find(sep, std::max(from, start));
    if (at == std::string::npos) break;
    if (at > start) {
      if (at - start > config_.bufferSize) {
        buf_.erase(0, at + sep.size());
        scanned_ = 0;
        return Error::TooLarge;
      }
      appendLine(std::string_view(buf_).substr(start, at - start), out, records);
    }
    start = at + sep.size();
  }
  buf_.erase(0, start);
  scanned_ = buf_.size();
  return buf_.size() > config_.bufferSize ? Error::TooLarge : Error::None;
}

}  // namespace firelane::inputs::tcp
