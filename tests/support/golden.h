// Access to the reference fixtures in shared/golden and small test helpers.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/core/mat.hpp>

namespace boundseg::testing {

/// shared/golden/<area> (env BOUNDSEG_GOLDEN_DIR overrides the configured path).
std::filesystem::path golden_dir(const std::string& area);
nlohmann::json read_json(const std::filesystem::path& path);
/// Reads a single-channel PNG fixture exactly (8 or 16 bit).
cv::Mat read_png_fixture(const std::filesystem::path& path);
/// Regular files directly in `dir` whose names end with `suffix`, sorted by name; empty when `dir` does not exist.
/// Golden tests discover their cases with it (never hard-coded names or counts).
std::vector<std::filesystem::path> list_files(const std::filesystem::path& dir, const std::string& suffix);
/// The file name without `suffix` (which it must end with).
std::string strip_suffix(const std::filesystem::path& file, const std::string& suffix);
/// Number of differing pixels of two same-size single-channel images.
int64_t count_mismatches(const cv::Mat& a, const cv::Mat& b);
/// A fresh empty directory under the system temp dir, removed at exit of scope.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
 private:
  std::filesystem::path path_;
};

}  // namespace boundseg::testing

/// Asserts that `statement` throws a std::exception whose what() contains `substring`.
#define BOUNDSEG_EXPECT_THROWS_WITH(statement, substring)                            \
  do {                                                                              \
    bool thrown_ = false;                                                           \
    try {                                                                           \
      statement;                                                                    \
    } catch (const std::exception& e_) {                                            \
      thrown_ = true;                                                               \
      EXPECT_NE(std::string(e_.what()).find(substring), std::string::npos)          \
          << "message: " << e_.what();                                              \
    }                                                                               \
    EXPECT_TRUE(thrown_) << "expected an exception containing: " << (substring);   \
  } while (0)
