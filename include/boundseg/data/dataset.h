// Segmentation datasets as lists of (image, label) files: Cityscapes, ADE20K, PASCAL VOC (+SBD), any folder pair.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

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

}  // namespace boundseg::data
