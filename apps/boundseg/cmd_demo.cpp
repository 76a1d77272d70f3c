// `boundseg demo` (synthetic data -> full evaluation -> table, JSON, picture)
// and `boundseg synth` (the synthetic Cityscapes tree alone).
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include <torch/utils.h>

#include <chrono>

#include "boundseg/config/train_config.h"
#include "boundseg/core/error.h"
#include "boundseg/io/cityscapes_labels.h"
#include "boundseg/io/safetensors.h"
#include "boundseg/losses/loss.h"
#include "boundseg/models/zoo.h"
#include "boundseg/train/trainer.h"
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
  int train_iters = 300, train_images = 48;
};

// Label-id PNGs and overlays of `network` on the val split, then the full evaluator on them.
metrics::EvalResult evaluate_network(const models::Network& network, const data::SegmentationDataset& val,
                                     const fs::path& dir, bool quiet) {
  const auto& to_id = cityscapes::train_id_to_id();
  train::validate(network, val, 19, 255, 0.02, !quiet,
                  [&](int64_t i, const cv::Mat& image, const cv::Mat&, const cv::Mat& pred) {
                    cv::Mat ids(pred.size(), CV_8U);
                    for (int y = 0; y < pred.rows; ++y) {
                      for (int x = 0; x < pred.cols; ++x) ids.at<uint8_t>(y, x) = uint8_t(to_id[pred.at<uint8_t>(y, x)]);
                    }
                    io::write_png(dir / "semantic" / (val.samples[i].name + "_leftImg8bit.png"), ids);
                    io::write_png(dir / "overlays" / (val.samples[i].name + ".png"), viz::overlay_labels(image, pred, 19));
                  });
  metrics::DiscoverOptions d;
  d.gt_dir = fs::path(val.samples.front().label).parent_path().parent_path();
  d.pred_dir = dir / "semantic";
  metrics::EvalOptions o;
  o.progress = !quiet;
  return metrics::evaluate(metrics::discover_samples(d), o);
}

// Train hrnet_tiny_ocr on a synthetic train split; compare it with its untrained self on the val split.
void train_and_report(const DemoArgs& a, const Size2& size, const fs::path& root) {
  std::fprintf(stderr, "\nGenerating %d synthetic training scenes\n", a.train_images);
  data::write_synthetic_cityscapes(root, a.train_images, size.height, size.width, a.seed, !a.quiet, "train");
  train::TrainSpec c;
  c.model.arch = "hrnet_tiny_ocr";
  c.data.train = {"cityscapes", root.string(), "train"};
  c.data.val = {"cityscapes", root.string(), "val"};
  c.data.has_val = true;
  c.data.loader.batch_size = 4;
  c.data.loader.workers = 2;
  data::AugmentOptions& augment = c.data.loader.augment;
  augment.crop_height = std::min(256, size.height);
  augment.crop_width = std::min(256, size.width);
  augment.scale_min = 0.5;
  augment.scale_max = 1.0;
  c.optimizer.type = "adamw";
  c.optimizer.lr = 0.003;
  c.optimizer.weight_decay = 0.01;
  c.schedule.iters = a.train_iters;
  c.schedule.warmup_iters = std::min(20, a.train_iters - 1);
  // CE on the main output and 0.4 CE on OCR's soft-region logits (openseg's recipe).
  const losses::LossContext context = train::loss_context(c.data);
  c.losses = {losses::make_loss_term("ce", context), losses::make_loss_term("ce", context, 0.4, {{"output", "aux"}})};
  c.run.seed = int64_t(a.seed);
  c.run.log_interval = 10;
  c.run.checkpoint_interval = 100;

  train::TrainerOptions options;
  options.work_dir = root / "train";
  options.progress = !a.quiet;
  options.config_text = config::to_yaml(c);
  const auto start = std::chrono::steady_clock::now();
  std::fprintf(stderr, "Training %s for %d iterations (config: %s)\n", c.model.arch.c_str(), a.train_iters,
               (options.work_dir / "config.yaml").c_str());
  const train::TrainResult trained = train::train(c, options);
  const double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60;

  const data::SegmentationDataset val = data::open_dataset(c.data.val, "data.val");
  torch::manual_seed(uint64_t(c.run.seed));
  models::ModelConfig untrained_config;
  untrained_config.arch = c.model.arch;
  untrained_config.num_classes = 19;
  const models::Network untrained = models::build_network(untrained_config);
  const models::Network network =
      models::load_network(models::model_config((options.work_dir / "model.json").string()),
                           io::read_safetensors(trained.weights).tensors);
  const metrics::EvalResult before = evaluate_network(untrained, val, root / "untrained", a.quiet);
  const metrics::EvalResult after = evaluate_network(network, val, root / "trained", a.quiet);

  auto row = [](const char* name, const metrics::EvalResult& r) {
    char line[256];
    std::snprintf(line, sizeof(line), "| %s | %.1f | %.1f | %.1f |\n", name, 100 * r.miou,
                  100 * metrics::nan_mean(r.boundary_iou[0].data(), int64_t(r.boundary_iou[0].size())),
                  100 * metrics::nan_mean(r.boundary_f.back().data(), int64_t(r.boundary_f.back().size())));
    return std::string(line);
  };
  std::ostringstream report;
  report << "# boundseg demo: training on synthetic scenes\n\n"
         << a.train_iters << " iterations of " << c.model.arch << " (batch 4, " << augment.crop_height << "x"
         << augment.crop_width << " crops, AdamW) on " << a.train_images << " scenes in "
         << std::to_string(minutes).substr(0, 4) << " min; evaluated on the " << val.size() << " val scenes ("
         << size.height << "x" << size.width << ", Cityscapes protocol).\n\n"
         << "| model | mIoU % | Boundary IoU % (0.02) | boundary F % (0.005) |\n|---|---|---|---|\n"
         << row("untrained (same initialisation)", before) << row("trained", after)
         << "\nPredictions: `trained/semantic/`, overlays: `trained/overlays/`, logs: `train/metrics.jsonl`, "
            "TensorBoard: `train/tensorboard/`, weights: `train/model.safetensors` + `train/model.json`.\n";
  io::write_file_atomic(root / "report.md", report.str());
  std::printf("\n%s", report.str().c_str());
}

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
  if (a.train_iters > 0) train_and_report(a, size, root);
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
  CLI::App* cmd = app.add_subcommand(
      "demo", "Synthetic Cityscapes-style scenes: evaluate imperfect predictions, then train a small model and report");
  cmd->add_option("--out", args->out, "Output directory")->capture_default_str();
  cmd->add_option("--images", args->images, "Number of scenes")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--size", args->size, "Scene size HxW")->capture_default_str();
  cmd->add_option("--seed", args->seed, "Random seed")->capture_default_str();
  cmd->add_option("--train-iters", args->train_iters, "Training iterations of the demo model (0 = evaluation only)")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  cmd->add_option("--train-images", args->train_images, "Synthetic training scenes")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
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
