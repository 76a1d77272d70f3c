// Access to the reference fixtures in shared/golden and small test helpers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/core/mat.hpp>

namespace boundseg::testing {

/// shared/golden/<area> (env BOUNDSEG_GOLDEN_DIR overrides the configured path).
std::filesystem::path golden_dir(const std::string& area);

// Case discovery. Golden tests never name cases, sizes or counts: the same suite runs on other case sets made by the
// same reference drivers (STYLE.md §2.7), so every test iterates what it finds here and counts it with CaseCount.

/// A file of a golden case: `stem` is its name less the searched suffix.
struct GoldenFile {
  std::string stem;
  std::filesystem::path path;
};

/// The files directly in golden_dir(area) / subdir whose names end with `suffix` (longer than it), sorted by name;
/// none when the folder does not exist.
std::vector<GoldenFile> golden_files(const std::string& area, const std::string& subdir, const std::string& suffix);

/// The text of the `### <heading>` section of golden_dir(area)/MANIFEST.md, up to the next heading; "" when the
/// manifest has no such section.
std::string manifest_section(const std::string& area, const std::string& heading);

/// The file tables of golden_dir(area)/MANIFEST.md: file (relative to the area, without backticks) -> its last
/// ("format") column.
std::map<std::string, std::string> manifest_formats(const std::string& area);

/// Counts the golden cases a test checks. Its destructor prints "[  golden  ] <Suite.Test>: checked N <what>" (the
/// line tests/golden_variant.py reads) and fails the test when N is 0: a golden test that finds nothing must not pass.
class CaseCount {
 public:
  explicit CaseCount(std::string what = "cases") : what_(std::move(what)) {}
  ~CaseCount();
  CaseCount(const CaseCount&) = delete;
  CaseCount& operator=(const CaseCount&) = delete;
  void add(int64_t n = 1) { count_ += n; }
  int64_t count() const { return count_; }

 private:
  std::string what_;
  int64_t count_ = 0;
};
nlohmann::json read_json(const std::filesystem::path& path);
/// Reads a single-channel PNG fixture exactly (8 or 16 bit).
cv::Mat read_png_fixture(const std::filesystem::path& path);
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
