// Explicit registration (no static initialisers: a static library would drop them).
#include "core/app/builtin_plugins.h"

#include "inputs/dummy/dummy.h"
#include "inputs/forward/forward_config.h"
#include "inputs/stdin/stdin_input.h"
#include "outputs/null/null_output.h"
#include "outputs/stdout/stdout_output.h"

namespace firelane {

void registerBuiltinPlugins(Registry& registry) {
  inputs::forward::registerPlugin(registry);
  inputs::stdin_input::registerPlugin(registry);
  inputs::dummy::registerPlugin(registry);
  outputs::stdout_output::registerPlugin(registry);
  outputs::null_output::registerPlugin(registry);
}

}  // namespace firelane
