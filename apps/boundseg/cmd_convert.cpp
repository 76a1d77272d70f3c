// `boundseg convert`: an upstream .pth checkpoint -> boundseg weights (safetensors + JSON side-car), by running
// tools/convert_checkpoint.py with a Python that has torch (formats.md §7.3: convert once, load safetensors).
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "boundseg/core/error.h"
#include "commands.h"

extern char** environ;

namespace boundseg::cli {
namespace {
namespace fs = std::filesystem;

constexpr const char* kScriptName = "convert_checkpoint.py";

/// Debian's interpreter: python3-torch installs torch for it (a pyenv or venv python usually lacks torch).
constexpr const char* kDefaultPython = "/usr/bin/python3";

struct ConvertArgs {
  std::string input, output, arch, classes, palette, normalisation, source, python;
  int64_t num_classes = 0;
  bool keep_prefix = false, quiet = false;
};

/// Where tools/convert_checkpoint.py may be, in order. BOUNDSEG_TOOLS_DIR, when set, is the only candidate (an
/// explicit choice must not silently fall back to another copy); otherwise the source tree the binary was built from
/// (BOUNDSEG_SOURCE_DIR), then paths relative to the executable (build folder inside the source tree, installed tree).
std::vector<fs::path> script_candidates() {
  if (const char* dir = std::getenv("BOUNDSEG_TOOLS_DIR"); dir != nullptr && *dir != '\0') {
    return {fs::path(dir) / kScriptName};
  }
  std::vector<fs::path> candidates;
#ifdef BOUNDSEG_SOURCE_DIR
  candidates.push_back(fs::path(BOUNDSEG_SOURCE_DIR) / "tools" / kScriptName);
#endif
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path prefix = exe.parent_path().parent_path();
    candidates.push_back(prefix / "tools" / kScriptName);                          // <source>/build/boundseg
    candidates.push_back(prefix / "share" / "boundseg" / "tools" / kScriptName);  // <prefix>/bin/boundseg
  }
  return candidates;
}

fs::path find_script() {
  const std::vector<fs::path> candidates = script_candidates();
  std::string tried;
  for (const fs::path& candidate : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return candidate;
    tried += (tried.empty() ? "'" : ", '") + candidate.string() + "'";
  }
  fail("convert", "the converter script tools/" + std::string(kScriptName),
       "exist (set BOUNDSEG_TOOLS_DIR to the folder holding it)",
       tried.empty() ? std::string("no candidate location") : "nothing at " + tried);
}

/// The interpreter's command line: options as --name=value (values may start with '-'), then "--" and the two
/// paths, so that no argument is ever read as an option or passed through a shell.
std::vector<std::string> converter_argv(const ConvertArgs& a, const fs::path& script) {
  std::vector<std::string> argv = {a.python, "-B", script.string()};  // -B: no __pycache__ in the tools folder
  const auto option = [&argv](const char* name, const std::string& value) {
    if (!value.empty()) argv.push_back(std::string(name) + "=" + value);
  };
  option("--arch", a.arch);
  if (a.num_classes > 0) option("--num-classes", std::to_string(a.num_classes));
  option("--classes", a.classes);
  option("--palette", a.palette);
  option("--normalisation", a.normalisation);
  option("--source", a.source);
  if (a.keep_prefix) argv.emplace_back("--keep-prefix");
  if (a.quiet) argv.emplace_back("--quiet");
  argv.emplace_back("--");
  argv.push_back(a.input);
  argv.push_back(a.output);
  return argv;
}

/// Runs argv[0] (searched in PATH when it has no '/') with the current environment and waits for it. Returns its
/// exit status; a child killed by a signal counts as a runtime failure (1).
int run_process(std::vector<std::string> argv) {
  std::vector<char*> c_argv;
  c_argv.reserve(argv.size() + 1);
  for (std::string& arg : argv) c_argv.push_back(arg.data());
  c_argv.push_back(nullptr);

  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = 0;
  const int spawn_error = posix_spawnp(&pid, c_argv[0], nullptr, nullptr, c_argv.data(), environ);
  if (spawn_error != 0) {
    fail("convert", "--python '" + argv[0] + "'",
         "be a Python 3 interpreter with torch (Debian: apt-get install python3-torch)",
         std::string("a program that cannot be started (") + std::strerror(spawn_error) + ")");
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      fail("convert", "the converter process", "be waited for", std::string("an error (") + std::strerror(errno) + ")");
    }
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    const int signal_number = WTERMSIG(status);
    std::fprintf(stderr, "boundseg convert: the converter must run to completion, but got signal %d (%s).\n",
                 signal_number, strsignal(signal_number));
  }
  return 1;
}

int run_convert(const ConvertArgs& a) {
  const fs::path script = find_script();
  return run_process(converter_argv(a, script));
}

}  // namespace

Command add_convert(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  const char* env_python = std::getenv("BOUNDSEG_PYTHON");
  args->python = env_python != nullptr && *env_python != '\0' ? env_python : kDefaultPython;
  CLI::App* cmd = app.add_subcommand(
      "convert",
      "Convert a PyTorch checkpoint (openseg, mmseg/BPR, detectron2, InverseForm .pth) into boundseg weights: "
      "OUTPUT.safetensors plus a JSON side-car (runs tools/convert_checkpoint.py with python3-torch)");
  cmd->add_option("input", args->input, "Checkpoint to read (.pth/.pt/.pkl; zip or legacy torch.save)")->required();
  cmd->add_option("output", args->output, "Weights to write, ending in .safetensors (side-car: same name, .json)")
      ->required();
  cmd->add_option("--arch", args->arch, "Architecture name (default: detected from the key names)");
  cmd->add_option("--num-classes", args->num_classes, "Number of classes (default: from the classifier weights)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--classes", args->classes, "Class names: cityscapes, voc, a JSON list, or a JSON file");
  cmd->add_option("--palette", args->palette, "Built-in palette recorded with the weights")
      ->check(CLI::IsMember({"cityscapes", "ade20k", "voc"}));
  cmd->add_option("--normalisation", args->normalisation,
                  "Input normalisation convention (default: by family, bgr_with_rgb_stats for openseg, rgb for mmseg)");
  cmd->add_option("--source", args->source, "Where the checkpoint comes from (default: the input file name)");
  cmd->add_flag("--keep-prefix", args->keep_prefix, "Keep 'module.' / 'model.' key prefixes");
  cmd->add_flag("--quiet", args->quiet, "Print nothing on success");
  cmd->add_option("--python", args->python,
                  "Python 3 with torch that runs the converter (default: $BOUNDSEG_PYTHON, else /usr/bin/python3)")
      ->capture_default_str();
  cmd->footer(
      "Exit status: 0 converted, 1 the checkpoint cannot be converted, 2 usage error. The converter script is found "
      "via $BOUNDSEG_TOOLS_DIR, else the source tree boundseg was built from.");
  return {cmd, [args] { return run_convert(*args); }};
}

}  // namespace boundseg::cli
