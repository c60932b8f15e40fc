// stdin input runtime and registration: reads fd 0 (pipe, tty or file) on one worker's loop, splits
// lines, emits batches of {"log": line}; EOF flushes the last line and reports the input finished.
#include "inputs/stdin/stdin_input.h"

#include <cstring>
#include <unistd.h>
#include <uv.h>

#include "core/codec/msgpack_writer.h"
#include "core/common/log.h"

namespace firelane::inputs::stdin_input {
namespace {

int64_t nowNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

class StdinInput final : public Input {
 public:
  explicit StdinInput(const StdinConfig& cfg) : cfg_(cfg) {}

  Status start(InputContext& ctx) override {
    ctx_ = &ctx;
    uv_handle_type type = uv_guess_handle(0);
    if (type == UV_NAMED_PIPE || type == UV_TTY || type == UV_TCP) {
      stream_ = new uv_pipe_t;
      uv_pipe_init(ctx.loop(), stream_, 0);
      if (uv_pipe_open(stream_, 0) != 0) {
        delete stream_;
        stream_ = nullptr;
      } else {
        stream_->data = this;
      }
    }
    if (!stream_) {
      // Regular files and devices (e.g. /dev/null) cannot be polled: read them on the uv threadpool.
      fileMode_ = true;
    }
    resume();
    return {};
  }

  void pause() override {
    paused_ = true;
    if (stream_ && reading_) uv_read_stop(reinterpret_cast<uv_stream_t*>(stream_));
    reading_ = false;
  }

  void resume() override {
    paused_ = false;
    if (eof_) return;
    if (stream_ && !reading_) {
      reading_ = true;
      uv_read_start(reinterpret_cast<uv_stream_t*>(stream_), &StdinInput::onAlloc, &StdinInput::onRead);
    } else if (fileMode_ && !fileReadPending_) {
      readFile();
    }
  }

  void stopAccepting() override {}
  bool idle() const override { return eof_; }

  void close(std::function<void()> closed) override {
    closed_ = std::move(closed);
    pause();
    if (stream_) {
      uv_close(reinterpret_cast<uv_handle_t*>(stream_), [](uv_handle_t* h) {
        auto* self = static_cast<StdinInput*>(h->data);
        delete reinterpret_cast<uv_pipe_t*>(h);
        self->stream_ = nullptr;
        self->maybeClosed();
      });
      return;
    }
    maybeClosed();
  }

 private:
  void maybeClosed() {
    if (stream_ || fileReadPending_ || !closed_) return;
    auto cb = std::move(closed_);
    closed_ = nullptr;
    cb();
  }

  void ensureSpace() {
    size_t pending = buf_ ? buf_->size() - start_ : 0;
    if (buf_ && buf_.use_count() == 1 && buf_->available() < 4096) {
      buf_->compact(start_);
      start_ = 0;
    }
    if (!buf_ || buf_->available() < 4096) {
      BufferPtr fresh = makeBuffer(std::max<size_t>(64 * 1024, pending * 2 + 4096));
      if (pending) fresh->append(buf_->data() + start_, pending);
      buf_ = std::move(fresh);
      start_ = 0;
    }
  }

  static void onAlloc(uv_handle_t* h, size_t, uv_buf_t* out) {
    auto* self = static_cast<StdinInput*>(h->data);
    self->ensureSpace();
    auto tail = self->buf_->tail();
    out->base = reinterpret_cast<char*>(tail.data());
    out->len = tail.size();
  }

  static void onRead(uv_stream_t* s, ssize_t n, const uv_buf_t*) {
    auto* self = static_cast<StdinInput*>(s->data);
    if (n > 0) {
      self->buf_->commit(static_cast<size_t>(n));
      self->consume(false);
    } else if (n < 0) {
      if (n != UV_EOF) FL_WARN("[input:stdin:%s] read error: %s", self->cfg_.instance.c_str(), uv_strerror(n));
      self->atEof();
    }
  }

  void readFile() {
    ensureSpace();
    auto tail = buf_->tail();
    fileBuf_ = uv_buf_init(reinterpret_cast<char*>(tail.data()), static_cast<unsigned>(tail.size()));
    fileReq_.data = this;
    fileReadPending_ = true;
    uv_fs_read(ctx_->loop(), &fileReq_, 0, &fileBuf_, 1, -1, [](uv_fs_t* req) {
      auto* self = static_cast<StdinInput*>(req->data);
      ssize_t n = req->result;
      uv_fs_req_cleanup(req);
      self->fileReadPending_ = false;
      if (self->closed_) return self->maybeClosed();
      if (n > 0) {
        self->buf_->commit(static_cast<size_t>(n));
        self->consume(false);
        if (!self->paused_) self->readFile();
      } else {
        if (n < 0) FL_WARN("[input:stdin:%s] read error: %s", self->cfg_.instance.c_str(), uv_strerror(n));
        self->atEof();
      }
    });
  }

  void atEof() {
    if (eof_) return;
    eof_ = true;
    pause();
    consume(true);
    FL_DEBUG("[input:stdin:%s] end of input", cfg_.instance.c_str());
    ctx_->finished();
  }

  // Turns complete lines (and at EOF the rest) into records; lines longer than bufferSize are cut.
  void consume(bool atEof) {
    EventBatch batch;
    batch.tag = cfg_.tag;
    std::vector<uint8_t> packed;
    std::vector<std::pair<size_t, size_t>> spans;  // record offsets into `packed`
    const uint8_t* data = buf_->data();
    size_t end = buf_->size();
    int64_t now = nowNs();
    auto addLine = [&](size_t from, size_t len) {
      codec::MsgpackWriter w(packed);
      size_t before = packed.size();
      w.mapHeader(1);
      w.str(cfg_.key);
      w.str(std::string_view(reinterpret_cast<const char*>(data + from), len));
      spans.emplace_back(before, packed.size() - before);
    };
    while (start_ < end) {
      const void* nl = std::memchr(data + start_, '\n', end - start_);
      size_t lineEnd = nl ? static_cast<size_t>(static_cast<const uint8_t*>(nl) - data) : end;
      size_t len = lineEnd - start_;
      if (!nl && !atEof && len < cfg_.bufferSize) break;
      if (len > cfg_.bufferSize) {
        len = cfg_.bufferSize;
        lineEnd = start_ + len;
        nl = nullptr;
      }
      addLine(start_, len);
      start_ = lineEnd + (nl ? 1 : 0);
    }
    if (spans.empty()) return;
    // Records were re-encoded (text -> msgpack): they get a buffer of their own.
    BufferPtr records = makeBuffer(packed.size());
    records->append(packed.data(), packed.size());
    batch.owners.push_back(records);
    batch.events.reserve(spans.size());
    for (auto [off, len] : spans) batch.add(now, std::span<const uint8_t>(records->data() + off, len));
    ctx_->emit(std::move(batch));
  }

  const StdinConfig& cfg_;
  InputContext* ctx_ = nullptr;
  uv_pipe_t* stream_ = nullptr;
  uv_fs_t fileReq_{};
  uv_buf_t fileBuf_{};
  BufferPtr buf_;
  size_t start_ = 0;
  bool fileMode_ = false;
  bool fileReadPending_ = false;
  bool reading_ = false;
  bool paused_ = false;
  bool eof_ = false;
  std::function<void()> closed_;
};

class StdinFactory final : public InputFactory {
 public:
  explicit StdinFactory(StdinConfig cfg) : cfg_(std::move(cfg)) {}
  InputPtr create(unsigned) const override { return std::make_unique<StdinInput>(cfg_); }

 private:
  StdinConfig cfg_;
};

}  // namespace

void registerPlugin(Registry& registry) {
  PluginInfo info;
  info.kind = PluginKind::Input;
  info.name = "stdin";
  info.description = "reads lines from standard input as {\"log\": line} records";
  info.options = {
      {"Buffer_Size", OptionType::Size, "1M", "longest line; longer lines are split"},
      {"Key", OptionType::String, "log", "record key of each line"},
  };
  info.makeInput = [](const OptionValues& v, const PluginEnv& env) -> Result<std::shared_ptr<InputFactory>> {
    StdinConfig c;
    c.instance = env.instanceName;
    if (v.isSet("Tag")) c.tag = std::string(v.str("Tag"));
    c.bufferSize = std::max<size_t>(16, v.size("Buffer_Size"));
    c.key = std::string(v.str("Key"));
    return std::shared_ptr<InputFactory>(std::make_shared<StdinFactory>(std::move(c)));
  };
  registry.add(std::move(info));
}

}  // namespace firelane::inputs::stdin_input
