// Golden fixture access.
#include "support/golden.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>

#include <opencv2/core.hpp>

#include "boundseg/io/png.h"

namespace boundseg::testing {

std::filesystem::path golden_dir(const std::string& area) {
  const char* env = std::getenv("BOUNDSEG_GOLDEN_DIR");
  return std::filesystem::path(env && *env ? env : BOUNDSEG_GOLDEN_DIR) / area;
}

std::vector<GoldenFile> golden_files(const std::string& area, const std::string& subdir, const std::string& suffix) {
  const std::filesystem::path dir = golden_dir(area) / subdir;
  std::vector<GoldenFile> files;
  if (!std::filesystem::is_directory(dir)) return files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || name.size() <= suffix.size()) continue;
    if (name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    files.push_back({name.substr(0, name.size() - suffix.size()), entry.path()});
  }
  std::sort(files.begin(), files.end(), [](const GoldenFile& a, const GoldenFile& b) { return a.stem < b.stem; });
  return files;
}

namespace {

std::vector<std::string> manifest_lines(const std::string& area) {
  std::ifstream in(golden_dir(area) / "MANIFEST.md");
  if (!in) throw std::runtime_error("cannot open " + (golden_dir(area) / "MANIFEST.md").string());
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

std::string manifest_section(const std::string& area, const std::string& heading) {
  std::string text;
  bool inside = false;
  for (const std::string& line : manifest_lines(area)) {
    if (line.rfind("#", 0) == 0) {
      if (inside) break;
      inside = line == "### " + heading;
      continue;
    }
    if (inside) text += line + "\n";
  }
  return text;
}

std::map<std::string, std::string> manifest_formats(const std::string& area) {
  std::map<std::string, std::string> formats;
  for (const std::string& line : manifest_lines(area)) {
    // | `file` | content | format |
    if (line.rfind("| `", 0) != 0) continue;
    const size_t end = line.find('`', 3);
    const size_t last = line.rfind(" |");
    const size_t format = line.rfind(" | ", last - 1);
    if (end == std::string::npos || last == std::string::npos || format == std::string::npos || format < end) continue;
    formats[line.substr(3, end - 3)] = line.substr(format + 3, last - format - 3);
  }
  return formats;
}

CaseCount::~CaseCount() {
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string name = test ? std::string(test->test_suite_name()) + "." + test->name() : "?";
  std::cout << "[  golden  ] " << name << ": checked " << count_ << " " << what_ << std::endl;
  ::testing::Test::RecordProperty("golden_cases", static_cast<int>(count_));
  if (count_ == 0) ADD_FAILURE() << "no golden " << what_ << " found under " << golden_dir("").string();
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
