// `boundseg eval`: evaluate a directory of predictions against ground truth.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "boundseg/core/error.h"
#include "boundseg/io/atomic_file.h"
#include "boundseg/metrics/evaluator.h"
#include "commands.h"

namespace boundseg::cli {
namespace {

struct EvalArgs {
  std::string gt, pred, instances, json, protocol = "cityscapes", metrics, zero_union = "exclude";
  int64_t num_classes = 19, ignore_index = 255;
  std::vector<double> biou_ratios = {0.02, 0.005};
  std::vector<double> bf_thresholds = {0.00088, 0.001875, 0.00375, 0.005};
  double ap_ratio = 0.005;
  std::vector<std::string> class_names;
  bool quiet = false;
};

const std::vector<std::string> kMetricNames = {"miou", "biou", "bf", "ap"};

bool has_result_txt(const std::string& dir) {
  std::error_code ec;
  if (dir.empty() || !std::filesystem::is_directory(dir, ec)) return false;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().extension() == ".txt") return true;
  return false;
}

int run_eval(const EvalArgs& a) {
  metrics::EvalOptions o;
  o.protocol = a.protocol == "cityscapes" ? metrics::Protocol::kCityscapes : metrics::Protocol::kTrainId;
  o.num_classes = a.num_classes;
  o.ignore_index = a.ignore_index;
  o.class_names = a.class_names;
  o.boundary_iou_ratios = a.biou_ratios;
  o.boundary_f_thresholds = a.bf_thresholds;
  o.ap_boundary_ratio = a.ap_ratio;
  o.zero_union = a.zero_union == "zero" ? metrics::ZeroUnion::kZero : metrics::ZeroUnion::kExclude;
  o.progress = !a.quiet;

  std::set<std::string> wanted;
  if (a.metrics.empty()) {
    // Default: the semantic suite, plus AP when instance results are present.
    wanted = {"miou", "biou", "bf"};
    if (!a.instances.empty() || (o.protocol == metrics::Protocol::kCityscapes && has_result_txt(a.pred)))
      wanted.insert("ap");
  } else {
    std::stringstream ss(a.metrics);
    for (std::string name; std::getline(ss, name, ',');) {
      bool known = false;
      for (const auto& k : kMetricNames) known |= k == name;
      require(known, "eval", "--metrics", "list names from miou, biou, bf, ap", [&] { return "'" + name + "'"; });
      wanted.insert(name);
    }
  }
  o.pixel = wanted.count("miou");
  o.boundary_iou = wanted.count("biou");
  o.boundary_f = wanted.count("bf");
  o.instance_ap = wanted.count("ap");
  const bool semantic = o.pixel || o.boundary_iou || o.boundary_f;
  require(!semantic || !a.pred.empty(), "eval", "--pred", "name the directory of predicted label maps",
          [] { return "nothing"; });

  metrics::DiscoverOptions d;
  d.gt_dir = a.gt;
  d.pred_dir = semantic ? a.pred : "";
  d.instance_dir = o.instance_ap ? (a.instances.empty() ? a.pred : a.instances) : "";
  d.protocol = o.protocol;
  const std::vector<metrics::EvalSample> samples = metrics::discover_samples(d);
  const metrics::EvalResult result = metrics::evaluate(samples, o);
  std::fputs(metrics::format_table(result).c_str(), stdout);
  for (const auto& w : result.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  if (!a.json.empty()) {
    io::write_file_atomic(a.json, metrics::to_json(result).dump(2) + "\n");
    std::fprintf(stderr, "wrote %s\n", a.json.c_str());
  }
  return 0;
}

}  // namespace

Command add_eval(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate predictions: mIoU/iIoU, boundary IoU, boundary F, instance AP");
  cmd->add_option("--gt", args->gt, "Ground-truth directory (searched recursively)")->required();
  cmd->add_option("--pred", args->pred, "Directory of predicted label maps (PNG)");
  cmd->add_option("--instances", args->instances,
                  "Directory of Cityscapes instance results (*_pred.txt + masks); default: --pred");
  cmd->add_option("--protocol", args->protocol, "cityscapes (label ids) or trainid")
      ->check(CLI::IsMember({"cityscapes", "trainid"}));
  cmd->add_option("--num-classes", args->num_classes, "Classes of the trainid protocol")->check(CLI::Range(1, 255));
  cmd->add_option("--ignore-index", args->ignore_index, "Ignore value of the trainid protocol");
  cmd->add_option("--class-names", args->class_names, "Class names of the trainid protocol")->delimiter(',');
  cmd->add_option("--metrics", args->metrics,
                  "Comma list of miou,biou,bf,ap (default: miou,biou,bf, plus ap when instance results exist)");
  cmd->add_option("--biou-ratios", args->biou_ratios, "Boundary IoU dilation ratios")->delimiter(',');
  cmd->add_option("--bf-thresholds", args->bf_thresholds,
                  "Boundary F tolerances: < 1 = fraction of the diagonal, >= 1 = pixels")
      ->delimiter(',');
  cmd->add_option("--ap-boundary-ratio", args->ap_ratio, "Dilation ratio of boundary AP (Cityscapes: 0.005)");
  cmd->add_option("--zero-union", args->zero_union,
                  "Classes absent from GT and prediction: exclude (NaN, default) or zero (counted as 0)")
      ->check(CLI::IsMember({"exclude", "zero"}));
  cmd->add_option("--json", args->json, "Write the results as JSON (atomically)");
  cmd->add_flag("--quiet", args->quiet, "No progress bar");
  return {cmd, [args] { return run_eval(*args); }};
}

}  // namespace boundseg::cli
