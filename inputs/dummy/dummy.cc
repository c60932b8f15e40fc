// The dummy input: emits a configured JSON record `Rate` times per second (`Samples` in all, 0 =
// forever), for tests, demos and benches.
#include <uv.h>

#include "core/codec/json_to_msgpack.h"
#include "core/codec/msgpack_writer.h"
#include "core/plugin/registry.h"
#include "inputs/dummy/dummy.h"

namespace firelane::inputs::dummy {
namespace {

struct DummyConfig {
  std::string tag = "dummy";
  std::vector<uint8_t> record;  // msgpack map
  double rate = 1;
  uint64_t samples = 0;
};

int64_t nowNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

class DummyInput final : public Input {
 public:
  explicit DummyInput(const DummyConfig& cfg) : cfg_(cfg) {}

  Status start(InputContext& ctx) override {
    ctx_ = &ctx;
    record_ = makeBuffer(cfg_.record.size());
    record_->append(cfg_.record.data(), cfg_.record.size());
    timer_ = new uv_timer_t;
    uv_timer_init(ctx.loop(), timer_);
    timer_->data = this;
    // High rates emit several records per tick instead of ticking faster than 1 ms.
    periodMs_ = cfg_.rate >= 1000 ? 1 : static_cast<uint64_t>(1000.0 / cfg_.rate);
    if (periodMs_ == 0) periodMs_ = 1;
    startMs_ = uv_now(ctx.loop());
    resume();
    return {};
  }
  void pause() override {
    paused_ = true;
    if (timer_) uv_timer_stop(timer_);
  }
  void resume() override {
    paused_ = false;
    if (timer_ && !done_) uv_timer_start(timer_, &DummyInput::onTick, 0, periodMs_);
  }
  void stopAccepting() override {}
  void close(std::function<void()> closed) override {
    closed_ = std::move(closed);
    if (!timer_) return closed_();
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) {
      auto* self = static_cast<DummyInput*>(h->data);
      delete reinterpret_cast<uv_timer_t*>(h);
      self->closed_();
    });
    timer_ = nullptr;
  }

 private:
  static void onTick(uv_timer_t* t) {
    auto* self = static_cast<DummyInput*>(t->data);
    self->tick();
  }
  void tick() {
    uint64_t elapsed = uv_now(ctx_->loop()) - startMs_ + periodMs_;
    uint64_t due = static_cast<uint64_t>(cfg_.rate * elapsed / 1000.0);
    if (due <= emitted_ && emitted_ == 0) due = 1;
    if (cfg_.samples) due = std::min<uint64_t>(due, cfg_.samples);
    if (due <= emitted_) return;
    uint64_t n = std::min<uint64_t>(due - emitted_, 100000);
    EventBatch batch;
    batch.tag = cfg_.tag;
    batch.owners.push_back(record_);
    batch.events.reserve(n);
    int64_t now = nowNs();
    for (uint64_t i = 0; i < n; ++i) batch.add(now, record_->bytes());
    emitted_ += n;
    ctx_->emit(std::move(batch));
    if (cfg_.samples && emitted_ >= cfg_.samples && !done_) {
      done_ = true;
      if (timer_) uv_timer_stop(timer_);
      ctx_->finished();
    }
  }

  const DummyConfig& cfg_;
  InputContext* ctx_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  BufferPtr record_;
  uint64_t periodMs_ = 1000;
  uint64_t startMs_ = 0;
  uint64_t emitted_ = 0;
  bool paused_ = false;
  bool done_ = false;
  std::function<void()> closed_;
};

class DummyFactory final : public InputFactory {
 public:
  explicit DummyFactory(DummyConfig cfg) : cfg_(std::move(cfg)) {}
  InputPtr create(unsigned) const override { return std::make_unique<DummyInput>(cfg_); }

 private:
  DummyConfig cfg_;
};

}  // namespace

void registerPlugin(Registry& registry) {
  PluginInfo info;
  info.kind = PluginKind::Input;
  info.name = "dummy";
  info.description = "emits a fixed JSON record at a given rate";
  info.options = {
      {"Dummy", OptionType::String, "{\"message\":\"dummy\"}", "the record, as a JSON object"},
      {"Rate", OptionType::Seconds, "1", "records per second"},
      {"Samples", OptionType::Int, "0", "stop after this many records (0 = never); then the input is finished"},
  };
  info.makeInput = [](const OptionValues& v, const PluginEnv&) -> Result<std::shared_ptr<InputFactory>> {
    DummyConfig c;
    if (v.isSet("Tag")) c.tag = std::string(v.str("Tag"));
    auto packed = codec::jsonToMsgpack(v.str("Dummy"));
    uint32_t count = 0;
    if (!packed || codec::readMapHeader(*packed, count) == 0)
      return Status::error(v.where("Dummy") + ": invalid value for 'Dummy' in [INPUT] dummy: expected a JSON object");
    c.record = std::move(*packed);
    c.rate = v.seconds("Rate");
    if (c.rate <= 0)
      return Status::error(v.where("Rate") + ": invalid value for 'Rate' in [INPUT] dummy: expected a positive number");
    int64_t s = v.integer("Samples");
    c.samples = s > 0 ? static_cast<uint64_t>(s) : 0;
    return std::shared_ptr<InputFactory>(std::make_shared<DummyFactory>(std::move(c)));
  };
  registry.add(std::move(info));
}

}  // namespace firelane::inputs::dummy
