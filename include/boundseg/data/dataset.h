// Segmentation datasets as lists of (image, label) files: Cityscapes, ADE20K, PASCAL VOC (+SBD), any folder pair.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "boundseg/core/options.h"

namespace boundseg::data {

/// How label files map to train ids (formats.md §2).
enum class LabelMapping {
  kNone,                ///< the PNG already holds train ids (ignore = 255)
  kCityscapesLabelIds,  ///< Cityscapes label ids -> train ids (255 for ids not trained on)
  kReduceZeroLabel,     ///< ADE20K: 0 -> 255, k -> k - 1
};

struct SegmentationSample {
  std::string name;  ///< file stem of the image, unique within the dataset
  std::filesystem::path image, label;
};

/// Samples sorted by name, and the mapping their labels need.
struct SegmentationDataset {
  std::vector<SegmentationSample> samples;
  LabelMapping mapping = LabelMapping::kNone;

  int64_t size() const { return int64_t(samples.size()); }
  /// CV_8UC3 BGR.
  cv::Mat read_image(int64_t index) const;
  /// CV_8U train ids after the mapping (255 = ignore). Palette PNGs are read by index.
  cv::Mat read_label(int64_t index) const;
};

/// `root`/leftImg8bit/`split`/<city>/<stem>_leftImg8bit.png with gtFine/`split`/<city>/<stem>_gtFine_labelTrainIds.png,
/// or _gtFine_labelIds.png mapped on the fly when `label_ids` (formats.md §1.1).
SegmentationDataset cityscapes_dataset(const std::filesystem::path& root, const std::string& split, bool label_ids);
/// `root` = ADEChallengeData2016: images/<training|validation>/*.jpg, annotations/.../*.png ("train" and "val" name
/// those folders); reduce_zero_label gives the 150 mmseg classes (formats.md §1.3).
SegmentationDataset ade20k_dataset(const std::filesystem::path& root, const std::string& split,
                                   bool reduce_zero_label);
/// `root` = VOC2012: ids from ImageSets/SegmentationAug/<split>.txt and SegmentationClassAug/ (SBD, `sbd`), else
/// ImageSets/Segmentation/<split>.txt and SegmentationClass/; images JPEGImages/<id>.jpg (formats.md §1.4).
SegmentationDataset voc_dataset(const std::filesystem::path& root, const std::string& split, bool sbd);
/// Every .png/.jpg/.jpeg image in `image_dir` whose stem ends with `image_suffix`, paired with
/// `label_dir`/<stem without image_suffix><label_suffix>.png.
SegmentationDataset folder_dataset(const std::filesystem::path& image_dir, const std::filesystem::path& label_dir,
                                   const std::string& image_suffix, const std::string& label_suffix);

/// A dataset as a config describes it (docs/CONFIG.md, `data.train` / `data.val`).
struct DatasetSpec {
  /// cityscapes, ade20k, voc or folder. Default cityscapes.
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

/// type and labels known, the folders a type needs named, limit >= 0.
void validate(const DatasetSpec& spec, const OptionSite& site);

/// The dataset `spec` describes, its files checked; errors end with " (config: <key>)" when `key` is given.
SegmentationDataset open_dataset(const DatasetSpec& spec, const std::string& key = "");

}  // namespace boundseg::data
