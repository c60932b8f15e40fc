// Explicit registration (no static initialisers: a static library would drop them).
#include "core/app/builtin_plugins.h"

#include "filters/ecs/ecs_config.h"
#include "filters/grep/grep.h"
#include "filters/modify/modify.h"
#include "filters/multiline/multiline.h"
#include "filters/parser/parser.h"
#include "filters/record_modifier/record_modifier.h"
#include "filters/rewrite_tag/rewrite_tag.h"
#include "inputs/dummy/dummy.h"
#include "inputs/forward/forward_config.h"
#include "inputs/proc/proc.h"
#include "inputs/stdin/stdin_input.h"
#include "inputs/tcp/tcp_config.h"
#include "outputs/cloudwatch_logs/cloudwatch_logs_config.h"
#include "outputs/datadog/datadog_config.h"
#include "outputs/forward/forward_config.h"
#include "outputs/http/http_config.h"
#include "outputs/null/null_output.h"
#include "outputs/stdout/stdout_output.h"

namespace firelane {

void registerBuiltinPlugins(Registry& registry) {
  inputs::forward::registerPlugin(registry);
  inputs::stdin_input::registerPlugin(registry);
  inputs::dummy::registerPlugin(registry);
  inputs::proc::registerPlugin(registry);
  inputs::tcp::registerPlugin(registry);
  filters::ecs::registerPlugin(registry);
  filters::grep::registerPlugin(registry);
  filters::modify::registerPlugin(registry);
  filters::record_modifier::registerPlugin(registry);
  filters::rewrite_tag::registerPlugin(registry);
  filters::parser::registerPlugin(registry);
  filters::multiline::registerPlugin(registry);
  outputs::stdout_output::registerPlugin(registry);
  outputs::null_output::registerPlugin(registry);
  outputs::cloudwatch_logs::registerPlugin(registry);
  outputs::datadog::registerPlugin(registry);
  outputs::forward::registerPlugin(registry);
  outputs::http_output::registerPlugin(registry);
}

}  // namespace firelane
