// Subcommand registration for the boundseg CLI.
#pragma once

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <vector>
#include <functional>
#include <sstream>
#include <utility>
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

/// "HxW" -> (h, w), both positive; empty -> (0, 0). Anything else is a UsageError of `what` naming `option`.
inline std::pair<int64_t, int64_t> parse_hw(const std::string& text, const std::string& what, const char* option) {
  if (text.empty()) return {0, 0};
  int64_t h = 0, w = 0;
  char x = 0;
  std::istringstream in(text);
  in >> h >> x >> w;
  require_usage(in && in.peek() == EOF && x == 'x' && h > 0 && w > 0, what, option, "be HxW with positive sides",
                "'" + text + "'");
  return {h, w};
}

/// The .png/.jpg/.jpeg images named by `inputs` (files, or directories searched recursively), sorted; errors name
/// `what` (the subcommand) and --images.
std::vector<std::filesystem::path> list_images(const std::vector<std::string>& inputs, const std::string& what);

/// Inputs are never overwritten: `out` must not be, or lie inside, any of `input_dirs`; no two inputs may map to
/// the same target; no target may be an input file. Checked before anything is written (UsageError).
inline void require_safe_outputs(const std::string& what, const std::filesystem::path& out,
                                 const std::vector<std::filesystem::path>& input_dirs,
                                 const std::vector<std::filesystem::path>& inputs,
                                 const std::vector<std::filesystem::path>& targets) {
  namespace fs = std::filesystem;
  const fs::path out_dir = fs::weakly_canonical(out);
  for (const auto& dir : input_dirs) {
    const fs::path in_dir = fs::weakly_canonical(dir);
    const auto rel = out_dir.lexically_relative(in_dir);
    require_usage(rel.empty() || *rel.begin() == "..", what, "--out '" + out.string() + "'",
                  "lie outside the input folder '" + dir.string() + "' (inputs are never overwritten)",
                  "a folder inside it");
  }
  std::vector<fs::path> seen;
  for (const auto& t : targets) seen.push_back(fs::weakly_canonical(t));
  std::vector<fs::path> sorted = seen;
  std::sort(sorted.begin(), sorted.end());
  const auto twin = std::adjacent_find(sorted.begin(), sorted.end());
  require_usage(twin == sorted.end(), what, "the inputs", "map to distinct output names",
                twin == sorted.end() ? "" : "two inputs writing " + twin->string());
  for (const auto& input : inputs) {
    const fs::path canonical = fs::weakly_canonical(input);
    require_usage(std::find(seen.begin(), seen.end(), canonical) == seen.end(), what, "--out '" + out.string() + "'",
                  "differ from the input files (inputs are never overwritten)", canonical.string());
  }
}

/// Runs `check` (a library validate() of options filled from flags); its errors become usage errors (exit 2).
template <typename Check>
void check_flags(Check&& check) {
  try {
    check();
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
}

/// A registered subcommand and the action to run once it is parsed.
struct Command {
  CLI::App* app;
  std::function<int()> run;
};
/// Registers a command under `parent` (each lives in its own cmd_*.cpp file).
using CommandFactory = Command (*)(CLI::App& parent);

/// A parent command ("refine", "scribbles"): its children register themselves from their own files, exactly one
/// must be given, and running the parent runs the child that was parsed. --help works at every level.
Command add_group(CLI::App& parent, const std::string& name, const std::string& description,
                  const std::vector<CommandFactory>& children);

/// The exit code of the parsed command among `commands` (2 when none was parsed).
int run_parsed(const std::vector<Command>& commands);

// Top-level commands (main.cpp registers them in this order).
Command add_eval(CLI::App& app);
Command add_demo(CLI::App& app);
Command add_synth(CLI::App& app);
Command add_convert(CLI::App& app);
Command add_infer(CLI::App& app);
Command add_export(CLI::App& app);
Command add_train(CLI::App& app);
Command add_refine(CLI::App& app);
Command add_scribbles(CLI::App& app);

// Children of `refine` (cmd_refine.cpp lists them).
Command add_refine_crf(CLI::App& refine);

// Children of `scribbles`.
Command add_scribbles_convert(CLI::App& scribbles);
Command add_scribbles_generate(CLI::App& scribbles);

}  // namespace boundseg::cli
