// `boundseg refine crf`: DenseCRF mean-field refinement of any model's probabilities or label maps.
#include <ATen/ATen.h>

#include <cstdio>
#include <cstdlib>

#include "boundseg/core/error.h"
#include "boundseg/core/options.h"
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
  int64_t num_classes = 0;
  refine::LabelUnaryOptions unary;
  /// Kernel flags given on the command line, applied over the preset.
  refine::DenseCrfOptions overrides;
  std::vector<std::pair<CLI::Option*, std::function<void(refine::DenseCrfOptions&)>>> given;
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
    probs = refine::probabilities_from_labels(l, a.num_classes, a.unary);
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
  for (const auto& [option, apply] : a.given) {
    if (option->count() > 0) apply(options);
  }
  check_flags([&] { refine::validate(options, OptionSite::flags("refine crf")); });
  check_flags([&] { refine::validate(a.unary, OptionSite::flags("refine crf")); });

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

Command add_refine_crf(CLI::App& refine) {
  auto args = std::make_shared<CrfArgs>();
  CLI::App* crf = refine.add_subcommand(
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
  crf->add_option("--confidence", args->unary.confidence(),
                  "Probability given to the label of a label-map input, in (0, 1)")
      ->capture_default_str();
  crf->add_option("--ignore-index", args->unary.ignore_index(), "Label-map value meaning 'unknown' (uniform unary)")
      ->capture_default_str();
  // Kernel flags override the preset's values (checked with the options: refine::validate).
  using O = refine::DenseCrfOptions;
  const auto kernel_flag = [&](const char* flag, const char* help, auto field_of) {
    auto& field = field_of(args->overrides);
    args->given.emplace_back(crf->add_option(flag, field, help),
                             [&field, field_of](O& options) { field_of(options) = field; });
  };
  kernel_flag("--iterations", "Mean-field iterations (default: the preset's)",
              [](O& o) -> int64_t& { return o.iterations(); });
  kernel_flag("--gaussian-sigma-xy", "Smoothness kernel bandwidth (px)",
              [](O& o) -> double& { return o.gaussian_sigma_xy(); });
  kernel_flag("--gaussian-weight", "Smoothness kernel weight", [](O& o) -> double& { return o.gaussian_weight(); });
  kernel_flag("--bilateral-sigma-xy", "Appearance kernel spatial bandwidth (px)",
              [](O& o) -> double& { return o.bilateral_sigma_xy(); });
  kernel_flag("--bilateral-sigma-rgb", "Appearance kernel colour bandwidth (0..255)",
              [](O& o) -> double& { return o.bilateral_sigma_rgb(); });
  kernel_flag("--bilateral-weight", "Appearance kernel weight", [](O& o) -> double& { return o.bilateral_weight(); });
  crf->add_flag("--quiet", args->quiet, "No progress bar");
  return {crf, [args] { return run_crf(*args); }};
}

}  // namespace boundseg::cli
