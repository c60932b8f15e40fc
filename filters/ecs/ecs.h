// The ecs filter: adds ECS task metadata (ecs_cluster, ecs_task_arn, ecs_task_definition, and on request
// task id, zone, launch type, service, container name/image) to every record, as FireLens' generated
// record_modifier does, but without rewriting records: the fields are encoded once per task (and
// container) into an ExtraFields block that every batch shares and encoders write after the record's
// own fields, so the JSON is byte-identical to record_modifier's.
//
// Where the metadata comes from: each worker's instance GETs `$URI/task` itself with an HTTP client
// on its own loop, at start, retrying with capped, jittered backoff up to Metadata_Retry_Limit. Why
// per worker and not once on the main thread: the request is one small local call per worker, and it
// keeps everything loop-local (no cross-thread hand-off, no lock, no shared mutable state; the
// blocks a worker builds are only read on that worker). The cost is `workers` requests at start-up.
//
// Until the metadata arrives, batches pass un-enriched, or, with Metadata_Wait > 0, are held (up to
// Metadata_Wait_Limit bytes) and re-emitted enriched once it arrives, or un-enriched when the wait
// ends or the fetch gives up. Re-emitted batches re-enter the pipeline (filters before this one see
// them again, as with any filter's emit): keep ecs first, or behind idempotent filters such as grep
// (the FireLens position of the record_modifier it replaces). Held records count as dropped by this
// filter and added when re-emitted (FilterCounters), and are not charged to the input's Mem_Buf_Limit
// (Metadata_Wait_Limit bounds them per worker). At shutdown, records still held wait for the fetch in
// flight (one last attempt, no more retries) or the end of Metadata_Wait, then go on. Off ECS (no URI), the filter is a no-op after one
// warning at start-up.
//
// Filters placed after ecs see only the record's own fields: the added ones live in the shared block
// until an output encodes the event (Datadog's provider ecs and templates in outputs do see them).
#pragma once

#include "core/plugin/filter.h"
#include "filters/ecs/ecs_config.h"

namespace firelane::filters::ecs {

// One instance per worker; loop-thread only. `cfg` outlives it (owned by the factory).
FilterPtr makeFilter(const EcsConfig& cfg);

}  // namespace firelane::filters::ecs
