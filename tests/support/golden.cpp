// Golden fixture access.
#include "support/golden.h"

#include <cstdlib>
#include <fstream>
#include <random>

#include <opencv2/core.hpp>

#include "boundseg/io/png.h"

namespace boundseg::testing {

std::filesystem::path golden_dir(const std::string& area) {
  const char* env = std::getenv("BOUNDSEG_GOLDEN_DIR");
  return std::filesystem::path(env && *env ? env : BOUNDSEG_GOLDEN_DIR) / area;
}

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open fixture " + path.string());
  return nlohmann::json::parse(in);
}

cv::Mat read_png_fixture(const std::filesystem::path& path) { return io::read_label_png(path); }

int64_t count_mismatches(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != b.type()) return -1;
  cv::Mat diff;
  cv::compare(a, b, diff, cv::CMP_NE);
  return cv::countNonZero(diff);
}

TempDir::TempDir() {
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() / ("boundseg_test_" + std::to_string(rd()) + std::to_string(rd()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace boundseg::testing
