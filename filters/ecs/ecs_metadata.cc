// Task metadata parsing, value templates and the shared pre-encoded field blocks of the ecs filter.
#include "filters/ecs/ecs_metadata.h"

#include <strings.h>

#include <nlohmann/json.hpp>

#include "core/codec/msgpack_writer.h"

namespace firelane::filters::ecs {
namespace {

using Var = ValueTemplate::Var;

struct VarName {
  std::string_view name;
  Var var;
};
constexpr VarName kVars[] = {
    {"ClusterName", Var::ClusterName},
    {"Cluster", Var::ClusterName},
    {"TaskARN", Var::TaskArn},
    {"TaskID", Var::TaskId},
    {"TaskDefinitionFamily", Var::Family},
    {"Family", Var::Family},
    {"TaskDefinitionVersion", Var::Revision},
    {"Revision", Var::Revision},
    {"TaskDefinition", Var::TaskDefinition},
    {"AvailabilityZone", Var::AvailabilityZone},
    {"LaunchType", Var::LaunchType},
    {"ServiceName", Var::ServiceName},
    {"ContainerID", Var::ContainerId},
    {"DockerId", Var::ContainerId},
    {"ContainerName", Var::ContainerName},
    {"ECSContainerName", Var::ContainerName},
    {"ContainerImage", Var::ContainerImage},
    {"Image", Var::ContainerImage},
};

bool isContainerVar(Var v) { return v == Var::ContainerId || v == Var::ContainerName || v == Var::ContainerImage; }

// A string member, or with `allowNumber` an integer as text (Revision is a string in v4; be lenient).
bool textMember(const nlohmann::json& obj, const char* name, std::string& out, bool allowNumber = false) {
  auto it = obj.find(name);
  if (it == obj.end()) return false;
  if (it->is_string()) {
    out = it->get<std::string>();
    return true;
  }
  if (allowNumber && it->is_number_integer()) {
    out = std::to_string(it->get<int64_t>());
    return true;
  }
  return false;
}

}  // namespace

const ContainerInfo* TaskMetadata::container(std::string_view dockerId) const {
  for (const auto& c : containers)
    if (c.dockerId == dockerId) return &c;
  return nullptr;
}

std::string clusterName(std::string_view v) {
  // Cluster ARNs are arn:<partition>:ecs:<region>:<account>:cluster/<name>.
  if (v.substr(0, 4) == "arn:") {
    size_t slash = v.find(":cluster/");
    if (slash != std::string_view::npos) return std::string(v.substr(slash + 9));
  }
  return std::string(v);
}

Result<TaskMetadata> parseTaskMetadata(std::string_view json) {
  auto doc = nlohmann::json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return Status::error("task metadata is not a JSON object");
  TaskMetadata t;
  std::string cluster;
  if (!textMember(doc, "Cluster", cluster) || cluster.empty())
    return Status::error("task metadata has no string 'Cluster'");
  t.cluster = clusterName(cluster);
  if (!textMember(doc, "TaskARN", t.taskArn) || t.taskArn.empty())
    return Status::error("task metadata has no string 'TaskARN'");
  if (!textMember(doc, "Family", t.family)) return Status::error("task metadata has no string 'Family'");
  if (!textMember(doc, "Revision", t.revision, true)) return Status::error("task metadata has no 'Revision'");
  size_t slash = t.taskArn.rfind('/');
  t.taskId = slash == std::string::npos ? t.taskArn : t.taskArn.substr(slash + 1);
  textMember(doc, "AvailabilityZone", t.availabilityZone);
  textMember(doc, "LaunchType", t.launchType);
  textMember(doc, "ServiceName", t.serviceName);
  auto cs = doc.find("Containers");
  if (cs != doc.end() && cs->is_array()) {
    for (const auto& c : *cs) {
      if (!c.is_object()) continue;
      ContainerInfo ci;
      if (!textMember(c, "DockerId", ci.dockerId) || ci.dockerId.empty()) continue;
      textMember(c, "Name", ci.name);
      textMember(c, "Image", ci.image);
      t.containers.push_back(std::move(ci));
    }
  }
  return t;
}

Result<ValueTemplate> ValueTemplate::parse(std::string_view text) {
  ValueTemplate t;
  t.text_ = std::string(text);
  size_t i = 0;
  auto literal = [&](std::string_view s) {
    if (s.empty()) return;
    if (t.parts_.empty() || t.parts_.back().var != Var::Literal) t.parts_.push_back(Part{});
    t.parts_.back().literal += s;
  };
  while (i < text.size()) {
    size_t dollar = text.find('$', i);
    if (dollar == std::string_view::npos) {
      literal(text.substr(i));
      break;
    }
    literal(text.substr(i, dollar - i));
    size_t end = dollar + 1;
    while (end < text.size() && (isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_')) ++end;
    std::string_view name = text.substr(dollar + 1, end - dollar - 1);
    if (name.empty()) {
      literal("$");
      i = dollar + 1;
      continue;
    }
    const VarName* found = nullptr;
    for (const auto& v : kVars)
      if (v.name.size() == name.size() && strncasecmp(v.name.data(), name.data(), name.size()) == 0) found = &v;
    if (!found) {
      std::string known;
      for (const auto& v : kVars) known += (known.empty() ? "$" : ", $") + std::string(v.name);
      return Status::error("unknown variable '$" + std::string(name) + "' (known: " + known + ")");
    }
    t.parts_.push_back(Part{found->var, {}});
    t.usesContainer_ = t.usesContainer_ || isContainerVar(found->var);
    i = end;
  }
  return t;
}

bool ValueTemplate::render(const TaskMetadata& task, const ContainerInfo* c, std::string& out) const {
  out.clear();
  for (const Part& p : parts_) {
    const std::string* v = nullptr;
    switch (p.var) {
      case Var::Literal: out += p.literal; continue;
      case Var::ClusterName: v = &task.cluster; break;
      case Var::TaskArn: v = &task.taskArn; break;
      case Var::TaskId: v = &task.taskId; break;
      case Var::Family: v = &task.family; break;
      case Var::Revision: v = &task.revision; break;
      case Var::TaskDefinition:
        out += task.family;
        out += ':';
        out += task.revision;
        continue;
      case Var::AvailabilityZone: v = &task.availabilityZone; break;
      case Var::LaunchType: v = &task.launchType; break;
      case Var::ServiceName: v = &task.serviceName; break;
      case Var::ContainerId: v = c ? &c->dockerId : nullptr; break;
      case Var::ContainerName: v = c ? &c->name : nullptr; break;
      case Var::ContainerImage: v = c ? &c->image : nullptr; break;
    }
    if (!v || v->empty()) return false;
    out += *v;
  }
  return true;
}

std::vector<FieldSpec> fireLensFields() {
  std::vector<FieldSpec> f;
  for (auto [k, v] : {std::pair{"ecs_cluster", "$ClusterName"}, std::pair{"ecs_task_arn", "$TaskARN"},
                      std::pair{"ecs_task_definition", "$TaskDefinitionFamily:$TaskDefinitionVersion"}}) {
    f.push_back(FieldSpec{k, *ValueTemplate::parse(v)});
  }
  return f;
}

ExtraFieldsRef buildExtra(const std::vector<FieldSpec>& fields, const TaskMetadata& task,
                          const ContainerInfo* container) {
  auto extra = std::make_shared<ExtraFields>();
  codec::MsgpackWriter w(extra->kv);
  std::string value;
  for (const auto& f : fields) {
    if (!f.value.render(task, container, value)) continue;
    w.str(f.key);
    w.str(value);
    ++extra->count;
  }
  return extra;
}

Result<MetadataEndpoint> parseEndpoint(std::string_view uri) {
  constexpr std::string_view kScheme = "http://";
  if (uri.substr(0, kScheme.size()) != kScheme) return Status::error("expected an http:// URI");
  std::string_view rest = uri.substr(kScheme.size());
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  MetadataEndpoint e;
  if (slash != std::string_view::npos) e.path = std::string(rest.substr(slash));
  while (!e.path.empty() && e.path.back() == '/') e.path.pop_back();
  std::string_view portText;
  bool hasPort = false;
  if (!authority.empty() && authority.front() == '[') {  // [::1]:port
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status::error("unterminated '[' in the host");
    e.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Status::error("unexpected text after the host");
      hasPort = true;
      portText = after.substr(1);
    }
  } else {
    size_t colon = authority.find(':');
    e.host = std::string(authority.substr(0, colon));
    hasPort = colon != std::string_view::npos;
    if (hasPort) portText = authority.substr(colon + 1);
  }
  if (e.host.empty()) return Status::error("no host");
  if (hasPort) {
    unsigned long p = 0;
    for (char ch : portText) {
      if (ch < '0' || ch > '9' || p > 65535) return Status::error("invalid port");
      p = p * 10 + static_cast<unsigned long>(ch - '0');
    }
    if (portText.empty() || p == 0 || p > 65535) return Status::error("invalid port");
    e.port = static_cast<uint16_t>(p);
  }
  return e;
}

}  // namespace firelane::filters::ecs
