// Dataset discovery and the streaming evaluation pass.
#include "boundseg/metrics/evaluator.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <regex>
#include <set>

#include "boundseg/core/error.h"
#include "boundseg/core/progress.h"
#include "boundseg/io/cityscapes_labels.h"
#include "boundseg/io/png.h"
#include "boundseg/ops/boundary_kernels.h"

namespace boundseg::metrics {
namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// <city>_<seq:6>_<frame:6> at the start of a Cityscapes file name.
const std::regex& cityscapes_prefix() {
  static const std::regex re(R"(^(.+?_\d{6}_\d{6})(?:[_.]|$))");
  return re;
}

std::string cityscapes_key(const std::string& filename) {
  std::smatch m;
  return std::regex_search(filename, m, cityscapes_prefix()) ? m[1].str() : std::string();
}

bool is_gt_file(const std::string& filename) {
  return filename.find("_gtFine_") != std::string::npos || filename.find("_gtCoarse_") != std::string::npos;
}

bool has_suffix(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void require_directory(const fs::path& dir, const std::string& argument) {
  std::error_code ec;
  require(fs::is_directory(dir, ec), "eval", argument + " '" + dir.string() + "'", "be an existing directory",
          [&] { return fs::exists(dir, ec) ? "a file" : "no such directory"; });
}

// All regular files below dir, sorted for reproducible pairing.
std::vector<fs::path> list_files(const fs::path& dir, const std::string& extension) {
  std::vector<fs::path> files;
  try {
    for (const auto& entry : fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink)) {
      if (entry.is_regular_file() && entry.path().extension() == extension) files.push_back(entry.path());
    }
  } catch (const fs::filesystem_error& e) {
    fail("eval", "the directory '" + dir.string() + "'", "be readable throughout", e.code().message() + " at '" +
         e.path1().string() + "'");
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string join_names(const std::vector<fs::path>& files) {
  std::string s;
  for (size_t i = 0; i < files.size() && i < 4; ++i) s += (i ? ", " : "") + files[i].string();
  if (files.size() > 4) s += ", ...";
  return s;
}

// Mask PNGs listed in result txts: never semantic predictions.
std::set<fs::path> masks_listed_in(const std::vector<fs::path>& txts) {
  std::set<fs::path> masks;
  for (const auto& txt : txts) {
    std::ifstream in(txt);
    std::string line;
    while (std::getline(in, line)) {
      const auto space = line.find(' ');
      if (space == std::string::npos) continue;
      masks.insert(fs::weakly_canonical(txt.parent_path() / line.substr(0, space)));
    }
  }
  return masks;
}

}  // namespace

std::vector<fs::path> find_instance_results(const fs::path& dir) {
  std::vector<fs::path> txts;
  std::error_code ec;
  if (dir.empty() || !fs::is_directory(dir, ec)) return txts;
  for (const auto& t : list_files(dir, ".txt"))
    if (!cityscapes_key(t.filename().string()).empty()) txts.push_back(t);
  return txts;
}

std::vector<EvalSample> discover_samples(const DiscoverOptions& o) {
  require_directory(o.gt_dir, "--gt");
  if (!o.pred_dir.empty()) require_directory(o.pred_dir, "--pred");
  if (!o.instance_dir.empty()) require_directory(o.instance_dir, "--instances");
  const auto gt_pngs = list_files(o.gt_dir, ".png");
  const std::string gt_suffix =
      o.protocol == Protocol::kCityscapes ? "_labelIds.png" : "_labelTrainIds.png";
  // Cityscapes naming if any GT file follows it; otherwise identical stems.
  std::vector<fs::path> gts;
  for (const auto& p : gt_pngs)
    if (is_gt_file(p.filename().string()) && has_suffix(p.filename().string(), gt_suffix)) gts.push_back(p);
  const bool cityscapes_names = !gts.empty();
  if (!cityscapes_names) {
    require(o.protocol == Protocol::kTrainId, "eval", "--gt '" + o.gt_dir.string() + "'",
            "contain Cityscapes ground truth (*_gtFine_labelIds.png) for --protocol cityscapes",
            [&] { return gt_pngs.empty() ? std::string("no PNG files") : std::to_string(gt_pngs.size()) + " PNG files without that name"; });
    gts = gt_pngs;
  }
  require(!gts.empty(), "eval", "--gt '" + o.gt_dir.string() + "'", "contain ground-truth PNG files",
          [] { return "an empty directory"; });

  // Masks listed in result txts (under either folder) are never semantic predictions.
  std::vector<fs::path> txts = find_instance_results(o.instance_dir);
  std::vector<fs::path> listing = txts;
  if (o.pred_dir != o.instance_dir) {
    const auto more = find_instance_results(o.pred_dir);
    listing.insert(listing.end(), more.begin(), more.end());
  }
  std::map<std::string, std::vector<fs::path>> preds, results;
  if (!o.pred_dir.empty()) {
    const std::set<fs::path> masks = masks_listed_in(listing);
    for (const auto& p : list_files(o.pred_dir, ".png")) {
      const std::string name = p.filename().string();
      if (is_gt_file(name) || masks.count(fs::weakly_canonical(p))) continue;
      const std::string key = cityscapes_names ? cityscapes_key(name) : p.stem().string();
      if (!key.empty()) preds[key].push_back(p);
    }
  }
  for (const auto& t : txts) results[cityscapes_key(t.filename().string())].push_back(t);

  std::vector<EvalSample> samples;
  std::set<std::string> seen;
  for (const auto& gt : gts) {
    EvalSample s;
    s.gt = gt;
    s.name = cityscapes_names ? cityscapes_key(gt.filename().string()) : gt.stem().string();
    require(seen.insert(s.name).second, "eval", "the ground truth '" + gt.string() + "'",
            "have a unique name under --gt", [&] { return "a second file named '" + s.name + "'"; });
    if (cityscapes_names) {
      std::string inst = gt.filename().string();
      inst.replace(inst.rfind(gt_suffix), gt_suffix.size(),
                   o.protocol == Protocol::kCityscapes ? "_instanceIds.png" : "_instanceTrainIds.png");
      if (fs::exists(gt.parent_path() / inst)) s.gt_instances = gt.parent_path() / inst;
    }
    if (!o.pred_dir.empty()) {
      const auto& found = preds[s.name];
      require(found.size() == 1, "eval", "the prediction for '" + gt.string() + "'",
              "be exactly one PNG named '" + s.name + (cityscapes_names ? "*.png'" : ".png'") + " under --pred '" +
                  o.pred_dir.string() + "'",
              [&] { return found.empty() ? std::string("none") : std::to_string(found.size()) + " (" + join_names(found) + ")"; });
      s.prediction = found.front();
    }
    if (!o.instance_dir.empty()) {
      const auto& found = results[s.name];
      require(found.size() == 1, "eval", "the instance results for '" + gt.string() + "'",
              "be exactly one '" + s.name + "*.txt' under --instances '" + o.instance_dir.string() + "'",
              [&] { return found.empty() ? std::string("none") : std::to_string(found.size()) + " (" + join_names(found) + ")"; });
      s.instance_txt = found.front();
    }
    samples.push_back(std::move(s));
  }
  return samples;
}

// ---------------------------------------------------------------------------
// The evaluation pass

namespace {

cv::Mat read_label_map(const fs::path& path, bool eight_bit, const std::string& why) {
  cv::Mat m = io::read_label_png(path);
  require(!eight_bit || m.depth() == CV_8U, "eval", "the label map '" + path.string() + "'", "be an 8-bit PNG " + why,
          [] { return "a 16-bit PNG"; });
  return m;
}

void require_same_size(const cv::Mat& reference, const std::string& reference_name, const cv::Mat& other,
                       const std::string& other_name) {
  require(other.size() == reference.size(), "eval", "'" + other_name + "'",
          "have the size of '" + reference_name + "' (" + std::to_string(reference.cols) + "x" +
              std::to_string(reference.rows) + ")",
          [&] { return std::to_string(other.cols) + "x" + std::to_string(other.rows); });
}

bool semantic_metrics(const EvalOptions& o) { return o.pixel || o.boundary_iou || o.boundary_f; }

}  // namespace

void validate(const EvalOptions& o, const OptionSite& site) {
  for (double ratio : o.boundary_iou_ratios)
    site.require(std::isfinite(ratio) && ratio >= 0, "boundary_iou_ratios", "hold finite ratios >= 0",
                 [&] { return number_text(ratio); });
  for (double t : o.boundary_f_thresholds)
    site.require(std::isfinite(t) && t > 0, "boundary_f_thresholds", "hold finite tolerances > 0",
                 [&] { return number_text(t); });
  site.require(std::isfinite(o.ap_boundary_ratio) && o.ap_boundary_ratio >= 0, "ap_boundary_ratio",
               "be a finite ratio >= 0", [&] { return number_text(o.ap_boundary_ratio); });
  auto unique = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return std::adjacent_find(v.begin(), v.end()) == v.end();
  };
  site.require(unique(o.boundary_iou_ratios), "boundary_iou_ratios", "hold distinct values", [] { return "a repeat"; });
  site.require(unique(o.boundary_f_thresholds), "boundary_f_thresholds", "hold distinct values",
               [] { return "a repeat"; });
  if (o.protocol == Protocol::kTrainId) {
    site.require(o.num_classes >= 1 && o.num_classes <= 256, "num_classes", "be in [1, 256]",
                 [&] { return std::to_string(o.num_classes); });
    site.require(o.ignore_index < 0 || o.ignore_index >= o.num_classes, "ignore_index",
                 "lie outside the classes 0.." + std::to_string(o.num_classes - 1),
                 [&] { return std::to_string(o.ignore_index); });
    site.require(o.class_names.empty() || int64_t(o.class_names.size()) == o.num_classes, "class_names",
                 "number num_classes (" + std::to_string(o.num_classes) + ")",
                 [&] { return std::to_string(o.class_names.size()) + " names"; });
  }
}

Evaluator::Evaluator(EvalOptions options) : options_(std::move(options)) {
  validate(options_, "eval");
  const bool cityscapes = options_.protocol == Protocol::kCityscapes;
  mapping_ = cityscapes ? ClassMapping::cityscapes_label_ids()
                        : ClassMapping::train_ids(options_.num_classes, options_.ignore_index);
  ap_options_.boundary_dilation_ratio = options_.ap_boundary_ratio;
  if (cityscapes) {
    for (int id : cityscapes::train_id_to_id()) class_names_.push_back(cityscapes::labels()[id].name);
  } else {
    for (int64_t c = 0; c < options_.num_classes; ++c)
      class_names_.push_back(options_.class_names.empty() ? "class_" + std::to_string(c) : options_.class_names[c]);
  }
  reset();
}

void Evaluator::reset() {
  num_images_ = 0;
  all_have_instances_ = true;
  cityscapes_ = CityscapesPixelStats();
  train_ids_ = TrainIdPixelStats(options_.num_classes);
  boundary_iou_.assign(options_.boundary_iou ? options_.boundary_iou_ratios.size() : 0,
                       BoundaryIouStats(mapping_.num_classes));
  boundary_f_ = BoundaryFStats(static_cast<int64_t>(options_.boundary_f_thresholds.size()), mapping_.num_classes);
  matches_.clear();
  warnings_.clear();
}

ImageStats Evaluator::measure(const EvalImage& image) const {
  const EvalOptions& o = options_;
  ImageStats r;
  r.warnings = image.warnings;
  const cv::Mat& gt = image.gt;
  const std::string& gt_name = image.sources.gt;
  const bool cityscapes = o.protocol == Protocol::kCityscapes;
  const bool semantic = semantic_metrics(o);
  // Boundary metrics index 8-bit maps; Cityscapes label ids are 8-bit anyway.
  const bool eight_bit = cityscapes || o.boundary_iou || o.boundary_f;
  const std::string why = cityscapes ? "of Cityscapes label ids" : "for boundary metrics";
  require(!eight_bit || gt.depth() == CV_8U, "eval", "the label map '" + gt_name + "'", "be an 8-bit PNG " + why,
          [] { return "a 16-bit PNG"; });
  if (semantic) {
    require(!eight_bit || image.prediction.depth() == CV_8U, "eval", "the label map '" + image.sources.prediction + "'",
            "be an 8-bit PNG " + why, [] { return "a 16-bit PNG"; });
    require_same_size(gt, gt_name, image.prediction, image.sources.prediction);
  }
  r.has_instances = !image.gt_instances.empty();
  if (r.has_instances) require_same_size(gt, gt_name, image.gt_instances, image.sources.gt_instances);
  // The confusion pass also validates every id, whichever metrics are asked for.
  if (semantic && cityscapes) {
    accumulate_cityscapes_pixels(gt, image.prediction, o.pixel ? image.gt_instances : cv::Mat(), r.cityscapes,
                                 image.sources);
  } else if (semantic) {
    r.train_ids = TrainIdPixelStats(o.num_classes);
    accumulate_train_id_pixels(gt, image.prediction, o.ignore_index, r.train_ids, image.sources);
  }
  if (o.boundary_iou) {
    std::vector<int64_t> widths;
    for (double ratio : o.boundary_iou_ratios) widths.push_back(detail::band_width(ratio, gt.rows, gt.cols));
    r.boundary_iou.assign(widths.size(), BoundaryIouStats(mapping_.num_classes));
    accumulate_boundary_iou(gt, image.prediction, mapping_, widths, r.boundary_iou);
  }
  if (o.boundary_f) r.boundary_f = boundary_f_image(gt, image.prediction, mapping_, o.boundary_f_thresholds);
  if (o.instance_ap) {
    require(cityscapes, "eval", "--metrics ap", "be used with --protocol cityscapes", [] { return "trainid"; });
    require(r.has_instances, "eval", "the instance ground truth for '" + gt_name + "'",
            "exist (*_gtFine_instanceIds.png beside the labelIds) for --metrics ap", [] { return "none"; });
    try {
      InstanceMatcher matcher(image.gt_instances, ap_options_);
      for (const auto& line : image.instances) {
        const cv::Mat mask = io::read_label_png(line.mask_path);
        require_same_size(gt, gt_name, mask, line.mask_path.string());
        matcher.add_prediction(line.label_id, line.confidence, mask);
      }
      r.instances = matcher.finish();
    } catch (const Error& e) {
      // The matcher checks values but knows no file names: add them.
      throw Error(std::string(e.what()) + " (image '" + gt_name + "', instance results '" +
                  image.instance_txt.string() + "')");
    }
  }
  return r;
}

void Evaluator::add(ImageStats s) {
  ++num_images_;
  all_have_instances_ = all_have_instances_ && s.has_instances;
  cityscapes_ += s.cityscapes;
  if (options_.protocol != Protocol::kCityscapes && semantic_metrics(options_)) train_ids_ += s.train_ids;
  for (size_t r = 0; r < boundary_iou_.size(); ++r) boundary_iou_[r] += s.boundary_iou[r];
  if (options_.boundary_f) boundary_f_.add(s.boundary_f);
  if (options_.instance_ap) matches_.push_back(std::move(s.instances));
  for (auto& w : s.warnings) warnings_.push_back(std::move(w));
}

void Evaluator::process(const EvalImage& image) { add(measure(image)); }

EvalResult Evaluator::result() const {
  const EvalOptions& o = options_;
  const bool cityscapes = o.protocol == Protocol::kCityscapes;
  require(num_images_ > 0, "eval", "the dataset", "contain at least one image", [] { return "none"; });
  EvalResult result;
  result.protocol = o.protocol;
  result.num_images = num_images_;
  result.class_names = class_names_;
  result.warnings = warnings_;
  const bool with_iiou = cityscapes && o.pixel && all_have_instances_;
  if (cityscapes && o.pixel && !with_iiou)
    result.warnings.insert(result.warnings.begin(), "iIoU not computed: some images have no *_gtFine_instanceIds.png");
  if (o.pixel) {
    result.has_pixel = true;
    if (cityscapes) {
      const CityscapesPixelScores s = cityscapes_pixel_scores(cityscapes_);
      result.confusion = cityscapes_.confusion;
      for (int id : cityscapes::train_id_to_id()) {
        result.class_iou.push_back(s.class_iou[id]);
        result.class_iiou.push_back(with_iiou ? s.class_iiou[id] : kNaN);
      }
      // The 7 scored categories (void is entirely ignored).
      for (int k = 1; k < cityscapes::kNumCategories; ++k) {
        result.category_names.push_back(cityscapes::category_names()[k]);
        result.category_iou.push_back(s.category_iou[k]);
        result.category_iiou.push_back(with_iiou ? s.category_iiou[k] : kNaN);
      }
      result.has_iiou = with_iiou;
      result.miou = s.miou;
      result.iiou = with_iiou ? s.iiou : kNaN;
      result.category_miou = s.category_miou;
      result.category_iiou_mean = with_iiou ? s.category_iiou_mean : kNaN;
    } else {
      const TrainIdPixelScores s = train_id_pixel_scores(train_ids_, o.zero_union);
      result.confusion = train_ids_.confusion;
      result.class_iou = s.class_iou;
      result.class_accuracy = s.class_accuracy;
      result.class_dice = s.class_dice;
      result.miou = s.miou;
      result.macc = s.macc;
      result.aacc = s.aacc;
      result.fwiou = s.fwiou;
      result.mdice = s.mdice;
    }
  }
  if (o.boundary_iou) {
    result.boundary_iou_ratios = o.boundary_iou_ratios;
    for (const auto& stats : boundary_iou_) result.boundary_iou.push_back(boundary_iou_scores(stats));
  }
  if (o.boundary_f) {
    result.boundary_f_thresholds = o.boundary_f_thresholds;
    result.boundary_f = boundary_f_scores(boundary_f_);
  }
  if (o.instance_ap) {
    result.has_ap = true;
    result.ap_boundary_ratio = o.ap_boundary_ratio;
    result.ap = evaluate_instance_ap(matches_, InstanceOverlap::kMask, ap_options_);
    result.boundary_ap = evaluate_instance_ap(matches_, InstanceOverlap::kBoundary, ap_options_);
  }
  return result;
}

namespace {

// Reads the files of one sample into an EvalImage.
EvalImage read_sample(const EvalSample& s, const EvalOptions& o, bool read_instances) {
  const bool cityscapes = o.protocol == Protocol::kCityscapes;
  const bool eight_bit = cityscapes || o.boundary_iou || o.boundary_f;
  const std::string why = cityscapes ? "of Cityscapes label ids" : "for boundary metrics";
  EvalImage image;
  image.sources = {s.gt.string(), s.prediction.string(), s.gt_instances.string()};
  image.gt = read_label_map(s.gt, eight_bit, why);
  if (semantic_metrics(o)) image.prediction = read_label_map(s.prediction, eight_bit, why);
  if (read_instances && !s.gt_instances.empty()) image.gt_instances = io::read_label_png(s.gt_instances);
  if (o.instance_ap) {
    image.instances = read_cityscapes_prediction_txt(s.instance_txt, &image.warnings);
    image.instance_txt = s.instance_txt;
  }
  return image;
}

}  // namespace

EvalResult evaluate(const std::vector<EvalSample>& samples, const EvalOptions& o) {
  Evaluator evaluator(o);
  require(!samples.empty(), "eval", "the dataset", "contain at least one image", [] { return "none"; });
  const bool cityscapes = o.protocol == Protocol::kCityscapes;
  bool with_iiou = cityscapes && o.pixel;
  for (const auto& s : samples) {
    require(!semantic_metrics(o) || !s.prediction.empty(), "eval", "the prediction for '" + s.gt.string() + "'",
            "be given for semantic metrics", [] { return "none (pass --pred)"; });
    if (o.instance_ap) {
      require(cityscapes, "eval", "--metrics ap", "be used with --protocol cityscapes", [] { return "trainid"; });
      require(!s.instance_txt.empty(), "eval", "the instance results for '" + s.gt.string() + "'",
              "be given for --metrics ap", [] { return "none (pass --instances)"; });
      require(!s.gt_instances.empty(), "eval", "the instance ground truth for '" + s.gt.string() + "'",
              "exist (*_gtFine_instanceIds.png beside the labelIds) for --metrics ap", [] { return "none"; });
    }
    if (s.gt_instances.empty()) with_iiou = false;
  }
  // Instance maps are read only when some metric uses them (iIoU for every image, or AP).
  const bool read_instances = with_iiou || o.instance_ap;

  // Images are processed in parallel in chunks and reduced in order: memory stays bounded by one chunk and the
  // sums do not depend on the thread count.
  const int64_t n = static_cast<int64_t>(samples.size());
  ProgressBar progress("eval", n, o.progress);
  const int64_t chunk = std::max<int64_t>(4 * at::get_num_threads(), 8);
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t end = std::min(n, begin + chunk);
    std::vector<ImageStats> stats(end - begin);
    at::parallel_for(begin, end, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const EvalImage image = read_sample(samples[i], o, read_instances);
        stats[i - begin] = evaluator.measure(image);
        progress.advance();
      }
    });
    for (auto& s : stats) evaluator.add(std::move(s));
  }
  progress.finish();
  return evaluator.result();
}

}  // namespace boundseg::metrics
