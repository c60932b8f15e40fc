// null output: completes every flush at once; used by benches and the FireLens health check.
#include "outputs/null/null_output.h"

namespace firelane::outputs::null_output {
namespace {

class NullOutput final : public Output {
 public:
  Status start(OutputContext&) override { return {}; }
  FlushLimits limits() const override { return {1 << 20, 4u << 20, 1}; }
  void flush(const FlushChunk&, FlushCompletion done) override { done(FlushResult::ok()); }
};

class NullFactory final : public OutputFactory {
 public:
  OutputPtr create(unsigned) const override { return std::make_unique<NullOutput>(); }
};

}  // namespace

void registerPlugin(Registry& registry) {
  PluginInfo info;
  info.kind = PluginKind::Output;
  info.name = "null";
  info.description = "discards records";
  info.makeOutput = [](const OptionValues&, const PluginEnv&) -> Result<std::shared_ptr<OutputFactory>> {
    return std::shared_ptr<OutputFactory>(std::make_shared<NullFactory>());
  };
  registry.add(std::move(info));
}

}  // namespace firelane::outputs::null_output
