// TensorBoard event files (TFRecord framing of tensorflow.Event protos), written without TensorFlow or protobuf.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include <opencv2/core/mat.hpp>

namespace boundseg::io {

/// CRC-32C (Castagnoli), as TFRecord uses.
uint32_t crc32c(std::string_view bytes);

/// Appends events to `<dir>/events.out.tfevents.<unix time>.<host>.<tag>`; TensorBoard reads scalars and images.
class TensorBoardWriter {
 public:
  /// `tag` distinguishes writers in one folder (e.g. the process).
  explicit TensorBoardWriter(const std::filesystem::path& dir, const std::string& tag = "boundseg");
  void add_scalar(const std::string& name, double value, int64_t step);
  /// image: CV_8UC3 BGR or CV_8U; stored as PNG.
  void add_image(const std::string& name, const cv::Mat& image, int64_t step);
  void flush();
  const std::filesystem::path& path() const { return path_; }

 private:
  void write_event(const std::string& event);
  std::filesystem::path path_;
  std::ofstream out_;
};

}  // namespace boundseg::io
