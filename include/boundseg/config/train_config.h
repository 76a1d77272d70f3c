// The training configuration: YAML with `_base_` inheritance, `--set` overrides, typed and checked key by key.
// Every key, its default and meaning: docs/CONFIG.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "boundseg/data/transforms.h"

namespace boundseg::config {

/// One dataset (data.train or data.val). Types: cityscapes, ade20k, voc, folder (see docs/CONFIG.md).
struct DatasetConfig {
  std::string type = "cityscapes";
  /// Dataset root (cityscapes: the folder holding leftImg8bit/ and gtFine/; ade20k: ADEChallengeData2016;
  /// voc: VOC2012). Relative paths are taken from the directory the command runs in.
  std::string root;
  std::string split = "train";
  /// cityscapes: "trainids" reads *_gtFine_labelTrainIds.png, "labelids" maps *_gtFine_labelIds.png on the fly.
  std::string labels = "trainids";
  /// ade20k: label 0 -> ignore, k -> k - 1 (mmseg). voc: read SegmentationClassAug (SBD) instead of
  /// SegmentationClass.
  bool reduce_zero_label = true;
  bool sbd_augmented = true;
  /// folder: images and labels paired by stem (label stem = image stem with image_suffix replaced by label_suffix).
  std::string image_dir, label_dir, image_suffix = "", label_suffix = "";
  /// Use at most this many samples (0 = all), the first ones in sorted order.
  int64_t limit = 0;
  /// Weak supervision: read each sample's labels from <scribbles>/<sample name>.png (train ids, 255 = unlabelled)
  /// instead of the dataset's dense labels (`boundseg scribbles convert|generate` write them). Empty = dense.
  std::string scribbles;
};

struct DataConfig {
  DatasetConfig train, val;
  bool has_val = false;
  data::AugmentOptions augment;
  int64_t num_classes = 19;
  int64_t ignore_index = 255;
  /// Images per process and step.
  int64_t batch_size = 8;
  /// Loader threads and batches prepared ahead.
  int64_t workers = 2, prefetch = 4;
};

struct ModelConfig {
  /// A registered network (boundseg::models::registered_models()).
  std::string arch = "hrnet_w48_ocr";
  /// Initial weights (safetensors), e.g. ImageNet-pretrained; empty = random initialisation.
  std::string weights;
  /// Initial weights may lack head keys (logged); backbone keys and shapes must still match (hrnet_ocr.md §6 #6).
  bool allow_partial = false;
  /// Synchronise batch-norm statistics across processes (distributed runs).
  bool sync_bn = false;
  /// Head dropout probability; -1 = the architecture's (OCR 0.05, FCN 0.10).
  double dropout = -1;
};

struct OptimizerConfig {
  std::string type = "sgd";  ///< sgd | adamw
  double lr = 0.01, momentum = 0.9, weight_decay = 5e-4;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  /// Clip the global gradient L2 norm to this value; 0 = off.
  double clip_grad_norm = 0;
};

struct ScheduleConfig {
  int64_t iters = 80000;
  /// lr = (lr0 - min_lr) (1 - it / iters)^power + min_lr after warm-up; linear warm-up from warmup_ratio · lr.
  double power = 0.9, min_lr = 0;
  int64_t warmup_iters = 0;
  double warmup_ratio = 0.1;
};

/// One weighted loss term. Types: ce, ohem_ce (more in boundseg::train::registered_losses()).
struct LossTermConfig {
  std::string type = "ce";
  /// Which network output it supervises: "out" (main) or "aux".
  std::string output = "out";
  double weight = 1.0;
  /// Per-class weights (empty = unweighted); "cityscapes" in YAML = openseg's Cityscapes ce_weight.
  std::vector<double> class_weights;
  double ohem_thresh = 0.7;
  int64_t ohem_min_kept = 100000;
  /// densecrf / ncut: the RGBXY kernel (losses::CrfKernelOptions); gradient reference|exact, lattice clean|reference.
  double sigma_rgb = 15, sigma_xy = 100, scale_factor = 0.5;
  std::string gradient = "reference", lattice = "clean";
  /// pce: divide once more by the batch size (rloss' PyTorch normalisation).
  bool batch_average = false;
  /// size: a class labelled in the crop must cover at least this share of its ROI (and at least its labelled
  /// pixels); unlabelled classes are unconstrained.
  double size_min_fraction = 0.01;
  /// boundary_ce: width of CBL's boundary ground truth (cbl.md §2) as a fraction of the image diagonal.
  double boundary_ratio = 0.02;
};

struct RunConfig {
  int64_t seed = 0;
  int64_t log_interval = 10;
  /// Validate every this many iterations and at the end (0 = only at the end; needs data.val).
  int64_t val_interval = 0;
  /// Checkpoint every this many iterations and at the end; keep the newest `keep_checkpoints`.
  int64_t checkpoint_interval = 1000;
  int64_t keep_checkpoints = 2;
  /// Run the forward pass under CPU bf16 autocast.
  bool bf16 = false;
  /// Boundary-IoU band width as a fraction of the image diagonal, for validation.
  double val_boundary_ratio = 0.02;
  /// Images written to TensorBoard at each validation.
  int64_t val_images = 2;
};

struct TrainConfig {
  ModelConfig model;
  DataConfig data;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  std::vector<LossTermConfig> losses = {LossTermConfig{}};
  RunConfig run;
};

/// Reads `path`: `_base_` (a path or a list of paths, relative to the file) is loaded first, recursively, and the
/// file's own keys are merged over it (maps key by key, everything else replaced); then each "a.b.c=value" of
/// `overrides` is applied (value parsed as YAML). Unknown keys, wrong types and invalid values raise
/// boundseg::Error naming the key path, e.g. "boundseg config: optimizer.lr must be a number, but got 'fast'.".
TrainConfig load_train_config(const std::filesystem::path& path, const std::vector<std::string>& overrides = {});

/// The resolved configuration as YAML (every key, with defaults filled in); loading it gives the same config.
std::string to_yaml(const TrainConfig& config);

}  // namespace boundseg::config
