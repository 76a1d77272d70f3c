// End-to-end runs of the boundseg binary: the normal workflow and bad input.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include <opencv2/core.hpp>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/utils.h>

#include "boundseg/io/atomic_file.h"
#include "boundseg/io/png.h"
#include "boundseg/io/cityscapes_labels.h"
#include "boundseg/io/safetensors.h"
#include "boundseg/models/hrnet_ocr.h"
#include "boundseg/models/state_dict.h"
#include "boundseg/viz/render.h"
#include "support/cli.h"
#include "support/golden.h"

namespace boundseg {
namespace {

namespace fs = std::filesystem;

// A small synthetic Cityscapes tree shared by the tests of this file.
class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new testing::TempDir();
    const CliRun r = run_cli("synth --out " + data().string() + " --n 3 --size 96x192");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  static void TearDownTestSuite() { delete root_; }
  static fs::path data() { return root_->path() / "data"; }
  // A private copy of the semantic predictions that a test may break.
  fs::path copy_predictions(const std::string& name) {
    const fs::path dst = root_->path() / name;
    fs::copy(data() / "pred" / "semantic", dst, fs::copy_options::recursive);
    return dst;
  }
  std::string eval_args(const fs::path& pred, const fs::path& json) {
    return "eval --quiet --gt " + (data() / "gtFine").string() + " --pred " + pred.string() + " --json " + json.string();
  }
  static testing::TempDir* root_;
};
testing::TempDir* CliTest::root_ = nullptr;

TEST_F(CliTest, EvalWritesTableAndJsonWithEveryMetric) {
  const fs::path json = root_->path() / "out" / "results.json";
  const CliRun r = run_cli(eval_args(data() / "pred" / "semantic", json) + " --instances " +
                        (data() / "pred" / "instances").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("mIoU"), std::string::npos);
  EXPECT_NE(r.output.find("BIoU@0.02"), std::string::npos);
  const auto j = nlohmann::json::parse(io::read_file(json, "test"));
  for (const char* key : {"mIoU", "class_iou", "category_iou", "iIoU", "boundary_iou", "boundary_f", "AP", "AP50",
                          "boundary_AP"})
    EXPECT_TRUE(j.contains(key)) << key;
  for (const char* key : {"mIoU", "iIoU", "AP", "AP50", "boundary_AP"}) {
    const double v = j[key].get<double>();
    EXPECT_GE(v, 0.0) << key;
    EXPECT_LE(v, 1.0) << key;
  }
  EXPECT_LT(j["boundary_iou"]["0.005"]["mean"].get<double>(), j["mIoU"].get<double>())
      << "synthetic predictions are wrong mostly at boundaries";
  EXPECT_EQ(j["num_images"].get<int>(), 3);
}

TEST_F(CliTest, DemoWritesMetricsAndThePicture) {
  const fs::path out = root_->path() / "demo";
  const CliRun r = run_cli("demo --quiet --out " + out.string() +
                           " --images 2 --size 64x128 --train-iters 3 --train-images 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(out / "results.json"));
  const cv::Mat picture = io::read_color_image(out / "boundary_errors.png");
  EXPECT_GE(picture.cols, 3 * 128);
  // The training part: a report comparing the untrained and trained model, their predictions and overlays, and the
  // trained weights with the side-car `infer --model` reads.
  const std::string report = io::read_file(out / "report.md", "test");
  EXPECT_NE(report.find("| untrained (same initialisation) |"), std::string::npos) << report;
  EXPECT_NE(report.find("| trained |"), std::string::npos) << report;
  EXPECT_TRUE(fs::exists(out / "trained" / "semantic" / "aachen_000000_000019_leftImg8bit.png"));
  EXPECT_TRUE(fs::exists(out / "trained" / "overlays" / "aachen_000000_000019.png"));
  EXPECT_TRUE(fs::exists(out / "train" / "model.json"));
  const CliRun infer = run_cli("infer --quiet --model " + (out / "train" / "model.json").string() + " --weights " +
                               (out / "train" / "model.safetensors").string() + " --images " +
                               (out / "leftImg8bit" / "val").string() + " --out " + (out / "infer").string());
  EXPECT_EQ(infer.exit_code, 0) << infer.output;
}

void expect_failure(const CliRun& r, const std::string& message, const fs::path& json) {
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(message), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(json)) << "no partial JSON may be left behind";
}

TEST_F(CliTest, TruncatedPredictionFailsNamingTheFile) {
  const fs::path pred = copy_predictions("truncated");
  const fs::path victim = pred / "bochum_000001_000019_leftImg8bit.png";
  const std::string bytes = io::read_file(victim, "test");
  io::write_file_atomic(victim, bytes.substr(0, bytes.size() / 3));
  const fs::path json = root_->path() / "truncated.json";
  expect_failure(run_cli(eval_args(pred, json)),
                 "the label file '" + victim.string() + "' must be a complete, valid PNG", json);
}

TEST_F(CliTest, NonPngColourAndMisSizedPredictionsFail) {
  const fs::path json = root_->path() / "bad.json";
  fs::path pred = copy_predictions("notpng");
  io::write_file_atomic(pred / "aachen_000000_000019_leftImg8bit.png", "GIF89a, not a png");
  expect_failure(run_cli(eval_args(pred, json)), "must be a PNG image, but got a file without the PNG signature", json);

  pred = copy_predictions("colour");
  io::write_png(pred / "aachen_000000_000019_leftImg8bit.png", cv::Mat(96, 192, CV_8UC3, cv::Scalar(128, 64, 128)));
  expect_failure(run_cli(eval_args(pred, json)), "labels must be ids, not colours", json);

  pred = copy_predictions("small");
  io::write_png(pred / "aachen_000000_000019_leftImg8bit.png", cv::Mat(48, 96, CV_8UC1, cv::Scalar(7)));
  expect_failure(run_cli(eval_args(pred, json)), "(192x96), but got 96x48", json);
}

TEST_F(CliTest, OutOfRangeIdsAndUnpairedFilesFail) {
  const fs::path json = root_->path() / "range.json";
  fs::path pred = copy_predictions("range");
  cv::Mat train_ids(96, 192, CV_8UC1, cv::Scalar(13));
  train_ids.at<uint8_t>(5, 9) = 255;
  io::write_png(pred / "cologne_000002_000019_leftImg8bit.png", train_ids);
  expect_failure(run_cli(eval_args(pred, json)), "but got value 255 at pixel (x=9, y=5)", json);

  pred = copy_predictions("unpaired");
  fs::remove(pred / "cologne_000002_000019_leftImg8bit.png");
  expect_failure(run_cli(eval_args(pred, json)), "must be exactly one PNG named 'cologne_000002_000019*.png'", json);
}

TEST_F(CliTest, EmptyDirectoriesAndUsageErrorsFail) {
  const fs::path json = root_->path() / "empty.json";
  const fs::path empty = root_->path() / "empty_gt";
  fs::create_directories(empty);
  const CliRun r = run_cli("eval --quiet --gt " + empty.string() + " --pred " + empty.string() + " --json " + json.string());
  expect_failure(r, "must contain Cityscapes ground truth", json);
  EXPECT_EQ(r.exit_code, 1);
  const CliRun usage = run_cli("eval --no-such-flag");
  EXPECT_EQ(usage.exit_code, 2);
  const CliRun bad_metric = run_cli(eval_args(data() / "pred" / "semantic", json) + " --metrics miou,dice");
  expect_failure(bad_metric, "--metrics must list names from miou, biou, bf, ap, but got 'dice'", json);
  EXPECT_EQ(bad_metric.exit_code, 2);
}

TEST_F(CliTest, MetricSubsetsWriteOnlyTheirKeys) {
  const fs::path json = root_->path() / "subset.json";
  const std::string instances = " --instances " + (data() / "pred" / "instances").string();
  for (const std::string metrics : {"miou", "biou", "bf", "ap"}) {
    const CliRun r = run_cli(eval_args(data() / "pred" / "semantic", json) + instances + " --metrics " + metrics);
    ASSERT_EQ(r.exit_code, 0) << metrics << "\n" << r.output;
    const auto j = nlohmann::json::parse(io::read_file(json, "test"));
    EXPECT_EQ(j.contains("mIoU"), metrics == "miou") << metrics;
    EXPECT_EQ(j.contains("boundary_iou"), metrics == "biou") << metrics;
    EXPECT_EQ(j.contains("boundary_f"), metrics == "bf") << metrics;
    EXPECT_EQ(j.contains("AP"), metrics == "ap") << metrics;
  }
}

TEST_F(CliTest, InstanceResultsBesideSemanticPredictionsAreFoundByDefault) {
  const fs::path pred = copy_predictions("together");
  fs::copy(data() / "pred" / "instances", pred, fs::copy_options::recursive);
  const fs::path json = root_->path() / "together.json";
  const CliRun r = run_cli(eval_args(pred, json));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(io::read_file(json, "test"));
  EXPECT_TRUE(j.contains("AP") && j.contains("mIoU"));
}

TEST_F(CliTest, BadGroundTruthAndSixteenBitPredictionsFail) {
  const fs::path json = root_->path() / "gtbad.json";
  const fs::path gt = root_->path() / "gt_copy";
  fs::copy(data() / "gtFine", gt, fs::copy_options::recursive);
  const fs::path victim = gt / "val" / "bochum" / "bochum_000001_000019_gtFine_labelIds.png";
  cv::Mat ids = io::read_label_png(victim);
  ids.at<uint8_t>(3, 4) = 40;
  io::write_png(victim, ids);
  const CliRun r = run_cli("eval --quiet --gt " + gt.string() + " --pred " + (data() / "pred" / "semantic").string() +
                           " --metrics biou --json " + json.string());
  expect_failure(r, "the ground truth '" + victim.string() + "' must hold Cityscapes label ids 0..33", json);
  EXPECT_NE(r.output.find("value 40 at pixel (x=4, y=3)"), std::string::npos) << r.output;

  const fs::path pred = copy_predictions("sixteen");
  io::write_png(pred / "aachen_000000_000019_leftImg8bit.png", cv::Mat(96, 192, CV_16UC1, cv::Scalar(7)));
  expect_failure(run_cli(eval_args(pred, json)), "must be an 8-bit PNG of Cityscapes label ids, but got a 16-bit PNG",
                 json);
}

TEST_F(CliTest, BadInstanceResultsFailNamingTheFile) {
  const fs::path json = root_->path() / "inst.json";
  fs::path inst = root_->path() / "inst_missing";
  fs::copy(data() / "pred" / "instances", inst, fs::copy_options::recursive);
  fs::remove(inst / "cologne_000002_000019_leftImg8bit_pred.txt");
  expect_failure(run_cli(eval_args(data() / "pred" / "semantic", json) + " --instances " + inst.string()),
                 "must be exactly one 'cologne_000002_000019*.txt' under --instances", json);

  inst = root_->path() / "inst_badmask";
  fs::copy(data() / "pred" / "instances", inst, fs::copy_options::recursive);
  const std::string txt = io::read_file(inst / "aachen_000000_000019_leftImg8bit_pred.txt", "test");
  const fs::path mask = inst / txt.substr(0, txt.find(' '));
  io::write_file_atomic(mask, "not a png");
  expect_failure(run_cli(eval_args(data() / "pred" / "semantic", json) + " --instances " + inst.string()),
                 "the label file '" + mask.string() + "' must be a PNG image", json);
}

TEST_F(CliTest, FailureKeepsAnEarlierJsonIntact) {
  const fs::path json = root_->path() / "keep.json";
  io::write_file_atomic(json, "{\"earlier\": true}\n");
  const fs::path pred = copy_predictions("keep");
  fs::remove(pred / "aachen_000000_000019_leftImg8bit.png");
  const CliRun r = run_cli(eval_args(pred, json));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(io::read_file(json, "test"), "{\"earlier\": true}\n");
}

}  // namespace
}  // namespace boundseg

namespace boundseg {
namespace {

TEST(CliCoco, EvalOfCocoJsonMatchesTheGoldenStats) {
  testing::TempDir dir;
  const auto golden = testing::golden_dir("metrics");
  const fs::path json = dir.path() / "coco.json";
  const CliRun r = run_cli("eval --coco-gt " + (golden / "coco_gt.json").string() + " --coco-dt " +
                           (golden / "coco_dt.json").string() + " --json " + json.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto got = nlohmann::json::parse(io::read_file(json, "test"));
  const auto expected = testing::read_json(golden / "coco_boundary_ap.json");
  const auto& names = expected["stats_names"];
  testing::CaseCount cases("summary stats of coco_boundary_ap.json");
  for (const char* type : {"segm", "boundary"})
    for (size_t i = 0; i < names.size(); ++i) {
      EXPECT_NEAR(got[type][names[i].get<std::string>()].get<double>(), expected[type]["stats"][i].get<double>(), 1e-9)
          << type << " " << names[i];
      cases.add();
    }
}

TEST(CliCoco, MalformedJsonFailsWithoutOutput) {
  testing::TempDir dir;
  io::write_file_atomic(dir.path() / "gt.json", "{\"images\": [");
  const fs::path json = dir.path() / "out.json";
  const CliRun r = run_cli("eval --coco-gt " + (dir.path() / "gt.json").string() + " --coco-dt " +
                           (dir.path() / "gt.json").string() + " --json " + json.string());
  expect_failure(r, "must be valid JSON, but got a parse error", json);
}

}  // namespace
}  // namespace boundseg

namespace boundseg {
namespace {

TEST(CliConvert, PthCheckpointBecomesSafetensorsReadableInCpp) {
  if (!fs::exists("/usr/bin/python3") || std::system("/usr/bin/python3 -c 'import torch' 2>/dev/null") != 0) {
    GTEST_SKIP() << "python3-torch is not installed: the converter cannot run";
  }
  testing::TempDir dir;
  const fs::path pth = dir.path() / "model.pth";
  const std::string make = "/usr/bin/python3 -c \"import torch, collections; torch.save({'meta': {}, 'state_dict': "
                           "collections.OrderedDict([('module.backbone.conv1.weight', torch.arange(6.).reshape(2, 3)), "
                           "('module.cls_head.weight', torch.ones(19, 4, 1, 1)), ('module.cls_head.bias', "
                           "torch.zeros(19))])}, '" + pth.string() + "')\"";
  ASSERT_EQ(std::system(make.c_str()), 0);
  const fs::path out = dir.path() / "model.safetensors";
  const CliRun r = run_cli("convert --quiet " + pth.string() + " " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const io::Safetensors weights = io::read_safetensors(out);
  ASSERT_EQ(weights.tensors.count("backbone.conv1.weight"), 1u) << "the module. prefix is stripped";
  EXPECT_TRUE(weights.tensors.at("backbone.conv1.weight").equal(at::arange(6.).reshape({2, 3}).to(at::kFloat)));
  EXPECT_EQ(weights.tensors.at("cls_head.weight").size(0), 19);
  EXPECT_TRUE(fs::exists(dir.path() / "model.json"));
}

TEST(CliConvert, MissingCheckpointFailsNamingIt) {
  testing::TempDir dir;
  const CliRun r = run_cli("convert " + (dir.path() / "nope.pth").string() + " " +
                           (dir.path() / "out.safetensors").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("nope.pth"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.path() / "out.safetensors"));
}

}  // namespace
}  // namespace boundseg

namespace boundseg {
namespace {

// Random HRNet-W18+OCR weights written as safetensors, and two small images.
struct InferSetup {
  testing::TempDir dir;
  InferSetup() {
    torch::manual_seed(1);
    models::HrnetOcr model(models::hrnet_ocr_options("hrnet18", 19));
    io::write_safetensors(dir.path() / "w18.safetensors", models::state_dict(*model));
    fs::create_directories(dir.path() / "images");
    cv::Mat image(48, 80, CV_8UC3);
    cv::randu(image, 0, 255);
    io::write_png(dir.path() / "images" / "a.png", image);
    io::write_png(dir.path() / "images" / "b.png", image(cv::Rect(0, 0, 64, 40)).clone());
  }
};

TEST(CliInfer, WritesOneLabelPngPerImageAndOverlays) {
  InferSetup s;
  const fs::path out = s.dir.path() / "out";
  const CliRun r = run_cli("infer --quiet --model hrnet_w18_ocr --weights " + (s.dir.path() / "w18.safetensors").string() +
                           " --images " + (s.dir.path() / "images").string() + " --out " + out.string() +
                           " --format labelids --crop 32x48 --flip --overlay");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const cv::Mat a = io::read_label_png(out / "a.png"), b = io::read_label_png(out / "b.png");
  EXPECT_EQ(a.size(), cv::Size(80, 48));
  EXPECT_EQ(b.size(), cv::Size(64, 40));
  const auto& valid = cityscapes::train_id_to_id();
  for (int i = 0; i < a.rows * a.cols; ++i)
    ASSERT_NE(std::find(valid.begin(), valid.end(), int(a.data[i])), valid.end()) << int(a.data[i]);
  EXPECT_EQ(io::read_color_image(out / "a_overlay.png").size(), cv::Size(80, 48));
}

TEST(CliInfer, WeightsOfAnotherArchitectureFailNamingKeys) {
  InferSetup s;
  const CliRun r = run_cli("infer --quiet --model hrnet_w32_ocr --weights " + (s.dir.path() / "w18.safetensors").string() +
                           " --images " + (s.dir.path() / "images").string() + " --out " +
                           (s.dir.path() / "out").string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("mis-shaped keys (aux_head.0.bias: model [480], weights [270]"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(s.dir.path() / "out" / "a.png"));
}

TEST(CliInfer, ConfigFileSetsArchitectureAndPaletteAndBatchingKeepsResults) {
  InferSetup s;
  const fs::path config = s.dir.path() / "w18.json";
  io::write_file_atomic(config, R"({"arch": "hrnet_w18_ocr", "num_classes": 19, "palette": "ade20k"})");
  const std::string common = " --weights " + (s.dir.path() / "w18.safetensors").string() + " --images " +
                             (s.dir.path() / "images" / "a.png").string() + " --crop 32x48 --flip --out ";
  const CliRun one = run_cli("infer --quiet --model " + config.string() + common + (s.dir.path() / "one").string());
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const CliRun colour = run_cli("infer --quiet --model " + config.string() + common +
                                (s.dir.path() / "colour").string() + " --format color --batch-size 3");
  ASSERT_EQ(colour.exit_code, 0) << colour.output;
  // Every colour is the ADE20K colour of the class predicted without batching (the config's palette).
  const cv::Mat ids = io::read_label_png(s.dir.path() / "one" / "a.png");
  const cv::Mat rgb = io::read_color_image(s.dir.path() / "colour" / "a.png");
  int64_t mismatches = 0;
  for (int y = 0; y < ids.rows; ++y) {
    for (int x = 0; x < ids.cols; ++x) {
      const auto expected = viz::palette_color(viz::Palette::kAde20k, ids.at<uint8_t>(y, x));
      ASSERT_TRUE(expected.has_value());
      const cv::Vec3b bgr = rgb.at<cv::Vec3b>(y, x);
      mismatches += bgr != cv::Vec3b((*expected)[2], (*expected)[1], (*expected)[0]);
    }
  }
  // Batching may flip a near-tie pixel (last-bit differences), nothing more.
  EXPECT_LE(mismatches, 2) << mismatches;
}

TEST(CliInfer, UnknownArchitectureInConfigFailsNamingTheChoices) {
  InferSetup s;
  const fs::path config = s.dir.path() / "bad.json";
  io::write_file_atomic(config, R"({"arch": "hrnet_w20_ocr"})");
  const CliRun r = run_cli("infer --quiet --model " + config.string() + " --weights " +
                           (s.dir.path() / "w18.safetensors").string() + " --images " +
                           (s.dir.path() / "images").string() + " --out " + (s.dir.path() / "out").string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("key \"arch\" must name one of hrnet_w18_ocr"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("but got 'hrnet_w20_ocr'"), std::string::npos) << r.output;
}

TEST(CliExport, WritesATorchScriptFileAndFailsCleanlyOnWrongWeights) {
  InferSetup s;
  const fs::path out = s.dir.path() / "w18.pt";
  const CliRun r = run_cli("export --quiet --model hrnet_w18_ocr --weights " +
                           (s.dir.path() / "w18.safetensors").string() + " --out " + out.string() +
                           " --example 32x48");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(fs::exists(out));
  torch::jit::Module loaded = torch::jit::load(out.string());
  torch::NoGradGuard no_grad;
  EXPECT_EQ(loaded.forward({at::zeros({1, 3, 40, 24})}).toTensor().sizes(), (at::IntArrayRef{1, 19, 40, 24}));

  const fs::path wrong = s.dir.path() / "w32.pt";
  const CliRun bad = run_cli("export --quiet --model hrnet_w32_ocr --weights " +
                             (s.dir.path() / "w18.safetensors").string() + " --out " + wrong.string());
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("mis-shaped keys"), std::string::npos) << bad.output;
  EXPECT_FALSE(fs::exists(wrong));
  const CliRun usage = run_cli("export --quiet --model hrnet_w18_ocr --weights " +
                               (s.dir.path() / "w18.safetensors").string() + " --out " + wrong.string() +
                               " --example 32by48");
  EXPECT_EQ(usage.exit_code, 2) << usage.output;
  EXPECT_NE(usage.output.find("--example must be HxW with positive sides, but got '32by48'."), std::string::npos)
      << usage.output;
}

}  // namespace
}  // namespace boundseg
