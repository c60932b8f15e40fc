// Shared helpers for filter tests: records packed by msgpack-c, batches over one buffer, filters built
// from classic-config text through the real option validation, and records rendered as JSON.
#pragma once

#include <msgpack.h>

#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/codec/json_writer.h"
#include "core/config/classic_parser.h"
#include "core/plugin/registry.h"

namespace firelane::filtertest {

// msgpack-c's packer writing into a byte vector (an encoder independent of ours).
class Pack {
 public:
  Pack() {
    msgpack_sbuffer_init(&sbuf_);
    msgpack_packer_init(&pk_, &sbuf_, msgpack_sbuffer_write);
  }
  ~Pack() { msgpack_sbuffer_destroy(&sbuf_); }
  Pack(const Pack&) = delete;
  Pack& operator=(const Pack&) = delete;

  msgpack_packer* pk() { return &pk_; }
  std::vector<uint8_t> bytes() const { return {sbuf_.data, sbuf_.data + sbuf_.size}; }
  Pack& map(uint32_t n) {
    msgpack_pack_map(&pk_, n);
    return *this;
  }
  Pack& array(uint32_t n) {
    msgpack_pack_array(&pk_, n);
    return *this;
  }
  Pack& str(std::string_view s) {
    msgpack_pack_str(&pk_, s.size());
    msgpack_pack_str_body(&pk_, s.data(), s.size());
    return *this;
  }
  Pack& bin(std::string_view s) {
    msgpack_pack_bin(&pk_, s.size());
    msgpack_pack_bin_body(&pk_, s.data(), s.size());
    return *this;
  }
  Pack& i64(int64_t v) {
    msgpack_pack_int64(&pk_, v);
    return *this;
  }
  Pack& f64(double v) {
    msgpack_pack_double(&pk_, v);
    return *this;
  }
  Pack& boolean(bool b) {
    if (b)
      msgpack_pack_true(&pk_);
    else
      msgpack_pack_false(&pk_);
    return *this;
  }
  Pack& nil() {
    msgpack_pack_nil(&pk_);
    return *this;
  }
  Pack& kv(std::string_view k, std::string_view v) { return str(k).str(v); }

 private:
  msgpack_sbuffer sbuf_;
  msgpack_packer pk_;
};

// A map of string pairs.
inline std::vector<uint8_t> strMap(std::initializer_list<std::pair<std::string_view, std::string_view>> kvs) {
  Pack p;
  p.map(static_cast<uint32_t>(kvs.size()));
  for (auto& [k, v] : kvs) p.kv(k, v);
  return p.bytes();
}

inline std::string json(std::span<const uint8_t> record) {
  std::string out;
  codec::appendJsonObject(out, record);
  return out;
}

// A batch whose events view the given records, all stored in one buffer.
inline EventBatch makeBatch(const std::vector<std::vector<uint8_t>>& records, std::string tag = "app.log",
                            int64_t timeNs = 1700000000000000000) {
  size_t total = 0;
  for (auto& r : records) total += r.size();
  BufferPtr buf = makeBuffer(total ? total : 1);
  EventBatch b;
  b.tag = std::move(tag);
  for (auto& r : records) {
    const uint8_t* at = buf->data() + buf->size();
    buf->append(r.data(), r.size());
    b.add(timeNs, {at, r.size()});
  }
  b.owners.push_back(buf);
  return b;
}

inline std::vector<std::string> jsonOf(const EventBatch& b) {
  std::vector<std::string> out;
  for (auto& e : b.events) out.push_back(json(e.record));
  return out;
}

inline size_t sumBytes(const EventBatch& b) {
  size_t n = 0;
  for (auto& e : b.events) n += e.record.size();
  return n;
}

// Records every emitted batch; nothing else.
class FakeContext final : public FilterContext {
 public:
  uv_loop_t* loop() override { return nullptr; }
  unsigned workerId() const override { return 0; }
  const std::string& instanceName() const override { return name_; }
  FilterCounters& counters() override { return counters_; }
  void emit(EventBatch&& batch) override { emitted.push_back(std::move(batch)); }
  std::vector<EventBatch> emitted;

 private:
  std::string name_ = "test.0";
  FilterCounters counters_;
};

// Builds a filter factory from the entries of a [FILTER] section (text after the header), through
// option validation and the plugin's factory-maker, as start-up does. The config file is "t.conf" in
// `baseDir`; the [FILTER] header is line 1, so the first entry is on line 2.
inline Result<std::shared_ptr<FilterFactory>> buildFilter(void (*registerPlugin)(Registry&), std::string_view name,
                                                          const std::string& entries,
                                                          const ServiceConfig& service = {},
                                                          const std::string& baseDir = ".") {
  Registry reg;
  registerPlugin(reg);
  auto doc = config::parseString("[FILTER]\n    Name " + std::string(name) + "\n    Match *\n" + entries, "t.conf",
                                 baseDir);
  if (!doc) return doc.status();
  const PluginInfo* info = reg.find(PluginKind::Filter, name);
  REQUIRE(info);
  auto specs = reg.allOptions(*info);
  static constexpr std::string_view kSkip[] = {"Name"};
  auto values = validateOptions(doc->sections.at(0), specs, "[FILTER] " + std::string(name), kSkip);
  if (!values) return values.status();
  PluginEnv env{service, std::string(name) + ".0"};
  return info->makeFilter(*values, env);
}

// A started filter instance and its fake context.
struct Running {
  std::shared_ptr<FilterFactory> factory;
  FilterPtr filter;
  FakeContext ctx;
};

inline std::unique_ptr<Running> startFilter(void (*registerPlugin)(Registry&), std::string_view name,
                                            const std::string& entries, const ServiceConfig& service = {},
                                            const std::string& baseDir = ".") {
  auto f = buildFilter(registerPlugin, name, entries, service, baseDir);
  INFO((f.ok() ? std::string() : f.message()));
  REQUIRE(f.ok());
  auto r = std::make_unique<Running>();
  r->factory = *f;
  r->filter = r->factory->create(0);
  REQUIRE(r->filter->start(r->ctx).ok());
  return r;
}

// The error message of a config that must fail.
inline std::string configError(void (*registerPlugin)(Registry&), std::string_view name, const std::string& entries,
                               const ServiceConfig& service = {}, const std::string& baseDir = ".") {
  auto f = buildFilter(registerPlugin, name, entries, service, baseDir);
  REQUIRE_FALSE(f.ok());
  return f.message();
}

}  // namespace firelane::filtertest
