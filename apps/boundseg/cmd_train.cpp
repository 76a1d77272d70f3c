// `boundseg train CONFIG.yaml [--set key=value ...] [--work-dir DIR] [--resume] [--nproc N]`.
#include <ATen/Parallel.h>

#include <cstdio>
#include <memory>

#include "boundseg/config/train_config.h"
#include "boundseg/train/distributed.h"
#include "boundseg/train/trainer.h"
#include "commands.h"

namespace boundseg::cli {
namespace {
namespace fs = std::filesystem;

struct TrainArgs {
  std::string config, work_dir;
  std::vector<std::string> overrides;
  bool resume = false, quiet = false;
  int64_t nproc = 1;
};

int run_train(const TrainArgs& a) {
  // Config errors are usage errors (exit 2) and stop everything before any process or file is made.
  train::TrainSpec spec;
  check_flags([&] { spec = config::load_train_config(a.config, a.overrides); });
  const fs::path work_dir = a.work_dir.empty() ? fs::path("work_dirs") / fs::path(a.config).stem() : fs::path(a.work_dir);
  const train::DistributedEnv env = train::DistributedEnv::from_environment();

  if (a.nproc > 1 && env.world_size == 1) {
    // The workers re-read the config; each gets an equal share of the cores.
    std::vector<std::string> args = {"--threads", std::to_string(std::max(1, at::get_num_threads() / int(a.nproc))),
                                     "train", a.config, "--work-dir", work_dir.string()};
    for (const std::string& o : a.overrides) {
      args.push_back("--set");
      args.push_back(o);
    }
    if (a.resume) args.push_back("--resume");
    if (a.quiet) args.push_back("--quiet");
    std::fprintf(stderr, "Starting %lld local workers (c10d, Gloo)\n", static_cast<long long>(a.nproc));
    return train::spawn_local_workers(a.nproc, args);
  }

  train::TrainerOptions options;
  options.work_dir = work_dir;
  options.resume = a.resume;
  options.progress = !a.quiet;
  options.config_text = config::to_yaml(spec);
  if (env.world_size > 1) options.group = std::make_shared<train::ProcessGroup>(env);
  const train::TrainResult result = train::train(spec, options);
  if (env.rank == 0) {
    std::printf("Trained iterations %lld..%lld; weights: %s (model config %s)\n",
                static_cast<long long>(result.start_iteration), static_cast<long long>(result.end_iteration),
                result.weights.c_str(), (work_dir / "model.json").c_str());
    for (const auto& [name, value] : result.validation) std::printf("val %s: %.2f %%\n", name.c_str(), 100 * value);
  }
  return 0;
}

}  // namespace

Command add_train(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "Train a segmentation network from a YAML config (docs/CONFIG.md)");
  cmd->add_option("config", args->config, "YAML config (with optional _base_ files)")->required();
  cmd->add_option("--set", args->overrides, "Override a key: --set optimizer.lr=0.02 (repeatable)");
  cmd->add_option("--work-dir", args->work_dir, "Output folder (default: work_dirs/<config name>)");
  cmd->add_flag("--resume", args->resume, "Continue from the newest checkpoint in the work dir");
  cmd->add_option("--nproc", args->nproc, "Local data-parallel worker processes (c10d Gloo)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_flag("--quiet", args->quiet, "No progress bars");
  return {cmd, [args] { return run_train(*args); }};
}

}  // namespace boundseg::cli
