// Units of the training engine: config loading, optimizers against LibTorch's, schedule, loader, augmentation,
// datasets, TensorBoard framing.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>
#include <torch/autograd.h>
#include <torch/utils.h>

#include <cstring>
#include <fstream>
#include <opencv2/core.hpp>

#include "boundseg/config/train_config.h"
#include "boundseg/data/loader.h"
#include "boundseg/data/synthetic.h"
#include "boundseg/io/atomic_file.h"
#include "boundseg/io/png.h"
#include "boundseg/io/tensorboard.h"
#include "boundseg/ops/boundary.h"
#include "boundseg/data/target.h"
#include "boundseg/losses/loss.h"
#include "boundseg/losses/ocr_losses.h"
#include "boundseg/losses/rloss.h"
#include "boundseg/train/optimizer.h"
#include "support/golden.h"

namespace boundseg {
namespace {
namespace fs = std::filesystem;

void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

TEST(TrainConfig, BaseFilesMergeAndOverridesApply) {
  testing::TempDir tmp;
  write(tmp.path() / "base.yaml",
        "model: {arch: hrnet_tiny_ocr}\n"
        "data: {train: {type: folder, image_dir: a, label_dir: b}, batch_size: 2, augment: {crop_height: 32}}\n"
        "optimizer: {lr: 0.5, momentum: 0.8}\n");
  write(tmp.path() / "child.yaml", "_base_: base.yaml\noptimizer: {lr: 0.25}\ndata: {augment: {crop_width: 48}}\n");
  const train::TrainSpec c =
      config::load_train_config(tmp.path() / "child.yaml", {"schedule.iters=7", "data.train.limit=3"});
  EXPECT_EQ(c.model.arch, "hrnet_tiny_ocr");
  EXPECT_EQ(c.optimizer.lr, 0.25);        // child over base
  EXPECT_EQ(c.optimizer.momentum, 0.8);   // maps merge key by key
  EXPECT_EQ(c.data.loader.augment.crop_height, 32);
  EXPECT_EQ(c.data.loader.augment.crop_width, 48);
  EXPECT_EQ(c.schedule.iters, 7);
  EXPECT_EQ(c.data.train.limit, 3);
  EXPECT_EQ(c.data.train.image_dir, "a");
  // The resolved YAML loads back to the same configuration.
  write(tmp.path() / "resolved.yaml", config::to_yaml(c));
  EXPECT_EQ(config::to_yaml(config::load_train_config(tmp.path() / "resolved.yaml")), config::to_yaml(c));
}

TEST(TrainConfig, ErrorsNameTheKeyPath) {
  testing::TempDir tmp;
  write(tmp.path() / "c.yaml", "data: {train: {type: folder, image_dir: a, label_dir: b}}\n");
  const fs::path c = tmp.path() / "c.yaml";
  // {overrides, message}: each loss and target reads (and checks) its own keys, one map per target (so boundary
  // terms cannot disagree on it).
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"data.augment.flip=1"}, "data.augment.flip must be a known key"},
      {{"data.batch_size=two"}, "data.batch_size must be an integer, but got 'two'"},
      {{"losses=[{type: dice}]"}, "losses[0].type must be one of ce, ohem_ce"},
      {{"data.train.type=kitti"}, "data.train.type must be one of"},
      {{"losses=[{type: ce, thresh: 0.5}]"}, "losses[0].thresh must be a known key (class_weights, output, type, weight)"},
      {{"losses=[{type: ohem_ce, thresh: 1.5}]"}, "boundseg config: losses[0].thresh must be in [0, 1], but got 1.5."},
      {{"losses=[{type: densecrf, gradient: fast}]"}, "losses[0].gradient must be reference or exact, but got 'fast'."},
      {{"losses=[{type: boundary_ce}]", "data.targets.cbl_boundary.dilation_ratio=-1"},
       "data.targets.cbl_boundary.dilation_ratio must be a finite number >= 0, but got -1."},
      {{"data.targets.cbl_boundary.dilation_ratio=0.01"},
       "data.targets.cbl_boundary must be read by a loss (the losses read labels)"},
      {{"data.targets.edges={}"}, "data.targets.edges must be one of rgb, roi, cbl_boundary, inverseform_edges"},
      {{"losses=[{type: ce, class_weights: [1, 2]}]"},
       "losses[0].class_weights must have one entry per class (19), but got 2."},
  };
  for (const auto& [overrides, message] : cases) {
    BOUNDSEG_EXPECT_THROWS_WITH(config::load_train_config(c, overrides), message);
  }
  write(tmp.path() / "loop.yaml", "_base_: loop.yaml\n");
  BOUNDSEG_EXPECT_THROWS_WITH(config::load_train_config(tmp.path() / "loop.yaml"), "_base_ must not include");
  write(tmp.path() / "nodata.yaml", "model: {arch: hrnet_tiny_ocr}\n");
  BOUNDSEG_EXPECT_THROWS_WITH(config::load_train_config(tmp.path() / "nodata.yaml"), "data.train must describe");
}

TEST(TrainConfig, DefaultsAreTheOptionStructs) {
  // A term without options gets its options struct's defaults (OHEM: the reference's 0.9, hrnet_ocr.md §4).
  testing::TempDir tmp;
  write(tmp.path() / "c.yaml", "data: {train: {type: folder, image_dir: a, label_dir: b}}\n"
                               "losses: [{type: ohem_ce}, {type: densecrf, weight: 1.0e-9}]\n");
  const train::TrainSpec c = config::load_train_config(tmp.path() / "c.yaml");
  const std::string yaml = config::to_yaml(c);
  const losses::OhemCrossEntropyOptions ohem;
  const losses::CrfKernelOptions kernel;
  EXPECT_EQ(ohem.thresh(), 0.9);
  EXPECT_NE(yaml.find("thresh: " + number_text(ohem.thresh())), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("min_kept: " + std::to_string(ohem.min_kept())), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("sigma_xy: " + number_text(kernel.sigma_xy())), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("scale_factor: " + number_text(kernel.scale_factor())), std::string::npos) << yaml;
  EXPECT_EQ(c.data.loader.batch_size, data::LoaderOptions().batch_size);
}

TEST(TrainConfig, ShippedConfigsLoadAndRoundTrip) {
  int count = 0;
  for (const auto& entry : fs::recursive_directory_iterator(fs::path(BOUNDSEG_SOURCE_DIR) / "configs")) {
    if (entry.path().extension() != ".yaml") continue;
    ++count;
    const train::TrainSpec c = config::load_train_config(entry.path());
    testing::TempDir tmp;
    write(tmp.path() / "resolved.yaml", config::to_yaml(c));
    EXPECT_EQ(config::to_yaml(config::load_train_config(tmp.path() / "resolved.yaml")), config::to_yaml(c))
        << entry.path();
  }
  EXPECT_GE(count, 9);
  const train::TrainSpec boundary =
      config::load_train_config(fs::path(BOUNDSEG_SOURCE_DIR) / "configs/synthetic/hrnet_tiny_ocr_boundary.yaml");
  ASSERT_EQ(boundary.losses.size(), 3u);
  EXPECT_EQ(boundary.losses[1].type, "boundary_ce");
  EXPECT_EQ(boundary.model.arch, "hrnet_tiny_ocr");  // from its _base_
}

TEST(TrainSchedule, PolyWithLinearWarmup) {
  train::OptimizerOptions o;
  o.lr = 0.01;
  train::ScheduleOptions s;
  s.iters = 100;
  s.power = 0.9;
  EXPECT_DOUBLE_EQ(train::learning_rate(o, s, 0), 0.01);
  EXPECT_DOUBLE_EQ(train::learning_rate(o, s, 50), 0.01 * std::pow(0.5, 0.9));
  s.warmup_iters = 10;
  s.warmup_ratio = 0.1;
  EXPECT_DOUBLE_EQ(train::learning_rate(o, s, 0), 0.01 * 0.1);
  EXPECT_NEAR(train::learning_rate(o, s, 5), 0.01 * std::pow(0.95, 0.9) * 0.55, 1e-15);
  EXPECT_DOUBLE_EQ(train::learning_rate(o, s, 10), 0.01 * std::pow(0.9, 0.9));
}

// Our optimizers against LibTorch's torch::optim implementations, step by step.
void expect_same_trajectory(const train::OptimizerOptions& ours, torch::optim::Optimizer& theirs, at::Tensor a,
                            at::Tensor b) {
  train::Optimizer optimizer({{"w", a}}, ours);
  for (int step = 0; step < 5; ++step) {
    const at::Tensor target = at::linspace(-1, 1, a.numel()).view_as(a) * (step + 1);
    optimizer.zero_grad();
    theirs.zero_grad();
    (a - target).pow(2).sum().backward();
    (b - target).pow(2).sum().backward();
    optimizer.step(ours.lr);
    theirs.step();
    EXPECT_TRUE(at::allclose(a, b, 1e-6, 1e-7)) << "step " << step << ": " << (a - b).abs().max().item<double>();
  }
  // The state round-trips.
  std::map<std::string, at::Tensor> saved;
  for (const auto& [k, v] : optimizer.state()) saved[k] = v.clone();
  train::Optimizer other({{"w", a}}, ours);
  other.load_state(saved);
  for (const auto& [k, v] : other.state()) EXPECT_TRUE(at::equal(v, saved.at(k))) << k;
}

TEST(TrainOptimizer, SgdMatchesTorchOptimSgd) {
  torch::manual_seed(0);
  at::Tensor a = at::randn({3, 4}).requires_grad_(), b = a.detach().clone().requires_grad_();
  train::OptimizerOptions o;
  o.type = "sgd";
  o.lr = 0.1;
  o.momentum = 0.9;
  o.weight_decay = 0.01;
  torch::optim::SGD sgd({b}, torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(0.01));
  expect_same_trajectory(o, sgd, a, b);
}

TEST(TrainOptimizer, AdamWMatchesTorchOptimAdamW) {
  torch::manual_seed(0);
  at::Tensor a = at::randn({5}).requires_grad_(), b = a.detach().clone().requires_grad_();
  train::OptimizerOptions o;
  o.type = "adamw";
  o.lr = 0.01;
  o.weight_decay = 0.05;
  torch::optim::AdamW adamw({b}, torch::optim::AdamWOptions(0.01).weight_decay(0.05).betas({0.9, 0.999}).eps(1e-8));
  expect_same_trajectory(o, adamw, a, b);
}

TEST(TrainOptimizer, ClipsTheGlobalGradientNorm) {
  at::Tensor a = at::zeros({2}).requires_grad_(), b = at::zeros({1}).requires_grad_();
  train::OptimizerOptions o;
  train::Optimizer optimizer({{"a", a}, {"b", b}}, o);
  a.mutable_grad() = at::tensor({3.0f, 0.0f});
  b.mutable_grad() = at::tensor({4.0f});
  EXPECT_NEAR(optimizer.clip_gradients(1.0), 5.0, 1e-12);
  EXPECT_NEAR(a.grad()[0].item<double>(), 0.6, 1e-6);
  EXPECT_NEAR(b.grad()[0].item<double>(), 0.8, 1e-6);
}

class TrainData : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new testing::TempDir();
    data::write_synthetic_cityscapes(root_->path(), 6, 48, 96, 3, false, "train");
  }
  static void TearDownTestSuite() { delete root_; }
  static data::SegmentationDataset dataset() { return data::cityscapes_dataset(root_->path(), "train", false); }
  static testing::TempDir* root_;
};
testing::TempDir* TrainData::root_ = nullptr;

data::LoaderOptions small_loader(int64_t batch, int64_t workers) {
  data::LoaderOptions o;
  o.batch_size = batch;
  o.workers = workers;
  o.seed = 11;
  o.augment.crop_height = 32;
  o.augment.crop_width = 40;
  return o;
}

TEST_F(TrainData, CityscapesLabelIdsMapToTheTrainIdFiles) {
  const data::SegmentationDataset train_ids = dataset();
  const data::SegmentationDataset label_ids = data::cityscapes_dataset(root_->path(), "train", true);
  ASSERT_EQ(train_ids.size(), 6);
  for (int64_t i = 0; i < train_ids.size(); ++i) {
    EXPECT_EQ(cv::norm(train_ids.read_label(i), label_ids.read_label(i), cv::NORM_INF), 0.0);
  }
  BOUNDSEG_EXPECT_THROWS_WITH(data::cityscapes_dataset(root_->path(), "val", false),
                              "the Cityscapes image folder must be an existing folder");
}

TEST_F(TrainData, LoaderIsDeterministicWhateverTheWorkerCount) {
  data::TrainLoader serial(dataset(), small_loader(2, 0)), threaded(dataset(), small_loader(2, 2));
  for (int k = 0; k < 5; ++k) {  // crosses an epoch boundary (6 samples, 2 per batch)
    const data::Batch a = serial.next(), b = threaded.next();
    EXPECT_EQ(a.names, b.names);
    EXPECT_TRUE(at::equal(a.images, b.images)) << k;
    EXPECT_TRUE(at::equal(a.labels(), b.labels())) << k;
    EXPECT_EQ(a.images.sizes(), (std::vector<int64_t>{2, 3, 32, 40}));
  }
  // Starting at batch 3 gives batch 3.
  data::TrainLoader resumed(dataset(), small_loader(2, 1), 3);
  data::TrainLoader fresh(dataset(), small_loader(2, 0));
  for (int k = 0; k < 3; ++k) fresh.next();
  EXPECT_TRUE(at::equal(resumed.next().images, fresh.next().images));
}

TEST_F(TrainData, RanksTogetherSeeTheSingleProcessBatch) {
  data::TrainLoader single(dataset(), small_loader(4, 0));
  data::LoaderOptions r0 = small_loader(2, 0), r1 = small_loader(2, 0);
  r0.world_size = r1.world_size = 2;
  r1.rank = 1;
  data::TrainLoader rank0(dataset(), r0), rank1(dataset(), r1);
  for (int k = 0; k < 3; ++k) {
    const data::Batch s = single.next(), a = rank0.next(), b = rank1.next();
    // Single batch = positions 4k..4k+3; rank r holds 4k + 2j + r.
    EXPECT_TRUE(at::equal(s.images.index_select(0, at::tensor({0, 2})), a.images)) << k;
    EXPECT_TRUE(at::equal(s.images.index_select(0, at::tensor({1, 3})), b.images)) << k;
    EXPECT_TRUE(at::equal(s.labels().index_select(0, at::tensor({1, 3})), b.labels())) << k;
  }
}

TEST_F(TrainData, EpochsVisitEverySampleOnce) {
  data::TrainLoader loader(dataset(), small_loader(1, 0));
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    std::vector<int64_t> seen;
    for (int64_t p = 0; p < 6; ++p) seen.push_back(loader.sample_at(epoch * 6 + p));
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  }
}

// The cbl_boundary target with its default options, as the trainer makes it.
std::shared_ptr<const data::Target> cbl_boundary_target() {
  return data::target_registry().at("cbl_boundary", "test", "target").make(nullptr, {19, 255}, "test");
}

TEST_F(TrainData, LoaderAddsCblBoundaryTargetsOfTheFullLabel) {
  data::LoaderOptions plain = small_loader(2, 0), with_boundary = small_loader(2, 1);
  with_boundary.targets = {{"cbl_boundary", cbl_boundary_target()}};
  data::TrainLoader a(dataset(), plain), b(dataset(), with_boundary);
  for (int k = 0; k < 3; ++k) {
    const data::Batch x = a.next(), y = b.next();
    EXPECT_EQ(x.targets.size(), 1u);  // the labels alone: exactly the requested targets
    ASSERT_EQ(y.targets.count("cbl_boundary"), 1u);
    const at::Tensor& boundary = y.targets.at("cbl_boundary");
    // The boundary map draws no random numbers: the same images and labels.
    EXPECT_TRUE(at::equal(x.images, y.images)) << k;
    EXPECT_TRUE(at::equal(x.labels(), y.labels())) << k;
    EXPECT_EQ(boundary.sizes(), y.labels().sizes());
    // Ignore exactly where the label is ignored (void and padding), {0, 1} elsewhere, some boundary present.
    EXPECT_TRUE(at::equal(boundary == 255, y.labels() == 255)) << k;
    EXPECT_TRUE(((boundary == 0) | (boundary == 1) | (boundary == 255)).all().item<bool>());
    EXPECT_GT((boundary == 1).sum().item<int64_t>(), 0);
  }
  // With the identity geometry (scale 1, no flip, the crop = the image) it is CBL's map of the file's label.
  data::LoaderOptions identity = with_boundary;
  identity.augment.crop_height = 48;
  identity.augment.crop_width = 96;
  identity.augment.scale_min = identity.augment.scale_max = 1.0;
  identity.augment.flip_probability = 0;
  identity.augment.cat_max_ratio = 1.0;
  data::TrainLoader loader(dataset(), identity);
  const data::Batch batch = loader.next();
  for (int64_t j = 0; j < 2; ++j) {
    const at::Tensor expected = ops::cbl_boundary_targets(batch.labels()[j].to(at::kByte), {});
    EXPECT_TRUE(at::equal(batch.targets.at("cbl_boundary")[j], expected)) << j;
  }
}

TEST_F(TrainData, RegulariserTargetsAreTheAugmentedImageAndItsPaddingMask) {
  data::LoaderOptions o = small_loader(2, 0);
  o.augment.crop_height = 64;  // 48-row images at scale 1: rows 48..63 are padding
  o.augment.scale_min = o.augment.scale_max = 1.0;
  o.augment.photometric = false;
  for (const char* name : {"rgb", "roi"}) {
    o.targets.emplace_back(name, data::target_registry().at(name, "test", "target").make(nullptr, {19, 255}, "test"));
  }
  data::TrainLoader loader(dataset(), o);
  const data::Batch batch = loader.next();
  const at::Tensor& rgb = batch.targets.at("rgb");
  const at::Tensor& roi = batch.targets.at("roi");
  EXPECT_EQ(rgb.sizes(), (at::IntArrayRef{2, 3, 64, 40}));
  EXPECT_EQ(roi.sizes(), (at::IntArrayRef{2, 64, 40}));
  // Padding (the bottom rows): ROI 0, label ignore, colour 0; image pixels: ROI 1.
  EXPECT_TRUE((roi.narrow(1, 0, 48) == 1).all().item<bool>());
  EXPECT_TRUE((roi.narrow(1, 48, 16) == 0).all().item<bool>());
  EXPECT_TRUE((batch.labels().narrow(1, 48, 16) == 255).all().item<bool>());
  EXPECT_TRUE((rgb.narrow(2, 48, 16) == 0).all().item<bool>());
  // The RGB target is the normalised network input undone (openseg normalisation of B, G, R planes).
  const at::Tensor mean = at::tensor({0.485f, 0.456f, 0.406f}).view({1, 3, 1, 1});
  const at::Tensor stddev = at::tensor({0.229f, 0.224f, 0.225f}).view({1, 3, 1, 1});
  const at::Tensor bgr = (batch.images * stddev + mean) * 255;
  EXPECT_LT((bgr.flip(1) - rgb).abs().max().item<double>(), 1e-3);
}

TEST(TrainLoss, BoundaryCrossEntropyAveragesOverTheBoundaryPixels) {
  const at::Tensor logits = at::randn({2, 4, 6, 7});
  at::Tensor labels = at::randint(0, 4, {2, 6, 7}, at::kLong);
  labels.index_put_({0, 0}, 255);  // an ignored row
  at::Tensor boundary = at::randint(0, 2, {2, 6, 7}, at::kLong).to(at::kByte);
  boundary.index_put_({1, 2}, 255);
  const std::vector<double> class_weights = {1.0, 2.0, 0.5, 1.5};
  const losses::WeightedSum loss(
      {losses::make_loss_term("boundary_ce", {4, 255}, 1.0, {{"class_weights", "1,2,0.5,1.5"}})});
  EXPECT_EQ(loss.targets(), (std::vector<std::string>{"labels", "cbl_boundary"}));
  const losses::TensorMap targets{{"labels", labels}, {"cbl_boundary", boundary}};
  const double value = loss({{"out", logits}}, targets).total.item<double>();
  // Independent: Σ w_y · (−log softmax_y) / Σ w_y over pixels with boundary 1 and a label.
  const at::Tensor log_p = at::log_softmax(logits.to(at::kDouble), 1);
  double numerator = 0, denominator = 0;
  for (int64_t n = 0; n < 2; ++n) {
    for (int64_t y = 0; y < 6; ++y) {
      for (int64_t x = 0; x < 7; ++x) {
        const int64_t label = labels[n][y][x].item<int64_t>();
        if (boundary[n][y][x].item<int64_t>() != 1 || label == 255) continue;
        numerator -= class_weights[label] * log_p[n][label][y][x].item<double>();
        denominator += class_weights[label];
      }
    }
  }
  ASSERT_GT(denominator, 0);
  EXPECT_NEAR(value, numerator / denominator, 1e-5);
  // No boundary pixel: zero, with a gradient path.
  boundary.zero_();
  const at::Tensor leaf = logits.clone().requires_grad_();
  const at::Tensor zero = loss({{"out", leaf}}, targets).total;
  EXPECT_EQ(zero.item<double>(), 0.0);
  zero.backward();
  EXPECT_TRUE(leaf.grad().defined());
}

TEST(TrainLoss, EveryRegisteredLossDeclaresWhatItReads) {
  // Registry-driven: each loss builds with its defaults, runs on a batch holding exactly the targets it declares,
  // gives a finite 0-d value with a gradient, and names a missing target in its error.
  const losses::LossContext context{3, 255};
  const at::Tensor logits = at::randn({2, 3, 16, 16}).requires_grad_();
  const losses::TensorMap all{{"labels", at::randint(0, 3, {2, 16, 16}, at::kLong)},
                              {"cbl_boundary", at::randint(0, 2, {2, 16, 16}, at::kLong).to(at::kByte)},
                              {"rgb", at::rand({2, 3, 16, 16}) * 255},
                              {"roi", at::ones({2, 16, 16})}};
  ASSERT_GE(losses::registered_losses().size(), 7u);
  for (const std::string& type : losses::registered_losses()) {
    const losses::LossTerm term = losses::make_loss_term(type, context);
    EXPECT_EQ(term.loss->outputs(), (std::vector<std::string>{"out"})) << type;
    losses::TensorMap targets;
    for (const std::string& name : term.loss->targets()) targets[name] = all.at(name);
    const at::Tensor value = term.loss->forward({{"out", logits}}, targets);
    EXPECT_EQ(value.dim(), 0) << type;
    EXPECT_TRUE(std::isfinite(value.item<double>())) << type;
    EXPECT_TRUE(torch::autograd::grad({value}, {logits}, {}, true, false, true)[0].defined()) << type;
    const std::string missing = term.loss->targets().back();
    targets.erase(missing);
    BOUNDSEG_EXPECT_THROWS_WITH(term.loss->forward({{"out", logits}}, targets), "'" + missing + "' must be given");
  }
  BOUNDSEG_EXPECT_THROWS_WITH(losses::make_loss_term("ohem_ce", context, 1.0, {{"tresh", "0.5"}}),
                              "option 'tresh' must be one of its options, but got an unknown key");
}

TEST(TrainAugment, CarriedMapsFollowTheLabelGeometry) {
  // Carry the label itself: after resize, padding, crop and flip both must be identical, and
  // the image must be what augmenting without the map gives (the map draws no random numbers).
  cv::Mat image(37, 53, CV_8UC3), label(37, 53, CV_8U);
  cv::randu(image, 0, 255);
  cv::randu(label, 0, 6);
  data::AugmentOptions o;
  o.crop_height = 48;  // padded at small scales
  o.crop_width = 64;
  o.scale_min = 0.6;
  o.scale_max = 1.8;
  for (uint64_t seed = 0; seed < 12; ++seed) {
    std::mt19937_64 a(seed), b(seed);
    const data::AugmentedPair with = data::augment(image, label, o, 255, a, {{label, 255.0, {}}});
    const data::AugmentedPair without = data::augment(image, label, o, 255, b);
    ASSERT_EQ(with.carried.size(), 1u);
    ASSERT_EQ(with.carried[0].size(), with.label.size());
    EXPECT_EQ(cv::norm(with.carried[0], with.label, cv::NORM_INF), 0.0) << seed;
    EXPECT_EQ(cv::norm(with.image, without.image, cv::NORM_INF), 0.0) << seed;
    EXPECT_TRUE(without.carried.empty());
  }
  std::mt19937_64 rng(0);
  BOUNDSEG_EXPECT_THROWS_WITH(data::augment(image, label, o, 255, rng, {{cv::Mat(3, 3, CV_8U), 0.0, {}}}),
                              "carried map 0 must be single-channel of the label's size");
}

TEST(TrainAugment, CropsPadsAndKeepsLabelValues) {
  cv::Mat image(20, 30, CV_8UC3, cv::Scalar(10, 20, 30)), label(20, 30, CV_8U, cv::Scalar(3));
  label(cv::Rect(0, 0, 15, 20)).setTo(7);
  data::AugmentOptions o;
  o.crop_height = 40;  // larger than the image even at scale 1.5: padded with ignore
  o.crop_width = 50;
  o.scale_min = 1.0;
  o.scale_max = 1.5;
  std::mt19937_64 rng(1);
  for (int i = 0; i < 10; ++i) {
    const data::AugmentedPair p = data::augment(image, label, o, 255, rng);
    ASSERT_EQ(p.image.size(), cv::Size(50, 40));
    ASSERT_EQ(p.label.size(), cv::Size(50, 40));
    for (int y = 0; y < 40; ++y) {
      for (int x = 0; x < 50; ++x) {
        const int v = p.label.at<uint8_t>(y, x);
        ASSERT_TRUE(v == 3 || v == 7 || v == 255) << v;
      }
    }
    EXPECT_EQ(p.label.at<uint8_t>(39, 49), 255);  // bottom-right is padding
  }
  // Same generator state, same result.
  std::mt19937_64 a(5), b(5);
  EXPECT_EQ(cv::norm(data::augment(image, label, o, 255, a).image, data::augment(image, label, o, 255, b).image,
                     cv::NORM_INF),
            0.0);
}

TEST(TrainAugment, CatMaxRatioRedrawsCropsDominatedByOneClass) {
  // 90 % of the image is class 1; a 10x10 crop mostly sees only class 1 unless it is re-drawn.
  cv::Mat image(100, 100, CV_8UC3, cv::Scalar::all(0)), label(100, 100, CV_8U, cv::Scalar(1));
  label(cv::Rect(0, 0, 100, 10)).setTo(2);
  data::AugmentOptions o;
  o.crop_height = o.crop_width = 10;
  o.scale_min = o.scale_max = 1.0;
  o.flip_probability = 0;
  o.photometric = false;
  auto mixed_crops = [&](double ratio) {
    o.cat_max_ratio = ratio;
    std::mt19937_64 rng(3);
    int mixed = 0;
    for (int i = 0; i < 200; ++i) {
      const cv::Mat l = data::augment(image, label, o, 255, rng).label;
      mixed += cv::countNonZero(l == 2) > 0 && cv::countNonZero(l == 1) > 0;
    }
    return mixed;
  };
  EXPECT_GT(mixed_crops(0.75), 3 * mixed_crops(1.0));
}

TEST(TensorBoard, Crc32cAndRecordFraming) {
  EXPECT_EQ(io::crc32c("123456789"), 0xE3069283u);  // the standard CRC-32C check value
  testing::TempDir tmp;
  fs::path path;
  {
    io::TensorBoardWriter w(tmp.path());
    w.add_scalar("loss", 0.5, 3);
    w.add_image("val/x", cv::Mat(4, 6, CV_8UC3, cv::Scalar(1, 2, 3)), 3);
    path = w.path();
  }
  const std::string bytes = io::read_file(path, "events");
  // Walk the records: length, masked CRC of the length, payload, masked CRC of the payload.
  auto masked = [](uint32_t c) { return ((c >> 15) | (c << 17)) + 0xa282ead8u; };
  size_t offset = 0;
  int records = 0;
  while (offset < bytes.size()) {
    uint64_t length;
    uint32_t crc_length, crc_data;
    std::memcpy(&length, bytes.data() + offset, 8);
    std::memcpy(&crc_length, bytes.data() + offset + 8, 4);
    EXPECT_EQ(crc_length, masked(io::crc32c(std::string_view(bytes.data() + offset, 8))));
    std::memcpy(&crc_data, bytes.data() + offset + 12 + length, 4);
    EXPECT_EQ(crc_data, masked(io::crc32c(std::string_view(bytes.data() + offset + 12, length))));
    offset += 16 + length;
    ++records;
  }
  EXPECT_EQ(offset, bytes.size());
  EXPECT_EQ(records, 3);  // file version, scalar, image
  EXPECT_NE(bytes.find("brain.Event:2"), std::string::npos);
  EXPECT_NE(bytes.find("\x89PNG"), std::string::npos);
}

}  // namespace
}  // namespace boundseg
