// `boundseg train` end to end: distributed equivalence, exact resume, SIGKILL at random moments, divergence, bad
// configs. Tiny network (hrnet_tiny_ocr) on 64x64 crops, one thread per process for reproducible bits.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "boundseg/io/atomic_file.h"
#include <opencv2/imgproc.hpp>

#include "boundseg/io/cityscapes_labels.h"
#include "boundseg/data/synthetic.h"
#include "boundseg/io/png.h"
#include "boundseg/io/safetensors.h"
#include "boundseg/train/trainer.h"
#include "support/cli.h"
#include "support/golden.h"

namespace boundseg {
namespace {
namespace fs = std::filesystem;

// Max |a - b| over every tensor of two safetensors files with the same keys (int tensors must be equal).
double max_difference(const fs::path& a, const fs::path& b) {
  const io::Safetensors x = io::read_safetensors(a), y = io::read_safetensors(b);
  EXPECT_EQ(x.names, y.names);
  double worst = 0;
  for (const auto& [name, t] : x.tensors) {
    const at::Tensor u = y.tensors.at(name);
    worst = std::max(worst, (t.to(at::kDouble) - u.to(at::kDouble)).abs().max().item<double>());
  }
  return worst;
}

std::vector<nlohmann::json> read_jsonl(const fs::path& path) {
  std::vector<nlohmann::json> records;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) records.push_back(nlohmann::json::parse(line));
  }
  return records;
}

class CliTrain : public ::testing::Test {
 protected:
  // Eight synthetic scenes as a folder dataset, void mapped to class 0 and scales >= 1 (no padding) so that every
  // pixel is labelled: then the mean of the ranks' mean losses is the whole batch's mean, as data parallelism
  // assumes.
  static void SetUpTestSuite() {
    root_ = new testing::TempDir();
    fs::create_directories(root_->path() / "img");
    fs::create_directories(root_->path() / "lab");
    for (int i = 0; i < 8; ++i) {
      const data::SyntheticScene s = data::make_synthetic_scene(100 + i, 64, 128);
      cv::Mat train_ids = cityscapes::label_ids_to_train_ids(s.label_ids);
      train_ids.setTo(0, train_ids == 255);
      io::write_png(root_->path() / "img" / ("s" + std::to_string(i) + ".png"), s.image);
      io::write_png(root_->path() / "lab" / ("s" + std::to_string(i) + ".png"), train_ids);
    }
    std::ofstream(config()) << "model: {arch: hrnet_tiny_ocr, sync_bn: true, dropout: 0}\n"
                               "data:\n"
                               "  train: {type: folder, image_dir: " << (root_->path() / "img").string()
                            << ", label_dir: " << (root_->path() / "lab").string() << "}\n"
                               "  batch_size: 4\n"
                               "  workers: 1\n"
                               "  augment: {crop_height: 64, crop_width: 64, scale_min: 1.0, scale_max: 1.3, "
                               "cat_max_ratio: 1.0, photometric: true}\n"
                               "optimizer: {type: sgd, lr: 0.0001}\n"
                               "schedule: {iters: 3}\n"
                               "losses: [{type: ce}, {type: ce, output: aux, weight: 0.4}]\n"
                               "run: {log_interval: 1, checkpoint_interval: 100}\n";
  }
  static void TearDownTestSuite() { delete root_; }
  static fs::path config() { return root_->path() / "tiny.yaml"; }
  static fs::path dir(const std::string& name) { return root_->path() / name; }
  static std::string train(const std::string& work_dir, const std::string& extra = "", int threads = 1) {
    return "--threads " + std::to_string(threads) + " train " + config().string() + " --quiet --work-dir " +
           dir(work_dir).string() + " " + extra;
  }
  static testing::TempDir* root_;
};
testing::TempDir* CliTrain::root_ = nullptr;

TEST_F(CliTrain, TwoProcessesMatchOneProcessWithTheDoubledBatch) {
  // Photometric distortion off: its high-contrast inputs make this random network's BN statistics so sensitive
  // that summation order alone moves them by ~3e-4 within 3 steps.
  const std::string plain = "--set data.augment.photometric=false ";
  CliRun r = run_cli(train("single", plain));  // batch 4, one process
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_cli(train("ddp", plain + "--nproc 2 --set data.batch_size=2"));  // 2 x 2, c10d Gloo on loopback, SyncBN
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Starting 2 local workers"), std::string::npos);
  r = run_cli(train("half", plain + "--set data.batch_size=2"));  // what a process alone would do with its half
  ASSERT_EQ(r.exit_code, 0) << r.output;

  // Float sums in another order (BN statistics, gradient all-reduce, BLAS blocking that depends on the batch size)
  // are the only difference: after 3 SGD steps at lr 1e-4 the doubled batch is matched a thousand times more
  // closely than by the half batch alone (seen: 3.6e-7 with the reference BLAS, 4.3e-5 with OpenBLAS, against 0.13).
  const double ddp = max_difference(dir("single") / "model.safetensors", dir("ddp") / "model.safetensors");
  const double half = max_difference(dir("single") / "model.safetensors", dir("half") / "model.safetensors");
  EXPECT_GT(half, 1e-3);
  EXPECT_LT(ddp, 1e-3 * half);
  std::printf("max |difference| to one process with batch 4: 2 x 2 processes %.3g, one process with batch 2 %.3g\n", ddp, half);
  // Only rank 0 writes: one event file, one log with one record per iteration.
  EXPECT_EQ(read_jsonl(dir("ddp") / "metrics.jsonl").size(), 3u);
  int event_files = 0;
  for (const auto& e : fs::directory_iterator(dir("ddp") / "tensorboard")) event_files += e.is_regular_file();
  EXPECT_EQ(event_files, 1);
}

TEST_F(CliTrain, ScribblesWithPartialCrossEntropyAndTheRegularisersTrain) {
  ASSERT_EQ(run_cli("scribbles generate --quiet --labels " + (root_->path() / "lab").string() + " --out " +
                    dir("scribbles").string())
                .exit_code,
            0);
  const CliRun inside = run_cli("scribbles generate --quiet --labels " + (root_->path() / "lab").string() +
                                " --out " + (root_->path() / "lab" / "weak").string());
  EXPECT_EQ(inside.exit_code, 2);
  EXPECT_NE(inside.output.find("inputs are never overwritten"), std::string::npos) << inside.output;
  const std::string weak =
      "--set data.train.scribbles=" + dir("scribbles").string() +
      " --set 'losses=[{type: pce}, {type: densecrf, weight: 1.0e-6, gradient: exact}, {type: ncut, weight: 0.1}, "
      "{type: size, weight: 0.01}]' --set schedule.iters=2";
  const CliRun r = run_cli(train("weak", weak));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto log = read_jsonl(dir("weak") / "metrics.jsonl");
  ASSERT_FALSE(log.empty());
  for (const char* term : {"loss/pce/out", "loss/densecrf/out", "loss/ncut/out", "loss/size/out"}) {
    ASSERT_TRUE(log.back().contains(term)) << log.back().dump();
  }
  EXPECT_LT(log.back()["loss/densecrf/out"].get<double>(), 0.0);  // rloss' energy without its constant
  EXPECT_GT(log.back()["loss/ncut/out"].get<double>(), 0.0);
  const CliRun bad = run_cli(train("bad", weak + " --set 'losses=[{type: densecrf, gradient: exactly}]'"));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("losses[0].gradient must be reference or exact"), std::string::npos) << bad.output;
}

TEST_F(CliTrain, BoundaryCrossEntropyTrainsOnTheLoadersBoundaryMaps) {
  const CliRun r = run_cli(train(
      "boundary", "--set 'losses=[{type: ce}, {type: boundary_ce}]' --set data.targets.cbl_boundary.dilation_ratio=0.05 "
                  "--set schedule.iters=2"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto log = read_jsonl(dir("boundary") / "metrics.jsonl");
  ASSERT_EQ(log.size(), 2u);
  for (const auto& record : log) {
    ASSERT_TRUE(record.contains("loss/boundary_ce/out")) << record.dump();
    EXPECT_GT(record["loss/boundary_ce/out"].get<double>(), 0.0);
  }
  // The resolved config keeps the target's option.
  EXPECT_NE(io::read_file(dir("boundary") / "config.yaml", "test").find("dilation_ratio: 0.05"), std::string::npos);
}

TEST_F(CliTrain, ResumeContinuesExactlyFromTheCheckpoint) {
  const std::string schedule = "--set schedule.iters=6 --set run.checkpoint_interval=3 --set run.keep_checkpoints=5";
  CliRun r = run_cli(train("full", schedule));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // A run that stopped after its checkpoint at iteration 3: the later files never existed.
  fs::copy(dir("full"), dir("cut"), fs::copy_options::recursive);
  fs::remove(dir("cut") / "checkpoints" / "iter_00000006.safetensors");
  fs::remove(dir("cut") / "model.safetensors");
  r = run_cli(train("cut", schedule + " --resume"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Trained iterations 3..6"), std::string::npos) << r.output;
  // Same data, same dropout stream, same optimizer state: bit-identical weights, optimizer state and log.
  EXPECT_EQ(max_difference(dir("full") / "model.safetensors", dir("cut") / "model.safetensors"), 0.0);
  EXPECT_EQ(max_difference(dir("full") / "checkpoints" / "iter_00000006.safetensors",
                           dir("cut") / "checkpoints" / "iter_00000006.safetensors"),
            0.0);
  const auto full = read_jsonl(dir("full") / "metrics.jsonl"), cut = read_jsonl(dir("cut") / "metrics.jsonl");
  ASSERT_EQ(full.size(), cut.size());
  for (size_t i = 0; i < full.size(); ++i) EXPECT_EQ(full[i]["loss"], cut[i]["loss"]) << i;
}

TEST_F(CliTrain, SurvivesSigkillAtRandomMoments) {
  const std::string schedule =
      "--set schedule.iters=30 --set run.checkpoint_interval=4 --set data.augment.crop_height=48";
  CliRun r = run_cli(train("reference", schedule));
  ASSERT_EQ(r.exit_code, 0) << r.output;

  std::mt19937 rng(7);
  const std::string cli = cli_path();
  const std::string args = train("killed", schedule + " --resume");
  for (int kill = 0; kill < 4; ++kill) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::execl("/bin/sh", "sh", "-c", ("exec " + cli + " " + args + " > /dev/null 2>&1").c_str(), nullptr);
      ::_exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(300, 1500)(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    // Every checkpoint on disk is whole, and none is more than one interval behind the last logged iteration.
    int64_t newest = 0;
    for (const fs::path& ckpt : train::list_checkpoints(dir("killed") / "checkpoints")) {
      const io::Safetensors s = io::read_safetensors(ckpt);  // throws on a partial file
      newest = std::max<int64_t>(newest, std::stoll(s.metadata.at("iteration")));
    }
    int64_t logged = 0;
    std::ifstream in(dir("killed") / "metrics.jsonl");
    for (std::string line; std::getline(in, line);) {
      try {
        logged = std::max<int64_t>(logged, nlohmann::json::parse(line).value("iter", int64_t(0)));
      } catch (const nlohmann::json::exception&) {
        // a line cut by the kill
      }
    }
    EXPECT_GE(newest, logged - 4) << "kill " << kill;
  }
  r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // However often it was killed, the resumed run ends where the uninterrupted one did.
  EXPECT_EQ(max_difference(dir("reference") / "model.safetensors", dir("killed") / "model.safetensors"), 0.0);
}

TEST_F(CliTrain, NonFiniteLossStopsAndKeepsTheLastGoodCheckpoint) {
  const CliRun r = run_cli(train("diverged", "--set optimizer.lr=1e30 --set schedule.iters=20 "
                                             "--set run.checkpoint_interval=1"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("must be finite"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("the last good checkpoint is"), std::string::npos) << r.output;
  const auto kept = train::list_checkpoints(dir("diverged") / "checkpoints");
  ASSERT_FALSE(kept.empty());
  for (const auto& [name, t] : io::read_safetensors(kept.front()).tensors) {
    if (t.is_floating_point()) EXPECT_TRUE(at::isfinite(t).all().item<bool>()) << name;
  }
  EXPECT_FALSE(fs::exists(dir("diverged") / "model.safetensors"));
}

TEST_F(CliTrain, BadConfigsFailBeforeAnyWorkNamingTheKey) {
  struct Case {
    std::string set, message;
    int code;
  } cases[] = {
      {"--set optimizer.lrr=0.1", "optimizer.lrr must be a known key", 2},
      {"--set optimizer.lr=fast", "optimizer.lr must be a number, but got 'fast'", 2},
      {"--set losses.0=1", "losses must be a non-empty list", 2},
      {"--set data.train.image_dir=/nonexistent", "(config: data.train)", 1},
      {"--set model.arch=hrnet_w7", "'arch' must be one of", 1},
  };
  for (const Case& c : cases) {
    const CliRun r = run_cli(train("bad", c.set));
    EXPECT_EQ(r.exit_code, c.code) << c.set << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.set << "\n" << r.output;
    EXPECT_FALSE(fs::exists(dir("bad") / "checkpoints")) << c.set;
  }
}

}  // namespace
}  // namespace boundseg
