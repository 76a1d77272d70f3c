// Scribble supervision (rloss.md §3): ScribbleSup annotations rasterised to label PNGs, and scribbles generated
// from dense labels so that weak supervision can be tried on any labelled data set.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>
#include <opencv2/core/types.hpp>

namespace boundseg::data {

/// One scribble: a polyline of one class.
struct Scribble {
  int class_id = 0;
  std::vector<cv::Point> points;
};

/// A ScribbleSup annotation (one XML file of scribble_annotation.zip/pascal_2012).
struct ScribbleAnnotation {
  int height = 0, width = 0;
  std::vector<Scribble> scribbles;  ///< in file order (later ones overwrite earlier ones)
};

/// The 21 PASCAL VOC class names, background first (class id = index).
const std::vector<std::string>& voc_class_names();

/// Parses `<annotation><size><height/><width/></size><polygon><tag>class</tag><point><X/><Y/></point>...</polygon>...`.
/// Tags are matched to `class_names` ignoring case, spaces and punctuation ("tv/monitor" = "tvmonitor"); points
/// are 0-based and clamped into the image. Raises boundseg::Error naming the file for anything else.
ScribbleAnnotation parse_scribblesup_xml(const std::filesystem::path& path,
                                         const std::vector<std::string>& class_names = voc_class_names());

/// The label PNG of an annotation as rloss' convertscribbles.m draws it: 255 everywhere, then each scribble in
/// order as a 3-px polyline taking the class id (MATLAB's anti-aliased insertShape with the reference's "any change"
/// rule gives 3-4 px: ±1 px). CV_8U.
cv::Mat rasterize_scribbles(const ScribbleAnnotation& annotation);

/// Options of scribbles_from_labels.
struct ScribbleGenerationOptions {
  /// Strokes stay at least this many pixels inside their region (regions thinner than twice this get none).
  int margin = 3;
  /// Stroke width in pixels (rloss' scribbles: 3).
  int width = 3;
  /// Regions smaller than this many pixels get no stroke (annotators skip specks).
  int min_area = 64;
  /// Value of unlabelled pixels, and of pixels ignored in `labels`.
  int ignore_index = 255;
};

/// Skeleton-like strokes from dense train-id labels (CV_8U): the approximate medial axis of each connected region of
/// each class (distance-transform ridges deep enough that the `width`-px stroke keeps `margin` px from the region's
/// boundary, and at least half the region's depth), drawn inside the region;
/// everything else is ignore_index. Deterministic. Typically labels a few percent of the pixels.
cv::Mat scribbles_from_labels(const cv::Mat& labels, const ScribbleGenerationOptions& options = {});

}  // namespace boundseg::data
