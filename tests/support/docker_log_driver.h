// What Docker's fluentd log driver sends for an app container's output (moby daemon/logger/copier.go
// and daemon/logger/fluentd/fluentd.go): one Message-mode event per line, lines over 16 KiB split into
// partial pieces. Lets FireLens tests play app containers byte for byte.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "support/forward_client.h"

namespace firelane::testsupport {

// The copier's buffer: a line that does not fit (with its '\n') leaves in pieces of this size.
inline constexpr size_t kDockerLineBuffer = 16 * 1024;

struct DockerContainer {
  std::string id;    // 64 hex digits
  std::string name;  // as Docker reports it, with the leading '/'
};

// The events the driver emits for one line (without its '\n') written to `source` ("stdout" or
// "stderr") at `seconds.nanos`. A line of up to kDockerLineBuffer - 1 bytes is one event
// {container_id, container_name, source, log}. A longer one becomes pieces of kDockerLineBuffer
// bytes and a last piece with the rest, empty when the length is a multiple of the buffer, each with
// partial_message "true", partial_id `partialId` (64 hex), partial_ordinal "1", "2", ... and
// partial_last "false" ... "true"; every piece carries the time of the first. Go's map iteration
// puts the keys in random order: with `shuffle`, each record's keys are shuffled by it.
std::vector<Event> dockerLineEvents(const DockerContainer& container, std::string_view source, std::string_view line,
                                    uint32_t seconds, uint32_t nanos, const std::string& partialId,
                                    std::mt19937* shuffle = nullptr);

// One event on the wire as the driver writes it: [tag, EventTime, record, {}] (Message mode, no ack).
std::string dockerMessage(std::string_view tag, const Event& event);

// The value of `key` in a record; empty when absent.
std::string recordValue(const Record& record, std::string_view key);

}  // namespace firelane::testsupport
