// Procedural Cityscapes-style scenes with imperfect predictions: the embedded
// default data of `boundseg demo`, the benchmarks and the CLI tests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace boundseg::data {

struct SyntheticInstance {
  int label_id = 0;     ///< Cityscapes label id (24..33)
  double score = 0.0;
  cv::Mat mask;         ///< CV_8U 0/255, image size
};

/// One scene: ground truth, a rendered colour image, and predictions whose
/// errors concentrate at boundaries (smoothly displaced contours, missed thin
/// objects, confused neighbouring classes, duplicate and false detections).
struct SyntheticScene {
  cv::Mat image;          ///< CV_8UC3 BGR
  cv::Mat label_ids;      ///< CV_8U, Cityscapes label ids (void ids included)
  cv::Mat instance_ids;   ///< CV_16U, id*1000+k for instances, label id elsewhere
  cv::Mat pred_label_ids; ///< CV_8U, only the 19 evaluated ids
  std::vector<SyntheticInstance> pred_instances;
};

/// Deterministic for a given (seed, size).
SyntheticScene make_synthetic_scene(uint64_t seed, int height, int width);

/// Writes `count` scenes as a Cityscapes tree under `root`:
/// gtFine/<split>/<city>/<stem>_gtFine_{labelIds,labelTrainIds,instanceIds}.png,
/// leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png, and for the val split the imperfect predictions
/// pred/semantic/<stem>_leftImg8bit.png (label ids) and pred/instances/<stem>_leftImg8bit_pred.txt + masks/.
/// Splits other than val hold other scenes (disjoint scene numbers). Returns the stems.
std::vector<std::string> write_synthetic_cityscapes(const std::filesystem::path& root, int count, int height,
                                                    int width, uint64_t seed, bool progress = true,
                                                    const std::string& split = "val");

}  // namespace boundseg::data
