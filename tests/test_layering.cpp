// Layering: every project include points to the file's own layer or one below it, in the order
// docs/ARCHITECTURE.md states ("Layers, bottom to top: ...").
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "support/golden.h"

namespace boundseg {
namespace {
namespace fs = std::filesystem;

// The layer order from the architecture document's "Layers, bottom to top:" line.
std::vector<std::string> layer_order(const fs::path& architecture) {
  std::ifstream in(architecture);
  const std::string marker = "Layers, bottom to top:";
  for (std::string line; std::getline(in, line);) {
    const size_t at = line.find(marker);
    if (at == std::string::npos) continue;
    std::vector<std::string> layers;
    std::stringstream list(line.substr(at + marker.size()));
    for (std::string name; std::getline(list, name, ',');) {
      name.erase(std::remove_if(name.begin(), name.end(), [](char c) { return !std::isalnum(c) && c != '_'; }),
                 name.end());
      if (!name.empty()) layers.push_back(name);
    }
    return layers;
  }
  return {};
}

// The layer a project path belongs to ("src/ops/x.cpp", "include/boundseg/ops/x.h", "apps/boundseg/x.cpp"), or
// the layer an include names ("boundseg/ops/x.h", "ops/plane_loop.h"); empty when neither.
std::string layer_of(const std::vector<std::string>& layers, const fs::path& path) {
  std::vector<std::string> parts;
  for (const auto& p : path) parts.push_back(p.string());
  size_t first = 0;
  if (!parts.empty() && parts[0] == "apps") return "apps";
  if (!parts.empty() && (parts[0] == "src" || parts[0] == "boundseg")) first = 1;
  if (parts.size() >= 2 && parts[0] == "include" && parts[1] == "boundseg") first = 2;
  if (parts.size() <= first + 1) return "";
  return std::find(layers.begin(), layers.end(), parts[first]) != layers.end() ? parts[first] : "";
}

struct Violation {
  std::string file, include, file_layer, include_layer;
};

// Every `#include "..."` of src/, include/ and apps/ under `root` that names a layer above the file's own.
std::vector<Violation> upward_includes(const fs::path& root, const std::vector<std::string>& layers,
                                       int64_t* files_checked) {
  static const std::regex include_line(R"re(^\s*#\s*include\s+"([^"]+)")re");
  const auto rank = [&](const std::string& layer) {
    return std::find(layers.begin(), layers.end(), layer) - layers.begin();
  };
  std::vector<Violation> found;
  *files_checked = 0;
  for (const char* top : {"src", "include", "apps"}) {
    if (!fs::is_directory(root / top)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(root / top)) {
      const std::string ext = entry.path().extension().string();
      if (!entry.is_regular_file() || (ext != ".h" && ext != ".cpp")) continue;
      const fs::path relative = entry.path().lexically_relative(root);
      const std::string file_layer = layer_of(layers, relative);
      if (file_layer.empty()) continue;
      ++*files_checked;
      std::ifstream in(entry.path());
      for (std::string line; std::getline(in, line);) {
        std::smatch m;
        if (!std::regex_search(line, m, include_line)) continue;
        const std::string include_layer = layer_of(layers, fs::path(m[1].str()));
        if (!include_layer.empty() && rank(include_layer) > rank(file_layer)) {
          found.push_back({relative.string(), m[1].str(), file_layer, include_layer});
        }
      }
    }
  }
  return found;
}

std::string describe(const std::vector<Violation>& violations) {
  std::string s;
  for (const Violation& v : violations) {
    s += "  " + v.file + " (" + v.file_layer + ") includes \"" + v.include + "\" (" + v.include_layer + ")\n";
  }
  return s;
}

const fs::path kSource = BOUNDSEG_SOURCE_DIR;

TEST(Layering, ArchitectureStatesTheOrder) {
  const auto layers = layer_order(kSource / "docs" / "ARCHITECTURE.md");
  ASSERT_GE(layers.size(), 10u) << "docs/ARCHITECTURE.md must have a 'Layers, bottom to top: ...' line";
  EXPECT_EQ(layers.front(), "core");
  EXPECT_EQ(layers.back(), "apps");
}

TEST(Layering, NoIncludePointsUp) {
  const auto layers = layer_order(kSource / "docs" / "ARCHITECTURE.md");
  int64_t files = 0;
  const auto violations = upward_includes(kSource, layers, &files);
  std::printf("Layering: checked the includes of %lld files\n", static_cast<long long>(files));
  EXPECT_GT(files, 100);
  EXPECT_TRUE(violations.empty()) << "upward includes:\n" << describe(violations);
}

TEST(Layering, CatchesAPlantedUpwardInclude) {
  // A copy of the tree's layout with one ops file that includes the trainer, and one legal include beside it.
  testing::TempDir tmp;
  const auto layers = layer_order(kSource / "docs" / "ARCHITECTURE.md");
  fs::create_directories(tmp.path() / "src" / "ops");
  fs::create_directories(tmp.path() / "include" / "boundseg" / "train");
  std::ofstream(tmp.path() / "src" / "ops" / "planted.cpp")
      << "#include \"boundseg/core/error.h\"\n#include \"boundseg/train/trainer.h\"\n";
  std::ofstream(tmp.path() / "include" / "boundseg" / "train" / "fine.h")
      << "#include \"boundseg/ops/boundary.h\"\n#include \"losses/terms/common.h\"\n";
  int64_t files = 0;
  const auto violations = upward_includes(tmp.path(), layers, &files);
  EXPECT_EQ(files, 2);
  ASSERT_EQ(violations.size(), 1u) << describe(violations);
  EXPECT_EQ(violations[0].file, "src/ops/planted.cpp");
  EXPECT_EQ(violations[0].include, "boundseg/train/trainer.h");
  EXPECT_EQ(violations[0].file_layer, "ops");
  EXPECT_EQ(violations[0].include_layer, "train");
}

}  // namespace
}  // namespace boundseg
