// boundseg: the command-line tool. Exit codes: 0 ok, 1 runtime failure
// (bad input data included), 2 usage error.
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <thread>
#include <vector>

#include "boundseg/core/error.h"
#include "commands.h"

int main(int argc, char** argv) {
  // Per-image buffers are large: keep freed memory in the process instead of
  // returning it to the kernel and faulting it back in for the next image.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  CLI::App app{"boundseg: segmentation boundaries done right (evaluation, boundary ops, refinement)"};
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads, "Worker threads (default: all cores)")->check(CLI::NonNegativeNumber);
  namespace cli = boundseg::cli;
  std::vector<cli::Command> commands;
  for (cli::CommandFactory add : {cli::add_eval, cli::add_demo, cli::add_synth, cli::add_convert, cli::add_infer,
                                  cli::add_export, cli::add_train, cli::add_refine, cli::add_scribbles}) {
    commands.push_back(add(app));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  // LibTorch's own default counts physical cores (1 on a 2-vCPU machine); "all cores" means every logical CPU.
  at::set_num_threads(threads > 0 ? threads : std::max(1, int(std::thread::hardware_concurrency())));
  try {
    return cli::run_parsed(commands);
  } catch (const boundseg::cli::UsageError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  } catch (const boundseg::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "%s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "boundseg: %s\n", e.what());
    return 1;
  }
  return 2;
}
