// Docker's fluentd log driver as seen on the wire (see docker_log_driver.h).
#include "support/docker_log_driver.h"

#include <algorithm>

namespace firelane::testsupport {

std::vector<Event> dockerLineEvents(const DockerContainer& container, std::string_view source, std::string_view line,
                                    uint32_t seconds, uint32_t nanos, const std::string& partialId,
                                    std::mt19937* shuffle) {
  auto base = [&](std::string_view log) {
    return Record{{"container_id", container.id},
                  {"container_name", container.name},
                  {"source", std::string(source)},
                  {"log", std::string(log)}};
  };
  std::vector<Event> out;
  if (line.size() < kDockerLineBuffer) {
    out.push_back(Event{seconds, nanos, base(line)});
  } else {
    // The copier logs a full buffer without a newline as a piece; the newline then ends the last
    // piece, which is empty when the line filled the buffer exactly.
    size_t pieces = line.size() / kDockerLineBuffer + 1;
    for (size_t i = 0; i < pieces; ++i) {
      Record r = base(line.substr(std::min(line.size(), i * kDockerLineBuffer), kDockerLineBuffer));
      r.emplace_back("partial_message", "true");
      r.emplace_back("partial_id", partialId);
      r.emplace_back("partial_ordinal", std::to_string(i + 1));
      r.emplace_back("partial_last", i + 1 == pieces ? "true" : "false");
      out.push_back(Event{seconds, nanos, std::move(r)});
    }
  }
  if (shuffle) {
    for (auto& e : out) std::shuffle(e.record.begin(), e.record.end(), *shuffle);
  }
  return out;
}

std::string dockerMessage(std::string_view tag, const Event& event) {
  ForwardOptions options;
  options.emptyMap = true;
  return buildMessage(tag, event, TimeFormat::EventTimeFixExt8, options);
}

std::string recordValue(const Record& record, std::string_view key) {
  for (const auto& [k, v] : record)
    if (k == key) return v;
  return {};
}

}  // namespace firelane::testsupport
