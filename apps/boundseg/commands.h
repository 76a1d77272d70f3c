// Subcommand registration for the boundseg CLI.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace boundseg::cli {

/// A registered subcommand and the action to run once it is parsed.
struct Command {
  CLI::App* app;
  std::function<int()> run;
};

Command add_eval(CLI::App& app);
Command add_demo(CLI::App& app);
Command add_synth(CLI::App& app);

}  // namespace boundseg::cli
