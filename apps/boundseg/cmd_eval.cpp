// `boundseg eval`: evaluate a directory of predictions against ground truth.
#include <fmt/format.h>

#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "boundseg/core/error.h"
#include "boundseg/core/options.h"
#include "boundseg/io/atomic_file.h"
#include "boundseg/metrics/coco_eval.h"
#include "boundseg/metrics/evaluator.h"
#include "commands.h"

namespace boundseg::cli {
namespace {

struct EvalArgs {
  std::string gt, pred, instances, json, coco_gt, coco_dt, protocol = "cityscapes", metrics, zero_union = "exclude";
  /// The flags fill these (defaults: the options' own).
  metrics::EvalOptions options;
  metrics::CocoEvalOptions coco_boundary;
  bool quiet = false;
};

// The flags of EvalOptions fields whose flag is not the field name.
const std::vector<std::pair<std::string, std::string>> kRenamedFlags = {
    {"boundary_iou_ratios", "--biou-ratios"},
    {"boundary_f_thresholds", "--bf-thresholds"}};

const std::vector<std::string> kMetricNames = {"miou", "biou", "bf", "ap"};


// COCO-format instance results: mask AP and Boundary AP (metrics.md §2.3).
int run_coco(const EvalArgs& a) {
  const auto gt = nlohmann::json::parse(io::read_file(a.coco_gt, "eval"), nullptr, false);
  require(!gt.is_discarded(), "eval", "--coco-gt '" + a.coco_gt + "'", "be valid JSON", [] { return "a parse error"; });
  const auto dt = nlohmann::json::parse(io::read_file(a.coco_dt, "eval"), nullptr, false);
  require(!dt.is_discarded(), "eval", "--coco-dt '" + a.coco_dt + "'", "be valid JSON", [] { return "a parse error"; });
  static const char* kStatNames[] = {"AP",  "AP50",  "AP75",  "AP_small",  "AP_medium",  "AP_large",
                                     "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large"};
  nlohmann::json out;
  std::string table = fmt::format("{:<10} {:>8} {:>9}\n", "", "segm", "boundary");
  metrics::CocoEvalOptions segm, boundary = a.coco_boundary;
  boundary.iou_type = metrics::CocoIouType::kBoundary;
  const auto rs = metrics::coco_evaluate(gt, dt, segm);
  const auto rb = metrics::coco_evaluate(gt, dt, boundary);
  for (int i = 0; i < 12; ++i) {
    out["segm"][kStatNames[i]] = rs.stats[i];
    out["boundary"][kStatNames[i]] = rb.stats[i];
    table += fmt::format("{:<10} {:>8.4f} {:>9.4f}\n", kStatNames[i], rs.stats[i], rb.stats[i]);
  }
  out["AP"] = rs.stats[0];
  out["AP50"] = rs.stats[1];
  out["boundary_AP"] = rb.stats[0];
  out["boundary_AP50"] = rb.stats[1];
  out["boundary_dilation_ratio"] = boundary.dilation_ratio;
  std::fputs(table.c_str(), stdout);
  if (!a.json.empty()) io::write_file_atomic(a.json, out.dump(2) + "\n");
  return 0;
}

int run_eval(const EvalArgs& a) {
  if (!a.coco_gt.empty() || !a.coco_dt.empty()) {
    require_usage(!a.coco_gt.empty() && !a.coco_dt.empty(), "eval", "--coco-gt and --coco-dt", "be given together",
                  "only one of them");
    return run_coco(a);
  }
  require_usage(!a.gt.empty(), "eval", "--gt", "name the ground-truth directory (or use --coco-gt/--coco-dt)",
                "nothing");
  metrics::EvalOptions o = a.options;
  o.protocol = a.protocol == "cityscapes" ? metrics::Protocol::kCityscapes : metrics::Protocol::kTrainId;
  o.zero_union = a.zero_union == "zero" ? metrics::ZeroUnion::kZero : metrics::ZeroUnion::kExclude;
  o.progress = !a.quiet;
  check_flags([&] { metrics::validate(o, OptionSite::flags("eval", kRenamedFlags)); });

  std::set<std::string> wanted;
  if (a.metrics.empty()) {
    // Default: the semantic suite, plus AP when instance results are present.
    wanted = {"miou", "biou", "bf"};
    if (!a.instances.empty() ||
        (o.protocol == metrics::Protocol::kCityscapes && !metrics::find_instance_results(a.pred).empty()))
      wanted.insert("ap");
  } else {
    std::stringstream ss(a.metrics);
    for (std::string name; std::getline(ss, name, ',');) {
      bool known = false;
      for (const auto& k : kMetricNames) known |= k == name;
      require_usage(known, "eval", "--metrics", "list names from miou, biou, bf, ap", "'" + name + "'");
      wanted.insert(name);
    }
  }
  o.pixel = wanted.count("miou");
  o.boundary_iou = wanted.count("biou");
  o.boundary_f = wanted.count("bf");
  o.instance_ap = wanted.count("ap");
  const bool semantic = o.pixel || o.boundary_iou || o.boundary_f;
  require_usage(!semantic || !a.pred.empty(), "eval", "--pred", "name the directory of predicted label maps",
                "nothing");

  metrics::DiscoverOptions d;
  d.gt_dir = a.gt;
  d.pred_dir = semantic ? a.pred : "";
  d.instance_dir = o.instance_ap ? (a.instances.empty() ? a.pred : a.instances) : "";
  d.protocol = o.protocol;
  const auto start = std::chrono::steady_clock::now();
  const std::vector<metrics::EvalSample> samples = metrics::discover_samples(d);
  const metrics::EvalResult result = metrics::evaluate(samples, o);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fputs(metrics::format_table(result).c_str(), stdout);
  for (const auto& w : result.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  std::fprintf(stderr, "evaluated %lld images in %.3f s on %d threads\n", static_cast<long long>(result.num_images),
               seconds, at::get_num_threads());
  if (!a.json.empty()) {
    io::write_file_atomic(a.json, metrics::to_json(result).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    std::fprintf(stderr, "wrote %s\n", a.json.c_str());
  }
  return 0;
}

}  // namespace

Command add_eval(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate predictions: mIoU/iIoU, boundary IoU, boundary F, instance AP");
  cmd->add_option("--gt", args->gt, "Ground-truth directory (searched recursively)");
  cmd->add_option("--pred", args->pred, "Directory of predicted label maps (PNG)");
  cmd->add_option("--instances", args->instances,
                  "Directory of Cityscapes instance results (*_pred.txt + masks); default: --pred");
  cmd->add_option("--protocol", args->protocol, "cityscapes (label ids) or trainid")
      ->check(CLI::IsMember({"cityscapes", "trainid"}));
  metrics::EvalOptions& o = args->options;
  cmd->add_option("--num-classes", o.num_classes, "Classes of the trainid protocol")->capture_default_str();
  cmd->add_option("--ignore-index", o.ignore_index, "Ignore value of the trainid protocol")->capture_default_str();
  cmd->add_option("--class-names", o.class_names, "Class names of the trainid protocol")->delimiter(',');
  cmd->add_option("--metrics", args->metrics,
                  "Comma list of miou,biou,bf,ap (default: miou,biou,bf, plus ap when instance results exist)");
  cmd->add_option("--biou-ratios", o.boundary_iou_ratios, "Boundary IoU dilation ratios")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--bf-thresholds", o.boundary_f_thresholds,
                  "Boundary F tolerances: < 1 = fraction of the diagonal, >= 1 = pixels")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--ap-boundary-ratio", o.ap_boundary_ratio, "Dilation ratio of boundary AP (Cityscapes: 0.005)")
      ->capture_default_str();
  cmd->add_option("--zero-union", args->zero_union,
                  "Classes absent from GT and prediction: exclude (NaN, default) or zero (counted as 0)")
      ->check(CLI::IsMember({"exclude", "zero"}));
  cmd->add_option("--coco-gt", args->coco_gt, "COCO ground-truth JSON (instead of --gt): mask AP and Boundary AP");
  cmd->add_option("--coco-dt", args->coco_dt, "COCO results JSON (list of RLE detections)");
  cmd->add_option("--coco-boundary-ratio", args->coco_boundary.dilation_ratio, "Dilation ratio of COCO Boundary AP")
      ->capture_default_str();
  cmd->add_option("--json", args->json, "Write the results as JSON (atomically)");
  cmd->add_flag("--quiet", args->quiet, "No progress bar");
  return {cmd, [args] { return run_eval(*args); }};
}

}  // namespace boundseg::cli
