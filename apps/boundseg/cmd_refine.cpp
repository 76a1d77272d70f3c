// `boundseg refine crf`: DenseCRF mean-field refinement of any model's probabilities or label maps.
#include <ATen/ATen.h>

#include <cstdio>
#include <cstdlib>

#include "boundseg/core/error.h"
#include "boundseg/core/progress.h"
#include "boundseg/data/transforms.h"
#include "boundseg/io/png.h"
#include "boundseg/io/safetensors.h"
#include "boundseg/refine/dense_crf.h"
#include "commands.h"

namespace boundseg::cli {
namespace {
namespace fs = std::filesystem;

struct CrfArgs {
  std::vector<std::string> images;
  std::string inputs, out, preset = "pydensecrf";
  int64_t num_classes = 0, iterations = 0, ignore_index = 255;
  double confidence = 0.7;
  double gaussian_sigma_xy = 0, gaussian_weight = -1, bilateral_sigma_xy = 0, bilateral_sigma_rgb = 0,
         bilateral_weight = -1;
  bool quiet = false;
};

// The unary probabilities of `image_path`: <stem>.safetensors (one (K, H, W) float tensor, or "probs") or a label
// map <stem>.png (with --num-classes and --confidence).
at::Tensor read_unary(const fs::path& dir, const fs::path& image_path, const cv::Mat& image, const CrfArgs& a) {
  const std::string stem = image_path.stem().string();
  const fs::path probs_path = dir / (stem + ".safetensors"), labels_path = dir / (stem + ".png");
  at::Tensor probs;
  if (fs::exists(probs_path)) {
    const auto st = io::read_safetensors(probs_path);
    require(st.tensors.size() == 1 || st.tensors.count("probs"), "refine crf", probs_path.string(),
            "hold one tensor or one named 'probs'", [&] { return std::to_string(st.tensors.size()) + " tensors"; });
    probs = st.tensors.count("probs") ? st.tensors.at("probs") : st.tensors.begin()->second;
    if (probs.dim() == 4 && probs.size(0) == 1) probs = probs[0];
    require(probs.dim() == 3 && at::isFloatingType(probs.scalar_type()), "refine crf", probs_path.string(),
            "hold float probabilities (K, H, W)", [&] { return std::to_string(probs.dim()) + "-D"; });
    const at::Tensor sums = probs.to(at::kDouble).sum(0);
    require((sums - 1).abs().max().item<double>() < 1e-3 && probs.min().item<double>() >= 0, "refine crf",
            probs_path.string(), "hold softmax probabilities (non-negative, summing to 1 over K)",
            [&] { return "sums in [" + std::to_string(sums.min().item<double>()) + ", " +
                         std::to_string(sums.max().item<double>()) + "]"; });
  } else if (fs::exists(labels_path)) {
    require_usage(a.num_classes >= 2, "refine crf", "--num-classes", "be given (>= 2) for label-map inputs",
                  std::to_string(a.num_classes));
    const cv::Mat labels = io::read_label_png(labels_path);
    const at::Tensor l = at::from_blob(labels.data, {labels.rows, labels.cols}, at::kByte).clone();
    probs = refine::probabilities_from_labels(l, a.num_classes, a.confidence, a.ignore_index);
  } else {
    fail("refine crf", "--probs-or-labels '" + dir.string() + "'",
         "hold " + stem + ".safetensors or " + stem + ".png for image " + image_path.string(), "neither");
  }
  require(probs.size(1) == image.rows && probs.size(2) == image.cols, "refine crf", "the input of " + stem,
          "have the image's size " + std::to_string(image.rows) + "x" + std::to_string(image.cols),
          [&] { return std::to_string(probs.size(1)) + "x" + std::to_string(probs.size(2)); });
  return probs.to(at::kFloat);
}

int run_crf(const CrfArgs& a) {
  refine::DenseCrfOptions options = a.preset == "deeplab_voc" ? refine::DenseCrfOptions::deeplab_voc()
                                                              : refine::DenseCrfOptions();
  if (a.iterations > 0) options.iterations(a.iterations);
  if (a.gaussian_sigma_xy > 0) options.gaussian_sigma_xy(a.gaussian_sigma_xy);
  if (a.gaussian_weight >= 0) options.gaussian_weight(a.gaussian_weight);
  if (a.bilateral_sigma_xy > 0) options.bilateral_sigma_xy(a.bilateral_sigma_xy);
  if (a.bilateral_sigma_rgb > 0) options.bilateral_sigma_rgb(a.bilateral_sigma_rgb);
  if (a.bilateral_weight >= 0) options.bilateral_weight(a.bilateral_weight);

  const auto images = list_images(a.images, "refine crf");
  const fs::path out_dir = a.out;
  std::vector<fs::path> targets, input_dirs = {a.inputs};
  for (const auto& path : images) targets.push_back(out_dir / (path.stem().string() + ".png"));
  for (const auto& input : a.images)
    if (fs::is_directory(input)) input_dirs.push_back(input);
  require_safe_outputs("refine crf", out_dir, input_dirs, images, targets);
  ProgressBar progress("refine crf", static_cast<int64_t>(images.size()), !a.quiet);
  for (size_t i = 0; i < images.size(); ++i) {
    const fs::path& path = images[i];
    const fs::path& target = targets[i];
    const cv::Mat image = io::read_color_image(path);
    const at::Tensor unary = read_unary(a.inputs, path, image, a);
    require(unary.size(0) <= 256, "refine crf", "the class count of " + path.stem().string(),
            "be at most 256 for 8-bit label PNGs", [&] { return std::to_string(unary.size(0)); });
    const at::Tensor q = refine::dense_crf(data::rgb_float_tensor(image), unary, options);
    const at::Tensor labels = q.argmax(0).to(at::kByte).contiguous();
    io::write_png(target, cv::Mat(image.rows, image.cols, CV_8UC1, labels.data_ptr<uint8_t>()).clone());
    progress.advance();
  }
  progress.finish();
  if (!a.quiet) std::fprintf(stderr, "wrote %zu refined label maps to %s\n", images.size(), a.out.c_str());
  return 0;
}

}  // namespace

Command add_refine(CLI::App& app) {
  CLI::App* refine = app.add_subcommand("refine", "Refine a model's output");
  refine->require_subcommand(1);
  auto args = std::make_shared<CrfArgs>();
  CLI::App* crf = refine->add_subcommand(
      "crf", "DenseCRF mean-field refinement (Gaussian + bilateral kernels, Potts) of probabilities or label maps");
  crf->add_option("--images", args->images, "Image files or directories (searched recursively)")->required();
  crf->add_option("--probs-or-labels", args->inputs,
                  "Directory with <stem>.safetensors (softmax (K, H, W)) or <stem>.png (label map) per image")
      ->required();
  crf->add_option("--out", args->out, "Output directory for <stem>.png label maps")->required();
  crf->add_option("--preset", args->preset, "pydensecrf (5 it., 3/3 + 80/13/10) or deeplab_voc (10 it., 3/1 + 4/67/3)")
      ->check(CLI::IsMember({"pydensecrf", "deeplab_voc"}))
      ->capture_default_str();
  crf->add_option("--num-classes", args->num_classes, "Classes of label-map inputs")->check(CLI::Range(2, 256));
  crf->add_option("--confidence", args->confidence, "Probability given to the label of a label-map input, in (0, 1)")
      ->check([](const std::string& text) {
        const double v = std::atof(text.c_str());
        return v > 0 && v < 1 ? std::string() : "must be in (0, 1), but got " + text;
      })
      ->capture_default_str();
  crf->add_option("--ignore-index", args->ignore_index, "Label-map value meaning 'unknown' (uniform unary)")
      ->capture_default_str();
  crf->add_option("--iterations", args->iterations, "Mean-field iterations (default: the preset's)")
      ->check(CLI::Range(1, 1000));
  crf->add_option("--gaussian-sigma-xy", args->gaussian_sigma_xy, "Smoothness kernel bandwidth (px)")
      ->check(CLI::PositiveNumber);
  crf->add_option("--gaussian-weight", args->gaussian_weight, "Smoothness kernel weight")->check(CLI::NonNegativeNumber);
  crf->add_option("--bilateral-sigma-xy", args->bilateral_sigma_xy, "Appearance kernel spatial bandwidth (px)")
      ->check(CLI::PositiveNumber);
  crf->add_option("--bilateral-sigma-rgb", args->bilateral_sigma_rgb, "Appearance kernel colour bandwidth (0..255)")
      ->check(CLI::PositiveNumber);
  crf->add_option("--bilateral-weight", args->bilateral_weight, "Appearance kernel weight")
      ->check(CLI::NonNegativeNumber);
  crf->add_flag("--quiet", args->quiet, "No progress bar");
  return {refine, [args] { return run_crf(*args); }};
}

}  // namespace boundseg::cli
