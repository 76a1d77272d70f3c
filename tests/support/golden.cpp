// Golden fixture access.
#include "support/golden.h"

#include <algorithm>
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

std::vector<std::filesystem::path> list_files(const std::filesystem::path& dir, const std::string& suffix) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string strip_suffix(const std::filesystem::path& file, const std::string& suffix) {
  const std::string name = file.filename().string();
  return name.substr(0, name.size() - suffix.size());
}

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
