// `boundseg infer`: run a segmentation model over images and write label PNGs (and overlays).
#include <ATen/ATen.h>

#include <algorithm>
#include <cstdio>
#include <regex>

#include "boundseg/core/error.h"
#include "boundseg/core/progress.h"
#include "boundseg/io/cityscapes_labels.h"
#include "boundseg/io/png.h"
#include "boundseg/io/safetensors.h"
#include "boundseg/models/inference.h"
#include "boundseg/models/zoo.h"
#include "boundseg/viz/render.h"
#include "commands.h"

namespace boundseg::cli {
namespace {
namespace fs = std::filesystem;

struct InferArgs {
  std::string model = "hrnet_w48_ocr", weights, out, format = "trainids", naming = "auto", palette = "auto";
  std::string crop, stride;
  std::vector<std::string> images;
  std::vector<double> scales = {1.0};
  int64_t num_classes = 0, batch_size = 1;
  bool flip = false, overlay = false, quiet = false;
};

int run_infer(const InferArgs& a) {
  models::ModelConfig config = models::model_config(a.model);
  require_usage(config.arch.rfind("bpr_", 0) != 0, "infer", "--model",
                "be a segmentation model (bpr_* networks refine mask patches)", "'" + a.model + "'");
  if (a.num_classes > 0) config.num_classes = a.num_classes;
  if (a.naming != "auto") config.bn_naming = a.naming == "torch" ? models::BnNaming::kTorch : models::BnNaming::kAbn;
  const viz::Palette palette = viz::palette_from_name(a.palette != "auto" ? a.palette : config.palette);
  const auto [crop_h, crop_w] = parse_hw(a.crop, "infer", "--crop");
  const auto [stride_h, stride_w] = parse_hw(a.stride, "infer", "--stride");

  const models::Network net = models::load_network(config, io::read_safetensors(a.weights).tensors);
  const int64_t num_classes = net.num_classes;
  require_usage(a.format != "labelids" || num_classes == cityscapes::kNumTrainIds, "infer", "--format labelids",
                "be used with the 19 Cityscapes classes", std::to_string(num_classes) + " classes");
  models::InferenceOptions options;
  options.crop_height = crop_h;
  options.crop_width = crop_w;
  options.stride_height = stride_h;
  options.stride_width = stride_w;
  options.flip = a.flip;
  options.scales = a.scales;
  options.batch_size = a.batch_size;

  const auto images = list_images(a.images, "infer");
  const fs::path out_dir = a.out;
  ProgressBar progress("infer", static_cast<int64_t>(images.size()), !a.quiet);
  for (const auto& path : images) {
    const fs::path target = out_dir / (path.stem().string() + ".png");
    require(fs::weakly_canonical(target) != fs::weakly_canonical(path), "infer", "--out '" + a.out + "'",
            "differ from the image folder (inputs are never overwritten)", [&] { return target.string(); });
    const cv::Mat image = io::read_color_image(path);
    const at::Tensor logits = models::predict_logits(net.forward, models::normalize_openseg(image), options);
    const at::Tensor ids = logits.argmax(1)[0].to(at::kByte).contiguous();
    cv::Mat train_ids(image.rows, image.cols, CV_8UC1);
    std::copy(ids.data_ptr<uint8_t>(), ids.data_ptr<uint8_t>() + ids.numel(), train_ids.data);
    cv::Mat written = train_ids;
    if (a.format == "labelids") {
      written = train_ids.clone();
      for (int i = 0; i < written.rows * written.cols; ++i)
        written.data[i] = static_cast<uint8_t>(cityscapes::train_id_to_id()[train_ids.data[i]]);
    } else if (a.format == "color") {
      written = viz::colorize_train_ids(train_ids, num_classes, palette);
    }
    io::write_png(target, written);
    if (a.overlay)
      io::write_png(out_dir / (path.stem().string() + "_overlay.png"),
                    viz::overlay_labels(image, train_ids, num_classes, palette));
    progress.advance();
  }
  progress.finish();
  if (!a.quiet) std::fprintf(stderr, "wrote %zu predictions to %s\n", images.size(), a.out.c_str());
  return 0;
}

}  // namespace

std::vector<std::filesystem::path> list_images(const std::vector<std::string>& inputs, const std::string& what) {
  std::vector<std::filesystem::path> images;
  auto is_image = [](const std::filesystem::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
  };
  for (const auto& input : inputs) {
    std::error_code ec;
    if (std::filesystem::is_directory(input, ec)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(input))
        if (e.is_regular_file() && is_image(e.path())) images.push_back(e.path());
    } else {
      require(std::filesystem::is_regular_file(input, ec), what, "--images '" + input + "'", "be an image file or a directory",
              [] { return "no such file"; });
      images.push_back(input);
    }
  }
  std::sort(images.begin(), images.end());
  require(!images.empty(), what, "--images", "name at least one .png/.jpg image", [] { return "none"; });
  return images;
}

Command add_infer(CLI::App& app) {
  auto args = std::make_shared<InferArgs>();
  CLI::App* cmd = app.add_subcommand("infer", "Segment images with a model and write label PNGs");
  cmd->add_option("--model", args->model,
                  "hrnet_w18_ocr, hrnet_w32_ocr, hrnet_w48_ocr, hrnet_w64_ocr, or a JSON config (the .json that "
                  "`boundseg convert` writes beside the weights)")
      ->capture_default_str();
  cmd->add_option("--weights", args->weights, "Weights (.safetensors, see `boundseg convert`)")->required();
  cmd->add_option("--images", args->images, "Image files or directories (searched recursively)")->required();
  cmd->add_option("--out", args->out, "Output directory")->required();
  cmd->add_option("--format", args->format, "trainids, labelids (Cityscapes ids, for `eval`) or color")
      ->check(CLI::IsMember({"trainids", "labelids", "color"}))
      ->capture_default_str();
  cmd->add_option("--num-classes", args->num_classes, "Classes of the model (default: from the config or weights)")
      ->check(CLI::Range(1, 255));
  cmd->add_option("--naming", args->naming,
                  "BN naming: abn (openseg master), torch (pytorch-1.7 branch) or auto (from the config or weights)")
      ->check(CLI::IsMember({"auto", "abn", "torch"}))
      ->capture_default_str();
  cmd->add_option("--palette", args->palette,
                  "Colours of --format color and --overlay: cityscapes, ade20k, voc or auto (config, else by class "
                  "count)")
      ->check(CLI::IsMember({"auto", "cityscapes", "ade20k", "voc"}))
      ->capture_default_str();
  cmd->add_option("--batch-size", args->batch_size, "Windows and flips per forward pass")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--crop", args->crop, "Sliding-window crop HxW (default: whole image)");
  cmd->add_option("--stride", args->stride, "Sliding-window stride HxW (default: 2/3 of the crop)");
  cmd->add_flag("--flip", args->flip, "Average with the horizontally flipped image");
  cmd->add_option("--scales", args->scales, "Test scales, e.g. 0.75,1,1.25")->delimiter(',');
  cmd->add_flag("--overlay", args->overlay, "Also write <name>_overlay.png (colours and boundaries over the image)");
  cmd->add_flag("--quiet", args->quiet, "No progress bar");
  return {cmd, [args] { return run_infer(*args); }};
}

}  // namespace boundseg::cli
