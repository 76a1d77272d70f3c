// Subcommand registration for the boundseg CLI.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include "boundseg/core/error.h"

namespace boundseg::cli {

/// A usage error found after parsing (missing or contradictory options): exit code 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

/// Throws UsageError unless `condition` holds (message as boundseg::fail).
inline void require_usage(bool condition, const std::string& what, const std::string& argument,
                          const std::string& requirement, const std::string& actual) {
  if (!condition) throw UsageError(error_message(what, argument, requirement, actual));
}

/// A registered subcommand and the action to run once it is parsed.
struct Command {
  CLI::App* app;
  std::function<int()> run;
};

Command add_eval(CLI::App& app);
Command add_demo(CLI::App& app);
Command add_synth(CLI::App& app);
Command add_convert(CLI::App& app);
Command add_infer(CLI::App& app);
Command add_export(CLI::App& app);

}  // namespace boundseg::cli
