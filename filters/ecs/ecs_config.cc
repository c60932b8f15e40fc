// The ecs filter's options: Add templates, the metadata endpoint, fetch retries and the start-up wait.
#include "filters/ecs/ecs_config.h"

#include <cstdlib>

#include "core/common/log.h"
#include "core/record/option_text.h"
#include "filters/ecs/ecs.h"

namespace firelane::filters::ecs {
namespace {

constexpr const char* kEnvUri = "ECS_CONTAINER_METADATA_URI_V4";

class EcsFactory final : public FilterFactory {
 public:
  explicit EcsFactory(EcsConfig cfg) : cfg_(std::move(cfg)) {}
  FilterPtr create(unsigned) const override { return makeFilter(cfg_); }

 private:
  EcsConfig cfg_;
};

Result<std::shared_ptr<FilterFactory>> make(const OptionValues& v) {
  EcsConfig c;
  const std::string label = v.label();
  if (v.boolean("FireLens_Fields")) c.fields = fireLensFields();
  for (std::string_view text : v.all("Add")) {
    auto words = record::splitWords(text);
    auto bad = [&](const std::string& why) {
      return Status::error(v.where("Add") + ": invalid value '" + std::string(text) + "' for 'Add' in " + label +
                           ": " + why);
    };
    if (!words) return bad(words.message());
    if (words->size() != 2) return bad("expected KEY VALUE, e.g. 'Add ecs_task_id $TaskID'");
    auto t = ValueTemplate::parse((*words)[1]);
    if (!t) return bad(t.message());
    c.needContainer = c.needContainer || t->usesContainer();
    c.fields.push_back(FieldSpec{(*words)[0], std::move(*t)});
  }
  if (c.fields.empty()) {
    return Status::error(v.where("FireLens_Fields") + ": [FILTER] ecs adds nothing: FireLens_Fields is off and "
                         "there is no Add in " + label);
  }
  std::string uri(v.str("Metadata_URI"));
  std::string from = "Metadata_URI";
  if (uri.empty()) {
    const char* env = std::getenv(kEnvUri);
    if (env) uri = env;
    from = kEnvUri;
  }
  if (uri.empty()) {
    FL_WARN("%s: %s is not set (not running on ECS?): records pass without ECS metadata", label.c_str(), kEnvUri);
  } else {
    auto ep = parseEndpoint(uri);
    if (!ep) {
      std::string where = from == kEnvUri ? label : v.where("Metadata_URI");
      return Status::error(where + ": invalid " + from + " '" + uri + "' in " + label + ": " + ep.message());
    }
    c.endpoint = std::move(*ep);
  }
  c.requestTimeout = v.seconds("Metadata_Timeout");
  c.retryLimit = v.integer("Metadata_Retry_Limit");
  c.retryBase = v.seconds("Metadata_Retry_Base");
  c.retryCap = v.seconds("Metadata_Retry_Cap");
  c.waitSeconds = v.seconds("Metadata_Wait");
  c.waitLimit = v.size("Metadata_Wait_Limit");
  if (c.requestTimeout <= 0) return Status::error(v.where("Metadata_Timeout") + ": Metadata_Timeout must be > 0 in " + label);
  if (c.retryLimit < 0) return Status::error(v.where("Metadata_Retry_Limit") + ": Metadata_Retry_Limit must be >= 0 in " + label);
  if (c.retryBase <= 0 || c.retryCap < c.retryBase) {
    return Status::error(v.where("Metadata_Retry_Cap") + ": need 0 < Metadata_Retry_Base <= Metadata_Retry_Cap in " +
                         label);
  }
  return std::shared_ptr<FilterFactory>(std::make_shared<EcsFactory>(std::move(c)));
}

}  // namespace

void registerPlugin(Registry& registry) {
  PluginInfo info;
  info.kind = PluginKind::Filter;
  info.name = "ecs";
  info.description = "adds ECS task metadata (cluster, task ARN, task definition, ...) to every record";
  info.options = {
      {"Add", OptionType::String, "",
       "KEY VALUE: add KEY with VALUE, a template of $TaskID, $ClusterName, $TaskARN, $TaskDefinitionFamily, "
       "$TaskDefinitionVersion, $TaskDefinition, $AvailabilityZone, $LaunchType, $ServiceName, $ContainerName, "
       "$ContainerImage, $ContainerID (container of the record's container_id)",
       true},
      {"FireLens_Fields", OptionType::Bool, "on",
       "add ecs_cluster, ecs_task_arn and ecs_task_definition first, as FireLens' record_modifier does"},
      {"Metadata_URI", OptionType::String, "",
       "task metadata v4 base URI (default: $ECS_CONTAINER_METADATA_URI_V4); GET <uri>/task"},
      {"Metadata_Timeout", OptionType::Seconds, "5", "timeout of one metadata request"},
      {"Metadata_Retry_Limit", OptionType::Int, "10", "failed metadata requests before giving up"},
      {"Metadata_Retry_Base", OptionType::Seconds, "0.5", "first retry delay (doubles, with jitter)"},
      {"Metadata_Retry_Cap", OptionType::Seconds, "30", "longest retry delay"},
      {"Metadata_Wait", OptionType::Seconds, "5",
       "hold records up to this long at start-up until the metadata arrives (0: pass them on at once, un-enriched)"},
      {"Metadata_Wait_Limit", OptionType::Size, "16M", "most record bytes held while waiting"},
  };
  info.makeFilter = [](const OptionValues& v, const PluginEnv&) { return make(v); };
  registry.add(std::move(info));
}

}  // namespace firelane::filters::ecs
