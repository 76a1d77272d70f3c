// `boundseg scribbles convert|generate`: scribble label PNGs from ScribbleSup XML or from dense labels (the two
// children share the output writer, so they live in one file).
#include <algorithm>
#include <cstdio>

#include <opencv2/core.hpp>

#include "boundseg/core/error.h"
#include "boundseg/core/progress.h"
#include "boundseg/data/scribbles.h"
#include "boundseg/io/png.h"
#include "commands.h"

namespace boundseg::cli {
namespace {
namespace fs = std::filesystem;

struct ScribbleArgs {
  std::string input, out, label_suffix, image_suffix;
  data::ScribbleGenerationOptions generation;
  bool quiet = false;
};

// Files under `dir` (recursively) with extension `ext`, sorted.
std::vector<fs::path> files_with_extension(const std::string& dir, const std::string& ext, const char* option) {
  std::error_code ec;
  require_usage(fs::is_directory(dir, ec), "scribbles", option, "be a directory", "'" + dir + "'");
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ext) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  require(!files.empty(), "scribbles", std::string(option) + " '" + dir + "'", "hold " + ext + " files",
          [] { return "none"; });
  return files;
}

// Writes make(input) as <out>/<name_of(input)>.png for every input, after checking that no input can be
// overwritten; reports the labelled share.
template <typename NameOf, typename MakeLabels>
int write_all(const std::vector<fs::path>& inputs, const ScribbleArgs& a, const char* label, NameOf name_of,
              MakeLabels make) {
  std::vector<fs::path> targets;
  for (const auto& path : inputs) targets.push_back(fs::path(a.out) / (name_of(path) + ".png"));
  require_safe_outputs("scribbles", a.out, {a.input}, inputs, targets);
  ProgressBar progress(label, static_cast<int64_t>(inputs.size()), !a.quiet);
  int64_t labelled = 0, total = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const cv::Mat labels = make(inputs[i]);
    io::write_png(targets[i], labels);
    labelled += cv::countNonZero(labels != a.generation.ignore_index);
    total += static_cast<int64_t>(labels.total());
    progress.advance();
  }
  progress.finish();
  if (!a.quiet)
    std::fprintf(stderr, "wrote %zu scribble maps to %s (%.2f %% of pixels labelled)\n", inputs.size(),
                 a.out.c_str(), total ? 100.0 * double(labelled) / double(total) : 0.0);
  return 0;
}

int run_convert(const ScribbleArgs& a) {
  return write_all(
      files_with_extension(a.input, ".xml", "--xml"), a, "scribbles convert",
      [](const fs::path& p) { return p.stem().string(); },
      [](const fs::path& p) { return data::rasterize_scribbles(data::parse_scribblesup_xml(p)); });
}

int run_generate(const ScribbleArgs& a) {
  const auto has_suffix = [&](const fs::path& p) {
    const std::string stem = p.stem().string();
    return stem.size() >= a.label_suffix.size() &&
           stem.compare(stem.size() - a.label_suffix.size(), a.label_suffix.size(), a.label_suffix) == 0;
  };
  std::vector<fs::path> labels = files_with_extension(a.input, ".png", "--labels");
  labels.erase(std::remove_if(labels.begin(), labels.end(), [&](const fs::path& p) { return !has_suffix(p); }),
               labels.end());
  require(!labels.empty(), "scribbles", "--labels '" + a.input + "'",
          "hold label PNGs whose names end with '" + a.label_suffix + ".png'", [] { return "none"; });
  return write_all(
      labels, a, "scribbles generate",
      [&](const fs::path& p) {
        const std::string stem = p.stem().string();
        return stem.substr(0, stem.size() - a.label_suffix.size()) + a.image_suffix;
      },
      [&](const fs::path& p) { return data::scribbles_from_labels(io::read_label_png(p), a.generation); });
}

}  // namespace

Command add_scribbles(CLI::App& app) {
  return add_group(app, "scribbles", "Scribble label PNGs (255 = unlabelled) for weak supervision",
                   {add_scribbles_convert, add_scribbles_generate});
}

Command add_scribbles_convert(CLI::App& scribbles) {
  auto args = std::make_shared<ScribbleArgs>();
  CLI::App* convert = scribbles.add_subcommand("convert", "Rasterise ScribbleSup XML annotations (3-px polylines)");
  convert->add_option("--xml", args->input, "Directory of ScribbleSup .xml files (e.g. pascal_2012/)")->required();
  convert->add_option("--out", args->out, "Output directory for <stem>.png")->required();
  convert->add_flag("--quiet", args->quiet, "No progress bar");
  return {convert, [args] { return run_convert(*args); }};
}

Command add_scribbles_generate(CLI::App& scribbles) {
  auto args = std::make_shared<ScribbleArgs>();
  CLI::App* generate = scribbles.add_subcommand("generate", "Skeleton-like scribbles from dense train-id label PNGs");
  generate->add_option("--labels", args->input, "Directory of train-id label PNGs (searched recursively)")->required();
  generate->add_option("--out", args->out, "Output directory for <image stem>.png")->required();
  generate->add_option("--label-suffix", args->label_suffix,
                       "Label stem suffix replaced by --image-suffix in the output name, so that outputs carry the "
                       "dataset's sample names (Cityscapes: _gtFine_labelTrainIds)");
  generate->add_option("--image-suffix", args->image_suffix,
                       "Suffix appended instead (folder datasets whose sample names keep an image suffix; "
                       "Cityscapes: none)");
  generate->add_option("--margin", args->generation.margin, "Distance kept from region boundaries (px)")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  generate->add_option("--width", args->generation.width, "Stroke width (px)")
      ->check(CLI::Range(1, 25))
      ->capture_default_str();
  generate->add_flag("--quiet", args->quiet, "No progress bar");
  return {generate, [args] { return run_generate(*args); }};
}

}  // namespace boundseg::cli
