// Dataset discovery: every reader ends with the same checked list of existing (image, label) pairs.
#include "boundseg/data/dataset.h"

#include <algorithm>
#include <fstream>

#include <opencv2/core.hpp>

#include "boundseg/core/error.h"
#include "boundseg/io/cityscapes_labels.h"
#include "boundseg/io/png.h"

namespace boundseg::data {
namespace fs = std::filesystem;
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void require_dir(const fs::path& dir, const std::string& what) {
  require(fs::is_directory(dir), "data", what, "be an existing folder", [&] { return "'" + dir.string() + "'"; });
}

std::vector<fs::path> files_under(const fs::path& dir, const std::string& suffix) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && ends_with(entry.path().filename().string(), suffix)) files.push_back(entry.path());
  }
  return files;
}

SegmentationDataset finish(std::vector<SegmentationSample> samples, LabelMapping mapping, const std::string& what) {
  require(!samples.empty(), "data", what, "hold at least one image with its label", [] { return "none"; });
  for (const auto& s : samples) {
    require(fs::is_regular_file(s.label), "data", "the label of " + s.name, "exist",
            [&] { return "no file '" + s.label.string() + "'"; });
  }
  std::sort(samples.begin(), samples.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return SegmentationDataset{std::move(samples), mapping};
}

std::vector<std::string> read_ids(const fs::path& list) {
  std::ifstream in(list);
  require(bool(in), "data", "the image list", "be readable", [&] { return "'" + list.string() + "'"; });
  std::vector<std::string> ids;
  for (std::string line; std::getline(in, line);) {
    line.erase(line.find_last_not_of(" \r\t") + 1);
    if (!line.empty()) ids.push_back(line.substr(0, line.find(' ')));
  }
  return ids;
}

}  // namespace

cv::Mat SegmentationDataset::read_image(int64_t index) const { return io::read_color_image(samples.at(index).image); }

cv::Mat SegmentationDataset::read_label(int64_t index) const {
  const SegmentationSample& s = samples.at(index);
  cv::Mat label = io::read_label_png(s.label);
  require(label.type() == CV_8U, "data", "the label '" + s.label.string() + "'", "be an 8-bit label map",
          [&] { return io::describe_image(label); });
  switch (mapping) {
    case LabelMapping::kNone:
      break;
    case LabelMapping::kCityscapesLabelIds:
      label = cityscapes::label_ids_to_train_ids(label);
      break;
    case LabelMapping::kReduceZeroLabel: {
      cv::Mat lut(1, 256, CV_8U);
      for (int v = 0; v < 256; ++v) lut.at<uint8_t>(v) = v == 0 ? 255 : (v == 255 ? 255 : uint8_t(v - 1));
      cv::LUT(label, lut, label);
      break;
    }
  }
  return label;
}

SegmentationDataset cityscapes_dataset(const fs::path& root, const std::string& split, bool label_ids) {
  const fs::path images = root / "leftImg8bit" / split;
  require_dir(images, "the Cityscapes image folder");
  const std::string suffix = "_leftImg8bit.png";
  const std::string label_suffix = label_ids ? "_gtFine_labelIds.png" : "_gtFine_labelTrainIds.png";
  std::vector<SegmentationSample> samples;
  for (const fs::path& image : files_under(images, suffix)) {
    const std::string file = image.filename().string();
    const std::string stem = file.substr(0, file.size() - suffix.size());
    const fs::path label = root / "gtFine" / split / image.parent_path().filename() / (stem + label_suffix);
    samples.push_back({stem, image, label});
  }
  return finish(std::move(samples),
                label_ids ? LabelMapping::kCityscapesLabelIds : LabelMapping::kNone, "'" + images.string() + "'");
}

SegmentationDataset ade20k_dataset(const fs::path& root, const std::string& split, bool reduce_zero_label) {
  const std::string folder = split == "train" ? "training" : split == "val" ? "validation" : split;
  const fs::path images = root / "images" / folder;
  require_dir(images, "the ADE20K image folder");
  std::vector<SegmentationSample> samples;
  for (const fs::path& image : files_under(images, ".jpg")) {
    const std::string stem = image.stem().string();
    samples.push_back({stem, image, root / "annotations" / folder / (stem + ".png")});
  }
  return finish(std::move(samples), reduce_zero_label ? LabelMapping::kReduceZeroLabel : LabelMapping::kNone,
                "'" + images.string() + "'");
}

SegmentationDataset voc_dataset(const fs::path& root, const std::string& split, bool sbd) {
  require_dir(root, "the VOC2012 folder");
  const fs::path list = root / "ImageSets" / (sbd ? "SegmentationAug" : "Segmentation") / (split + ".txt");
  const fs::path labels = root / (sbd ? "SegmentationClassAug" : "SegmentationClass");
  std::vector<SegmentationSample> samples;
  for (const std::string& id : read_ids(list)) {
    samples.push_back({id, root / "JPEGImages" / (id + ".jpg"), labels / (id + ".png")});
  }
  return finish(std::move(samples), LabelMapping::kNone, "'" + list.string() + "'");
}

SegmentationDataset folder_dataset(const fs::path& image_dir, const fs::path& label_dir,
                                   const std::string& image_suffix, const std::string& label_suffix) {
  require_dir(image_dir, "the image folder");
  require_dir(label_dir, "the label folder");
  std::vector<SegmentationSample> samples;
  for (const auto& entry : fs::directory_iterator(image_dir)) {
    const fs::path& image = entry.path();
    std::string ext = image.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    const std::string stem = image.stem().string();
    if (!entry.is_regular_file() || (ext != ".png" && ext != ".jpg" && ext != ".jpeg") ||
        !ends_with(stem, image_suffix)) {
      continue;
    }
    const std::string base = stem.substr(0, stem.size() - image_suffix.size());
    samples.push_back({stem, image, label_dir / (base + label_suffix + ".png")});
  }
  return finish(std::move(samples), LabelMapping::kNone, "'" + image_dir.string() + "'");
}

void validate(const DatasetSpec& d, const OptionSite& site) {
  const std::vector<std::string> types = {"cityscapes", "ade20k", "voc", "folder"};
  site.require(std::count(types.begin(), types.end(), d.type) == 1, "type", "be one of cityscapes, ade20k, voc, folder",
               [&] { return "'" + d.type + "'"; });
  site.require(d.labels == "trainids" || d.labels == "labelids", "labels", "be trainids or labelids",
               [&] { return "'" + d.labels + "'"; });
  site.require(d.type == "folder" || !d.root.empty(), "root", "name the dataset folder", [] { return "nothing"; });
  site.require(d.type != "folder" || (!d.image_dir.empty() && !d.label_dir.empty()), "image_dir",
               "and " + site.name("label_dir") + " name the folders of a folder dataset", [] { return "nothing"; });
  site.require(d.limit >= 0, "limit", "be >= 0", [&] { return std::to_string(d.limit); });
}

SegmentationDataset open_dataset(const DatasetSpec& d, const std::string& key) {
  try {
    validate(d, key.empty() ? OptionSite("dataset") : OptionSite::key_path("config", key + "."));
    SegmentationDataset dataset;
    if (d.type == "cityscapes") {
      dataset = cityscapes_dataset(d.root, d.split, d.labels == "labelids");
    } else if (d.type == "ade20k") {
      dataset = ade20k_dataset(d.root, d.split, d.reduce_zero_label);
    } else if (d.type == "voc") {
      dataset = voc_dataset(d.root, d.split, d.sbd_augmented);
    } else {
      dataset = folder_dataset(d.image_dir, d.label_dir, d.image_suffix, d.label_suffix);
    }
    if (d.limit > 0 && dataset.size() > d.limit) dataset.samples.resize(size_t(d.limit));
    if (!d.scribbles.empty()) {
      for (auto& sample : dataset.samples) {
        sample.label = fs::path(d.scribbles) / (sample.name + ".png");
        require(fs::is_regular_file(sample.label), "dataset", "scribbles",
                "hold a scribble PNG per image (<sample name>.png)", [&] { return "no " + sample.label.string(); });
      }
      dataset.mapping = LabelMapping::kNone;
    }
    return dataset;
  } catch (const Error& e) {
    if (key.empty()) throw;
    // Name the config section so the user knows which one to fix.
    throw Error(std::string(e.what()) + " (config: " + key + ")");
  }
}

}  // namespace boundseg::data
