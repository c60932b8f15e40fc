// ECS task metadata (v4 `GET $ECS_CONTAINER_METADATA_URI_V4/task`) and the `Add KEY VALUE` templates
// that turn it into the pre-encoded fields the ecs filter shares between events. Pure: no I/O, unit
// tested without a server.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/status.h"
#include "core/event/event_batch.h"

namespace firelane::filters::ecs {

struct ContainerInfo {
  std::string dockerId;  // 64 hex, the `container_id` Docker's fluentd driver puts in records
  std::string name;
  std::string image;
};

struct TaskMetadata {
  std::string cluster;      // the name, also when the endpoint gives an ARN (FireLens writes the name)
  std::string taskArn;
  std::string taskId;       // last '/' part of the task ARN
  std::string family;
  std::string revision;     // text, as the endpoint sends it ("3")
  std::string availabilityZone;
  std::string launchType;
  std::string serviceName;  // empty for tasks not run by a service
  std::vector<ContainerInfo> containers;
  const ContainerInfo* container(std::string_view dockerId) const;
};

// Parses the task JSON. Requires Cluster, TaskARN, Family and Revision (the FireLens fields); the
// others may be absent. Errors say which field is wrong, never echo the body.
Result<TaskMetadata> parseTaskMetadata(std::string_view json);

// "arn:aws:ecs:us-east-1:123:cluster/prod" -> "prod"; a plain name stays as it is.
std::string clusterName(std::string_view clusterOrArn);

// A value template: literal text and $Variables (Fluent Bit's ecs filter names, plus the task JSON's
// own field names): $ClusterName, $TaskARN, $TaskID, $TaskDefinitionFamily, $TaskDefinitionVersion,
// $TaskDefinition (family:revision), $AvailabilityZone, $LaunchType, $ServiceName, and per container
// (looked up by the record's container_id) $ContainerID, $ContainerName (or $ECSContainerName),
// $ContainerImage. Names are case-insensitive.
class ValueTemplate {
 public:
  static Result<ValueTemplate> parse(std::string_view text);
  // Renders into `out` (cleared). False when a variable has no value (an absent task field, or a
  // container variable without a container): the field is then left out rather than added empty.
  bool render(const TaskMetadata& task, const ContainerInfo* container, std::string& out) const;
  bool usesContainer() const { return usesContainer_; }
  const std::string& text() const { return text_; }

  enum class Var : uint8_t {
    Literal, ClusterName, TaskArn, TaskId, Family, Revision, TaskDefinition, AvailabilityZone, LaunchType,
    ServiceName, ContainerId, ContainerName, ContainerImage,
  };

 private:
  struct Part {
    Var var = Var::Literal;
    std::string literal;
  };
  std::string text_;
  std::vector<Part> parts_;
  bool usesContainer_ = false;
};

struct FieldSpec {
  std::string key;
  ValueTemplate value;
};

// The fields FireLens' record_modifier adds, in its order: ecs_cluster, ecs_task_arn,
// ecs_task_definition (family:revision).
std::vector<FieldSpec> fireLensFields();

// Encodes `fields` for one task (and container, or none) as str/str msgpack pairs, in order.
ExtraFieldsRef buildExtra(const std::vector<FieldSpec>& fields, const TaskMetadata& task,
                          const ContainerInfo* container);

// "http://host[:port][/path]" -> parts; the metadata endpoints are plain HTTP on link-local addresses.
struct MetadataEndpoint {
  std::string host;
  uint16_t port = 80;
  std::string path;  // without a trailing '/', "" for the root
};
Result<MetadataEndpoint> parseEndpoint(std::string_view uri);

}  // namespace firelane::filters::ecs
