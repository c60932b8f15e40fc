// stdout output: encodes a chunk (JSON lines by default) and hands it to the writer thread; the
// flush completes when the bytes are written, so a slow reader backs up the queue, not memory.
#include "outputs/stdout/stdout_output.h"

#include <cinttypes>
#include <ctime>

#include "core/codec/json_writer.h"
#include "core/codec/msgpack_writer.h"
#include "outputs/stdout/stdout_writer.h"

namespace firelane::outputs::stdout_output {
namespace {

enum class Format { JsonLines, Json, Msgpack };
enum class DateFormat { Double, Epoch, Iso8601, JavaSqlTimestamp };

struct StdoutConfig {
  Format format = Format::JsonLines;
  std::string dateKey = "date";
  DateFormat dateFormat = DateFormat::Double;
};

// Formats the event time as a JSON value into buf; returns its length.
size_t formatDate(char* buf, size_t cap, int64_t timeNs, DateFormat f) {
  int64_t sec = timeNs / 1000000000;
  int64_t nsec = timeNs % 1000000000;
  if (nsec < 0) {
    nsec += 1000000000;
    --sec;
  }
  switch (f) {
    case DateFormat::Double:
      return static_cast<size_t>(snprintf(buf, cap, "%" PRId64 ".%06" PRId64, sec, nsec / 1000));
    case DateFormat::Epoch:
      return static_cast<size_t>(snprintf(buf, cap, "%" PRId64, sec));
    case DateFormat::Iso8601:
    case DateFormat::JavaSqlTimestamp: {
      time_t t = static_cast<time_t>(sec);
      tm tmv;
      gmtime_r(&t, &tmv);
      char d[32];
      strftime(d, sizeof(d), f == DateFormat::Iso8601 ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tmv);
      if (f == DateFormat::Iso8601)
        return static_cast<size_t>(snprintf(buf, cap, "\"%s.%06" PRId64 "Z\"", d, nsec / 1000));
      return static_cast<size_t>(snprintf(buf, cap, "\"%s.%06" PRId64 "\"", d, nsec / 1000));
    }
  }
  return 0;
}

class StdoutOutput final : public Output {
 public:
  explicit StdoutOutput(const StdoutConfig& cfg) : cfg_(cfg) {}
  Status start(OutputContext& ctx) override {
    ctx_ = &ctx;
    return {};
  }
  FlushLimits limits() const override { return {1 << 20, 4u << 20, 1}; }

  void flush(const FlushChunk& chunk, FlushCompletion done) override {
    std::string out;
    out.reserve(chunk.bytes * 2 + chunk.events * 40);
    if (cfg_.format == Format::Msgpack) {
      encodeMsgpack(chunk, out);
    } else {
      bool array = cfg_.format == Format::Json;
      if (array) out.push_back('[');
      bool first = true;
      char date[64];
      for (const auto& slice : chunk.slices) {
        const ExtraFields* extra = slice.batch->extra.get();
        for (const Event& e : slice.events()) {
          if (array && !first) out.push_back(',');
          first = false;
          size_t n = formatDate(date, sizeof(date), e.timeNs, cfg_.dateFormat);
          codec::appendJsonObjectWithDate(out, cfg_.dateKey, std::string_view(date, n), e.record, extra);
          if (!array) out.push_back('\n');
        }
      }
      if (array) out.append("]\n");
    }
    OutputContext* ctx = ctx_;
    StdoutWriter::instance().submit(std::move(out), [ctx, done = std::move(done)](bool ok) mutable {
      ctx->post([done = std::move(done), ok] {
        done(ok ? FlushResult::ok() : FlushResult::retry("write to stdout failed"));
      });
    });
  }

 private:
  // Each event as a msgpack [EventTime, record] pair, record extended by the batch's extra fields.
  static void encodeMsgpack(const FlushChunk& chunk, std::string& out) {
    std::vector<uint8_t> buf;
    codec::MsgpackWriter w(buf);
    for (const auto& slice : chunk.slices) {
      const ExtraFields* extra = slice.batch->extra.get();
      for (const Event& e : slice.events()) {
        w.arrayHeader(2);
        w.eventTime(e.timeNs);
        uint32_t count = 0;
        size_t header = codec::readMapHeader(e.record, count);
        if (extra && extra->count && header) {
          w.mapHeader(count + extra->count);
          w.raw(e.record.subspan(header));
          w.raw(extra->kv.data(), extra->kv.size());
        } else {
          w.raw(e.record);
        }
      }
    }
    out.assign(reinterpret_cast<const char*>(buf.data()), buf.size());
  }

  const StdoutConfig& cfg_;
  OutputContext* ctx_ = nullptr;
};

class StdoutFactory final : public OutputFactory {
 public:
  explicit StdoutFactory(StdoutConfig cfg) : cfg_(std::move(cfg)) {}
  OutputPtr create(unsigned) const override { return std::make_unique<StdoutOutput>(cfg_); }

 private:
  StdoutConfig cfg_;
};

}  // namespace

void registerPlugin(Registry& registry) {
  PluginInfo info;
  info.kind = PluginKind::Output;
  info.name = "stdout";
  info.description = "prints records to standard output";
  info.options = {
      {"Format", OptionType::Enum, "json_lines", "json_lines, json (an array per flush) or msgpack", false, false,
       false, {"json_lines", "json", "msgpack"}},
      {"json_date_key", OptionType::String, "date", "key of the event time in JSON output ('' = none)"},
      {"json_date_format", OptionType::Enum, "double", "double, epoch, iso8601 or java_sql_timestamp", false,
       false, false, {"double", "epoch", "iso8601", "java_sql_timestamp"}},
  };
  info.makeOutput = [](const OptionValues& v, const PluginEnv&) -> Result<std::shared_ptr<OutputFactory>> {
    StdoutConfig c;
    std::string_view f = v.str("Format");
    c.format = config::iequals(f, "msgpack") ? Format::Msgpack
               : config::iequals(f, "json")  ? Format::Json
                                             : Format::JsonLines;
    c.dateKey = std::string(v.str("json_date_key"));
    if (config::iequals(c.dateKey, "false") || config::iequals(c.dateKey, "off")) c.dateKey.clear();
    std::string_view df = v.str("json_date_format");
    c.dateFormat = config::iequals(df, "epoch")     ? DateFormat::Epoch
                   : config::iequals(df, "iso8601") ? DateFormat::Iso8601
                   : config::iequals(df, "java_sql_timestamp") ? DateFormat::JavaSqlTimestamp
                                                               : DateFormat::Double;
    return std::shared_ptr<OutputFactory>(std::make_shared<StdoutFactory>(std::move(c)));
  };
  registry.add(std::move(info));
}

}  // namespace firelane::outputs::stdout_output
