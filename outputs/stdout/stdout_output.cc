// stdout output: encodes a chunk (JSON lines by default) and hands it to the writer thread; the
// flush completes when the bytes are written, so a slow reader backs up the queue, not memory.
#include "outputs/stdout/stdout_output.h"

#include "core/codec/record_format.h"
#include "outputs/stdout/stdout_writer.h"

namespace firelane::outputs::stdout_output {
namespace {

class StdoutOutput final : public Output {
 public:
  explicit StdoutOutput(const codec::RecordFormatOptions& cfg) : cfg_(cfg) {}
  Status start(OutputContext& ctx) override {
    ctx_ = &ctx;
    return {};
  }
  FlushLimits limits() const override { return {1 << 20, 4u << 20, 1}; }

  void flush(const FlushChunk& chunk, FlushCompletion done) override {
    std::string out;
    out.reserve(chunk.bytes * 2 + chunk.events * 40);
    codec::appendChunk(out, chunk, cfg_);
    if (cfg_.format == codec::RecordFormat::Json) out.push_back('\n');
    OutputContext* ctx = ctx_;
    StdoutWriter::instance().submit(std::move(out), [ctx, done = std::move(done)](bool ok) mutable {
      ctx->post([done = std::move(done), ok] {
        done(ok ? FlushResult::ok() : FlushResult::retry("write to stdout failed"));
      });
    });
  }

 private:
  const codec::RecordFormatOptions& cfg_;
  OutputContext* ctx_ = nullptr;
};

class StdoutFactory final : public OutputFactory {
 public:
  explicit StdoutFactory(codec::RecordFormatOptions cfg) : cfg_(std::move(cfg)) {}
  OutputPtr create(unsigned) const override { return std::make_unique<StdoutOutput>(cfg_); }

 private:
  codec::RecordFormatOptions cfg_;
};

}  // namespace

void registerPlugin(Registry& registry) {
  PluginInfo info;
  info.kind = PluginKind::Output;
  info.name = "stdout";
  info.description = "prints records to standard output";
  info.options = {
      {"Format", OptionType::Enum, "json_lines", "json_lines, json (an array per flush), json_stream or msgpack",
       false, false, false, {"json_lines", "json", "json_stream", "msgpack"}},
      {"json_date_key", OptionType::String, "date", "key of the event time in JSON output ('' = none)"},
      {"json_date_format", OptionType::Enum, "double", "double, epoch, epoch_ms, iso8601 or java_sql_timestamp",
       false, false, false, {"double", "epoch", "epoch_ms", "iso8601", "java_sql_timestamp"}},
  };
  info.makeOutput = [](const OptionValues& v, const PluginEnv&) -> Result<std::shared_ptr<OutputFactory>> {
    codec::RecordFormatOptions c;
    c.format = codec::parseRecordFormat(v.str("Format")).value_or(codec::RecordFormat::JsonLines);
    c.dateKey = std::string(v.str("json_date_key"));
    if (config::iequals(c.dateKey, "false") || config::iequals(c.dateKey, "off")) c.dateKey.clear();
    c.dateFormat = codec::parseJsonDateFormat(v.str("json_date_format")).value_or(codec::JsonDateFormat::Double);
    return std::shared_ptr<OutputFactory>(std::make_shared<StdoutFactory>(std::move(c)));
  };
  registry.add(std::move(info));
}

}  // namespace firelane::outputs::stdout_output
