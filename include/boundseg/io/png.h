// PNG I/O for label maps (palette indices, 16-bit ids) and colour images.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include <opencv2/core/mat.hpp>

namespace boundseg::io {

/// Reads a single-channel label PNG: 8-bit (CV_8U) or 16-bit (CV_16U) greyscale,
/// or a palette PNG read by its **indices** (never its colours; OpenCV would
/// expand the palette, formats.md §3). Colour PNGs, truncated or non-PNG files
/// raise boundseg::Error naming the file.
cv::Mat read_label_png(const std::filesystem::path& path);

/// Reads an 8-bit colour image as BGR (any format OpenCV decodes).
cv::Mat read_color_image(const std::filesystem::path& path);

/// Describes an image for error messages, e.g. "a 16-bit 1-channel 512x256 image".
std::string describe_image(const cv::Mat& image);

/// Encodes `image` (CV_8U/CV_16U, 1 or 3 BGR channels) as PNG and writes it
/// atomically.
void write_png(const std::filesystem::path& path, const cv::Mat& image);

}  // namespace boundseg::io
