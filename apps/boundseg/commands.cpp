// Command groups and dispatch.
#include "commands.h"

namespace boundseg::cli {

Command add_group(CLI::App& parent, const std::string& name, const std::string& description,
                  const std::vector<CommandFactory>& children) {
  CLI::App* group = parent.add_subcommand(name, description);
  group->require_subcommand(1);
  std::vector<Command> registered;
  for (CommandFactory add : children) registered.push_back(add(*group));
  return {group, [registered] { return run_parsed(registered); }};
}

int run_parsed(const std::vector<Command>& commands) {
  for (const Command& command : commands) {
    if (command.app->parsed()) return command.run();
  }
  return 2;
}

}  // namespace boundseg::cli
