// The ecs filter's typed options, option table and registration (see ecs.h for the runtime).
#pragma once

#include <optional>

#include "core/plugin/registry.h"
#include "filters/ecs/ecs_metadata.h"

namespace firelane::filters::ecs {

struct EcsConfig {
  // Where the task metadata comes from: Metadata_URI, else $ECS_CONTAINER_METADATA_URI_V4. None when
  // neither is set (not on ECS): the filter passes events unchanged.
  std::optional<MetadataEndpoint> endpoint;
  std::vector<FieldSpec> fields;  // FireLens fields first (unless turned off), then every Add in order
  bool needContainer = false;     // some field uses $Container*: look up each record's container_id
  double requestTimeout = 5;      // seconds per GET
  int64_t retryLimit = 10;        // failed GETs before giving up (events then pass un-enriched)
  double retryBase = 0.5;         // backoff: random(base, min(base * 2^n, cap)) seconds
  double retryCap = 30;
  double waitSeconds = 5;         // hold batches this long while metadata is not there yet
  uint64_t waitLimit = 0;         // ... and at most this many record bytes
};

void registerPlugin(Registry& registry);

}  // namespace firelane::filters::ecs
