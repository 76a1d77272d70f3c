// Trainer: set-up (all checks before the first step), the step, and the periodic work (logs, validation,
// checkpoints) around it.
#include "boundseg/train/trainer.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/utils.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>

#include "boundseg/core/error.h"
#include "boundseg/core/progress.h"
#include "boundseg/data/loader.h"
#include "boundseg/io/atomic_file.h"
#include "boundseg/io/safetensors.h"
#include "boundseg/io/tensorboard.h"
#include "boundseg/metrics/boundary_metrics.h"
#include "boundseg/metrics/pixel_metrics.h"
#include "boundseg/models/inference.h"
#include "boundseg/models/state_dict.h"
#include "boundseg/ops/boundary.h"
#include "boundseg/train/loss_terms.h"
#include "boundseg/train/optimizer.h"
#include "boundseg/viz/render.h"

namespace boundseg::train {
namespace fs = std::filesystem;
namespace {

constexpr const char* kCheckpointFormat = "boundseg-checkpoint-1";

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

fs::path checkpoint_path(const fs::path& dir, int64_t iteration) {
  char name[64];
  std::snprintf(name, sizeof(name), "iter_%08lld.safetensors", static_cast<long long>(iteration));
  return dir / name;
}

// The default CPU generator (dropout, initialisation) as bytes, and back.
at::Tensor generator_state() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}
void set_generator_state(const at::Tensor& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

// CPU bf16 autocast for the forward pass (RAII).
class Autocast {
 public:
  explicit Autocast(bool enabled) : enabled_(enabled) {
    if (!enabled_) return;
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  }
  ~Autocast() {
    if (!enabled_) return;
    at::autocast::set_cpu_enabled(false);
    at::autocast::clear_cache();
  }

 private:
  bool enabled_;
};

models::ModelConfig network_config(const config::TrainConfig& c) {
  models::ModelConfig m;
  m.arch = c.model.arch;
  m.num_classes = c.data.num_classes;
  m.bn_naming = models::BnNaming::kTorch;
  if (c.model.dropout >= 0) m.dropout = c.model.dropout;
  return m;
}

void set_sync(torch::nn::Module& module, const std::shared_ptr<const models::CrossProcessSum>& sync) {
  for (const auto& m : module.modules()) {
    if (auto* bn = dynamic_cast<models::BatchNormImpl*>(m.get())) bn->sync = sync;
  }
}

std::vector<at::Tensor> parameters_of(const torch::nn::Module& module) {
  std::vector<at::Tensor> out;
  for (const auto& p : module.named_parameters()) out.push_back(p.value());
  return out;
}

// Rewrites metrics.jsonl without the records after `iteration` (a resumed run logs them again).
void truncate_log(const fs::path& path, int64_t iteration) {
  if (!fs::exists(path)) return;
  std::ifstream in(path);
  std::string kept;
  for (std::string line; std::getline(in, line);) {
    try {
      if (nlohmann::json::parse(line).value("iter", int64_t(0)) <= iteration) kept += line + "\n";
    } catch (const nlohmann::json::exception&) {
      // A line cut short by a kill: dropped.
    }
  }
  io::write_file_atomic(path, kept);
}

}  // namespace

data::SegmentationDataset dataset_from(const config::DatasetConfig& d, const std::string& key) {
  try {
    data::SegmentationDataset dataset;
    if (d.type == "cityscapes") {
      dataset = data::cityscapes_dataset(d.root, d.split, d.labels == "labelids");
    } else if (d.type == "ade20k") {
      dataset = data::ade20k_dataset(d.root, d.split, d.reduce_zero_label);
    } else if (d.type == "voc") {
      dataset = data::voc_dataset(d.root, d.split, d.sbd_augmented);
    } else {
      dataset = data::folder_dataset(d.image_dir, d.label_dir, d.image_suffix, d.label_suffix);
    }
    if (d.limit > 0 && dataset.size() > d.limit) dataset.samples.resize(size_t(d.limit));
    if (!d.scribbles.empty()) {
      for (auto& sample : dataset.samples) {
        sample.label = fs::path(d.scribbles) / (sample.name + ".png");
        require(fs::is_regular_file(sample.label), "train", key + ".scribbles",
                "hold a scribble PNG per image (<sample name>.png)", [&] { return "no " + sample.label.string(); });
      }
      dataset.mapping = data::LabelMapping::kNone;
    }
    return dataset;
  } catch (const Error& e) {
    // Prefix the config key so the user knows which section to fix.
    throw Error(std::string(e.what()) + " (config: " + key + ")");
  }
}

std::vector<fs::path> list_checkpoints(const fs::path& dir) {
  std::vector<fs::path> found;
  if (!fs::is_directory(dir)) return found;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() == 25 && name.rfind("iter_", 0) == 0 &&
        name.compare(13, 12, ".safetensors") == 0) {
      found.push_back(entry.path());
    }
  }
  std::sort(found.begin(), found.end(), [](const fs::path& a, const fs::path& b) { return a > b; });
  return found;
}

std::map<std::string, double> validate(
    const models::Network& network, const data::SegmentationDataset& dataset, int64_t num_classes,
    int64_t ignore_index, double boundary_ratio, bool progress,
    const std::function<void(int64_t, const cv::Mat&, const cv::Mat&, const cv::Mat&)>& on_image) {
  at::NoGradGuard no_grad;
  const bool was_training = network.module->is_training();
  network.module->eval();
  metrics::TrainIdPixelStats pixels(num_classes);
  std::vector<metrics::BoundaryIouStats> bands{metrics::BoundaryIouStats(num_classes)};
  const metrics::ClassMapping mapping = metrics::ClassMapping::train_ids(num_classes, ignore_index);
  ProgressBar bar("validate", dataset.size(), progress);
  for (int64_t i = 0; i < dataset.size(); ++i) {
    const cv::Mat image = dataset.read_image(i), gt = dataset.read_label(i);
    const at::Tensor logits = models::predict_logits(network.forward, models::normalize_openseg(image), {});
    const at::Tensor argmax = logits.argmax(1)[0].to(at::kByte).contiguous();
    const cv::Mat pred = cv::Mat(gt.rows, gt.cols, CV_8U, argmax.data_ptr<uint8_t>()).clone();
    metrics::accumulate_train_id_pixels(gt, pred, ignore_index, pixels, {dataset.samples[i].label.string(), "prediction"});
    metrics::accumulate_boundary_iou(gt, pred, mapping, {ops::boundary_band_width(boundary_ratio, gt.rows, gt.cols)},
                                     bands);
    if (on_image) on_image(i, image, gt, pred);
    bar.advance();
  }
  bar.finish();
  network.module->train(was_training);
  const metrics::TrainIdPixelScores scores = metrics::train_id_pixel_scores(pixels);
  const std::vector<double> biou = metrics::boundary_iou_scores(bands[0]);
  return {{"mIoU", scores.miou},
          {"aAcc", scores.aacc},
          {"bIoU", metrics::nan_mean(biou.data(), int64_t(biou.size()))}};
}

TrainResult train(const config::TrainConfig& c, const TrainerOptions& o) {
  const int64_t rank = o.group ? o.group->rank() : 0, world = o.group ? o.group->world_size() : 1;
  const bool writer = rank == 0;
  const fs::path checkpoints = o.work_dir / "checkpoints";

  // ---- Set-up: everything that can fail on bad input fails here, before any work.
  const data::SegmentationDataset train_set = dataset_from(c.data.train, "data.train");
  data::SegmentationDataset val_set;
  if (c.data.has_val) val_set = dataset_from(c.data.val, "data.val");
  const CompositeLoss loss(c.losses, c.data.ignore_index);

  torch::manual_seed(uint64_t(c.run.seed));
  models::Network net = models::build_network(network_config(c));
  for (const std::string& output : loss.outputs()) {
    require(output == "out" || net.type_name == "HrnetOcr", "train", "losses[].output",
            "name an output of " + c.model.arch + " (out)", [&] { return "'" + output + "'"; });
  }
  if (!c.model.weights.empty()) {
    const auto report = models::load_state_dict(*net.module, io::read_safetensors(c.model.weights).tensors,
                                                !c.model.allow_partial);
    if (writer) std::fprintf(stderr, "Initial weights %s: %s\n", c.model.weights.c_str(), report.summary().c_str());
  }
  if (c.model.sync_bn && o.group) set_sync(*net.module, o.group);
  net.module->train();
  std::vector<std::pair<std::string, at::Tensor>> named_parameters;
  for (const auto& p : net.module->named_parameters()) named_parameters.emplace_back(p.key(), p.value());
  Optimizer optimizer(named_parameters, c.optimizer);

  int64_t start = 0;
  fs::path last_checkpoint;  // the newest checkpoint on disk that this run wrote or resumed from
  if (o.resume) {
    for (const fs::path& path : list_checkpoints(checkpoints)) {
      io::Safetensors ckpt;
      try {
        ckpt = io::read_safetensors(path);
      } catch (const Error& e) {
        // Atomic writes make this unexpected; an older checkpoint is still a valid place to resume from.
        if (writer) std::fprintf(stderr, "Skipping unreadable checkpoint %s: %s\n", path.c_str(), e.what());
        continue;
      }
      require(ckpt.metadata["format"] == kCheckpointFormat, "train", "checkpoint '" + path.string() + "'",
              std::string("be a ") + kCheckpointFormat + " file", [&] { return "'" + ckpt.metadata["format"] + "'"; });
      std::map<std::string, at::Tensor> model_state, optimizer_state;
      for (auto& [name, t] : ckpt.tensors) {
        if (name.rfind("model/", 0) == 0) model_state[name.substr(6)] = t;
        if (name.rfind("optimizer/", 0) == 0) optimizer_state[name.substr(10)] = t;
      }
      models::load_state_dict(*net.module, model_state);
      optimizer.load_state(optimizer_state);
      set_generator_state(ckpt.tensors.at("rng/torch"));
      start = std::stoll(ckpt.metadata["iteration"]);
      last_checkpoint = path;
      if (writer) std::fprintf(stderr, "Resuming from %s (iteration %lld)\n", path.c_str(), (long long)start);
      break;
    }
  }
  if (world > 1) {
    // Same weights everywhere (rank 0's); each rank's dropout stream derives from (seed, rank, start) (the stored
    // generator state is rank 0's, so only single-process resumes replay dropout exactly).
    broadcast_tensors(parameters_of(*net.module), *o.group);
    for (auto& b : net.module->named_buffers()) broadcast_tensors({b.value()}, *o.group);
    torch::manual_seed(uint64_t(c.run.seed) + 1000003ULL * uint64_t(rank) + 7919ULL * uint64_t(start));
  }
  if (writer) {
    fs::create_directories(checkpoints);
    io::write_file_atomic(o.work_dir / "config.yaml", config::to_yaml(c));
    truncate_log(o.work_dir / "metrics.jsonl", start);
  }

  data::LoaderOptions lo;
  lo.batch_size = c.data.batch_size;
  lo.workers = c.data.workers;
  lo.prefetch = c.data.prefetch;
  lo.seed = uint64_t(c.run.seed);
  lo.rank = rank;
  lo.world_size = world;
  lo.augment = c.data.augment;
  lo.ignore_index = c.data.ignore_index;
  for (const config::LossTermConfig& t : c.losses) {
    lo.regulariser_inputs = lo.regulariser_inputs || t.type == "densecrf" || t.type == "ncut" || t.type == "size";
    if (t.type == "boundary_ce") lo.boundary_ratio = t.boundary_ratio;
  }
  data::TrainLoader loader(train_set, lo, start);

  std::unique_ptr<io::TensorBoardWriter> board;
  std::ofstream jsonl;
  if (writer) {
    board = std::make_unique<io::TensorBoardWriter>(o.work_dir / "tensorboard");
    jsonl.open(o.work_dir / "metrics.jsonl", std::ios::app);
  }
  auto log_record = [&](const nlohmann::json& record) {
    if (!writer) return;
    jsonl << record.dump() << "\n";
    jsonl.flush();
    for (const auto& [k, v] : record.items()) {
      if (k != "iter" && v.is_number()) board->add_scalar(k, v.get<double>(), record["iter"].get<int64_t>());
    }
    board->flush();
  };

  const std::vector<at::Tensor> params = parameters_of(*net.module);
  TrainResult result;
  result.start_iteration = start;
  auto save_checkpoint = [&](int64_t iteration) {
    if (!writer) return;
    // A step can turn the weights non-finite while its loss was finite; such a state is never a checkpoint.
    for (const at::Tensor& p : params) {
      if (!at::isfinite(p).all().item<bool>()) {
        fail("train", "the weights after iteration " + std::to_string(iteration), "be finite",
             "NaN or inf; the last good checkpoint is " +
                 (last_checkpoint.empty() ? std::string("none") : last_checkpoint.string()));
      }
    }
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& [name, t] : models::state_dict(*net.module)) tensors.emplace_back("model/" + name, t);
    for (const auto& [name, t] : optimizer.state()) tensors.emplace_back("optimizer/" + name, t);
    tensors.emplace_back("rng/torch", generator_state());
    const fs::path path = checkpoint_path(checkpoints, iteration);
    io::write_safetensors(path, tensors,
                          {{"format", kCheckpointFormat},
                           {"iteration", std::to_string(iteration)},
                           {"arch", c.model.arch},
                           {"config", config::to_yaml(c)}});
    last_checkpoint = path;
    const auto all = list_checkpoints(checkpoints);
    for (size_t i = size_t(c.run.keep_checkpoints); i < all.size(); ++i) fs::remove(all[i]);
  };
  auto run_validation = [&](int64_t iteration) {
    if (!c.data.has_val) return;
    if (writer) {
      const auto scores = validate(net, val_set, c.data.num_classes, c.data.ignore_index, c.run.val_boundary_ratio,
                                   o.progress, [&](int64_t i, const cv::Mat& image, const cv::Mat& gt, const cv::Mat& pred) {
                                     if (i >= c.run.val_images) return;
                                     board->add_image("val/" + val_set.samples[i].name,
                                                      viz::side_by_side({image, viz::colorize_train_ids(gt, c.data.num_classes),
                                                                         viz::colorize_train_ids(pred, c.data.num_classes)},
                                                                        {"image", "ground truth", "prediction"}),
                                                      iteration);
                                   });
      nlohmann::json record{{"iter", iteration}};
      for (const auto& [k, v] : scores) record["val/" + k] = v;
      log_record(record);
      std::fprintf(stderr, "iter %lld: val mIoU %.2f %%, bIoU %.2f %%\n", (long long)iteration, 100 * scores.at("mIoU"),
                   100 * scores.at("bIoU"));
      result.validation = scores;
    }
    if (o.group) o.group->barrier();
  };

  // ---- The loop.
  ProgressBar bar("train", c.schedule.iters - start, o.progress && writer);
  double step_time = 0, data_time = 0, images = 0;
  int64_t steps_logged = 0;
  std::vector<double> term_sums(c.losses.size(), 0.0);
  double loss_sum = 0;
  for (int64_t it = start; it < c.schedule.iters; ++it) {
    const Clock::time_point t0 = Clock::now();
    const data::Batch batch = loader.next();
    const double waited = seconds_since(t0);
    const double lr = learning_rate(c.optimizer, c.schedule, it);

    CompositeLoss::Value value;
    {
      Autocast autocast(c.run.bf16);
      value = loss(net.forward_outputs(batch.images), batch);
    }
    // Every rank learns whether any rank diverged, so all stop together.
    at::Tensor values = at::empty({int64_t(value.terms.size()) + 1}, at::kDouble);
    values[0] = value.total.item<double>();
    for (size_t k = 0; k < value.terms.size(); ++k) values[int64_t(k) + 1] = value.terms[k].second;
    if (o.group) {
      o.group->sum_(values);
      values.div_(double(world));
    }
    if (!std::isfinite(values[0].item<double>())) {
      std::string terms;
      for (size_t k = 0; k < value.terms.size(); ++k) {
        terms += (k ? ", " : "") + value.terms[k].first + " = " + std::to_string(values[int64_t(k) + 1].item<double>());
      }
      fail("train", "the loss at iteration " + std::to_string(it + 1), "be finite",
           std::to_string(values[0].item<double>()) + " (" + terms + "); the last good checkpoint is " +
               (last_checkpoint.empty() ? std::string("none") : last_checkpoint.string()));
    }
    optimizer.zero_grad();
    value.total.backward();
    if (o.group) average_gradients(params, *o.group);
    if (c.optimizer.clip_grad_norm > 0) optimizer.clip_gradients(c.optimizer.clip_grad_norm);
    optimizer.step(lr);

    step_time += seconds_since(t0);
    data_time += waited;
    images += double(c.data.batch_size * world);
    loss_sum += values[0].item<double>();
    for (size_t k = 0; k < value.terms.size(); ++k) term_sums[k] += values[int64_t(k) + 1].item<double>();
    ++steps_logged;
    bar.advance();

    const int64_t done = it + 1;
    if (done % c.run.log_interval == 0 || done == c.schedule.iters) {
      nlohmann::json record{{"iter", done},
                            {"lr", lr},
                            {"loss", loss_sum / steps_logged},
                            {"step_time_s", step_time / steps_logged},
                            {"data_wait_fraction", data_time / step_time},
                            {"images_per_s", images / step_time}};
      for (size_t k = 0; k < value.terms.size(); ++k) record["loss/" + value.terms[k].first] = term_sums[k] / steps_logged;
      log_record(record);
      step_time = data_time = images = loss_sum = 0;
      std::fill(term_sums.begin(), term_sums.end(), 0.0);
      steps_logged = 0;
    }
    if (c.run.val_interval > 0 && done % c.run.val_interval == 0 && done != c.schedule.iters) run_validation(done);
    if (done % c.run.checkpoint_interval == 0 || done == c.schedule.iters) save_checkpoint(done);
  }
  bar.finish();
  run_validation(c.schedule.iters);

  // The trained weights alone, with a side-car that `--model` reads.
  result.weights = o.work_dir / "model.safetensors";
  if (writer) {
    io::write_safetensors(result.weights, models::state_dict(*net.module));
    const nlohmann::json sidecar{{"arch", c.model.arch},
                                 {"num_classes", c.data.num_classes},
                                 {"bn_variant", "torch_bn_relu"},
                                 {"source", "boundseg train"}};
    io::write_file_atomic(o.work_dir / "model.json", sidecar.dump(2) + "\n");
  }
  result.end_iteration = c.schedule.iters;
  return result;
}

}  // namespace boundseg::train
