// `boundseg demo` (synthetic data -> full evaluation -> table, JSON, picture)
// and `boundseg synth` (the synthetic Cityscapes tree alone).
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "boundseg/core/error.h"
#include "boundseg/data/synthetic.h"
#include "boundseg/io/atomic_file.h"
#include "boundseg/io/png.h"
#include "boundseg/metrics/evaluator.h"
#include "boundseg/ops/boundary.h"
#include "boundseg/viz/render.h"
#include "commands.h"

namespace boundseg::cli {
namespace {
namespace fs = std::filesystem;

struct Size2 {
  int height = 0, width = 0;
};

Size2 parse_size(const std::string& text) {
  Size2 s;
  char x = 0;
  std::istringstream in(text);
  in >> s.height >> x >> s.width;
  require(in && !in.rdbuf()->in_avail() && x == 'x' && s.height >= 16 && s.width >= 16, "synth", "--size",
          "be HxW with both sides >= 16 (e.g. 512x1024)", [&] { return "'" + text + "'"; });
  return s;
}

struct DemoArgs {
  std::string out = "boundseg-demo", size = "512x1024";
  int images = 6;
  uint64_t seed = 0;
  bool quiet = false;
};

int run_demo(const DemoArgs& a) {
  const Size2 size = parse_size(a.size);
  const fs::path root = a.out;
  std::fprintf(stderr, "Generating %d synthetic %dx%d scenes in %s\n", a.images, size.height, size.width,
               root.c_str());
  const auto stems = data::write_synthetic_cityscapes(root, a.images, size.height, size.width, a.seed, !a.quiet);

  metrics::DiscoverOptions d;
  d.gt_dir = root / "gtFine";
  d.pred_dir = root / "pred" / "semantic";
  d.instance_dir = root / "pred" / "instances";
  metrics::EvalOptions o;
  o.instance_ap = true;
  o.progress = !a.quiet;
  const metrics::EvalResult result = metrics::evaluate(metrics::discover_samples(d), o);
  std::fputs(metrics::format_table(result).c_str(), stdout);
  io::write_file_atomic(root / "results.json", metrics::to_json(result).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");

  // The picture: first scene, GT | prediction | where the boundaries go wrong.
  const std::string city = stems.front().substr(0, stems.front().find('_'));
  const cv::Mat gt = io::read_label_png(root / "gtFine" / "val" / city / (stems.front() + "_gtFine_labelIds.png"));
  const cv::Mat pred = io::read_label_png(root / "pred" / "semantic" / (stems.front() + "_leftImg8bit.png"));
  const int64_t d_pixels = ops::boundary_band_width(0.005, gt.rows, gt.cols);
  const cv::Mat picture = viz::side_by_side(
      {viz::colorize_cityscapes_label_ids(gt), viz::colorize_cityscapes_label_ids(pred),
       viz::boundary_error_map(gt, pred, d_pixels)},
      {"ground truth", "prediction",
       "errors: red = within " + std::to_string(d_pixels) + " px of a boundary, yellow = elsewhere"});
  io::write_png(root / "boundary_errors.png", picture);
  std::printf("\nWrote %s (metrics) and %s (boundary errors of %s)\n", (root / "results.json").c_str(),
              (root / "boundary_errors.png").c_str(), stems.front().c_str());
  return 0;
}

struct SynthArgs {
  std::string out, size = "1024x2048", split = "val";
  int count = 20;
  uint64_t seed = 0;
};

}  // namespace

Command add_demo(CLI::App& app) {
  auto args = std::make_shared<DemoArgs>();
  CLI::App* cmd = app.add_subcommand("demo", "Generate a synthetic Cityscapes-style set, evaluate it, draw its boundary errors");
  cmd->add_option("--out", args->out, "Output directory")->capture_default_str();
  cmd->add_option("--images", args->images, "Number of scenes")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--size", args->size, "Scene size HxW")->capture_default_str();
  cmd->add_option("--seed", args->seed, "Random seed")->capture_default_str();
  cmd->add_flag("--quiet", args->quiet, "No progress bars");
  return {cmd, [args] { return run_demo(*args); }};
}

Command add_synth(CLI::App& app) {
  auto args = std::make_shared<SynthArgs>();
  CLI::App* cmd = app.add_subcommand("synth", "Write synthetic Cityscapes-style scenes with imperfect predictions");
  cmd->add_option("--out", args->out, "Output directory")->required();
  cmd->add_option("--n", args->count, "Number of scenes")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--size", args->size, "Scene size HxW")->capture_default_str();
  cmd->add_option("--seed", args->seed, "Random seed")->capture_default_str();
  cmd->add_option("--split", args->split, "Split folder (val also gets imperfect predictions)")->capture_default_str();
  return {cmd, [args] {
            const Size2 s = parse_size(args->size);
            data::write_synthetic_cityscapes(args->out, args->count, s.height, s.width, args->seed, true, args->split);
            return 0;
          }};
}

}  // namespace boundseg::cli
