// MAT-file I/O: round trips, the column-major layout on disk, and interchange with scipy.io (formats.md §6).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "boundseg/io/atomic_file.h"
#include "boundseg/io/mat.h"
#include "support/golden.h"

#ifndef BOUNDSEG_PYTHON3
#define BOUNDSEG_PYTHON3 "/usr/bin/python3"
#endif

namespace boundseg {
namespace {

namespace fs = std::filesystem;

// The arrays of tests/io/scipy_mat_check.py: value = (37·flat + 11) % modulus + low in C order (floats: that / 7 - 3).
struct Spec {
  at::ScalarType dtype;
  std::vector<int64_t> shape;
  int64_t modulus, low;
};

const std::map<std::string, Spec>& specs() {
  static const std::map<std::string, Spec> table = {
      {"u8_2d", {at::kByte, {5, 7}, 256, 0}},
      {"i8_3d", {at::kChar, {3, 4, 2}, 200, -100}},
      {"i16_2d", {at::kShort, {4, 3}, 60000, -30000}},
      {"i32_3d", {at::kInt, {6, 5, 2}, 3, -1}},
      {"i64_2d", {at::kLong, {3, 4}, int64_t{1} << 40, -(int64_t{1} << 39)}},
      {"f32_2d", {at::kFloat, {4, 5}, 101, 0}},
      {"f64_3d", {at::kDouble, {2, 3, 4}, 101, 0}},
      {"bool_2d", {at::kBool, {3, 3}, 2, 0}},
      {"u16_2d", {at::kInt, {2, 5}, 65536, 0}},              // uint16 is read as int32
      {"u32_2d", {at::kLong, {3, 2}, int64_t{1} << 32, 0}},  // uint32 as int64
      {"u64_2d", {at::kLong, {2, 2}, int64_t{1} << 40, 0}},  // uint64 as int64
      {"scalar", {at::kLong, {1, 1}, 1, 2}},
  };
  return table;
}

const std::vector<std::string> kBoundsegWritable = {"u8_2d",  "i8_3d",  "i16_2d",  "i32_3d", "i64_2d",
                                                    "f32_2d", "f64_3d", "bool_2d", "scalar"};

at::Tensor expected(const std::string& name) {
  const Spec& s = specs().at(name);
  int64_t n = 1;
  for (int64_t d : s.shape) n *= d;
  const at::Tensor flat = at::arange(n, at::kLong).mul(37).add(11).remainder(s.modulus).add(s.low);
  if (s.dtype == at::kFloat || s.dtype == at::kDouble)
    return flat.to(at::kDouble).div(7.0).sub(3.0).to(s.dtype).view(s.shape);
  return flat.to(s.dtype).view(s.shape);
}

std::string python() {
  const char* env = std::getenv("BOUNDSEG_PYTHON3");
  return env && *env ? env : BOUNDSEG_PYTHON3;
}

const std::string kScript = std::string(BOUNDSEG_SOURCE_DIR) + "/tests/io/scipy_mat_check.py";

// Runs the scipy helper; returns its exit status and output.
int run_python(const std::string& args, std::string* output) {
  const std::string command = python() + " " + kScript + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return -1;
  char buffer[4096];
  output->clear();
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output->append(buffer, n);
  return pclose(pipe);
}

void expect_equal_tensor(const at::Tensor& got, const at::Tensor& want, const std::string& name) {
  EXPECT_EQ(got.scalar_type(), want.scalar_type()) << name;
  EXPECT_EQ(got.sizes(), want.sizes()) << name;
  if (got.scalar_type() == want.scalar_type() && got.sizes() == want.sizes()) {
    EXPECT_TRUE(got.equal(want)) << name << "\n" << got << "\nwant\n" << want;
  }
}

TEST(MatIo, RoundTripsEveryDtypeCompressedAndPlain) {
  testing::TempDir tmp;
  std::vector<std::pair<std::string, at::Tensor>> vars;
  for (const auto& name : kBoundsegWritable) vars.emplace_back(name, expected(name));
  for (bool compress : {true, false}) {
    const fs::path file = tmp.path() / (compress ? "c.mat" : "p.mat");
    io::write_mat(file, vars, io::MatWriteOptions().compress(compress));
    const auto back = io::read_mat(file);
    ASSERT_EQ(back.size(), vars.size());
    for (const auto& [name, t] : vars) expect_equal_tensor(back.at(name), t, name);
  }
}

TEST(MatIo, ScalarsAndVectorsBecomeRowMatricesAndNonContiguousInputsKeepTheirValues) {
  testing::TempDir tmp;
  const at::Tensor base = at::arange(24, at::kInt).view({4, 6});
  io::write_mat(tmp.path() / "a.mat", {{"s", at::scalar_tensor(5, at::kLong)},
                                       {"v", at::arange(3, at::kDouble)},
                                       {"t", base.t()},
                                       {"e", at::zeros({0, 3}, at::kFloat)}});
  const auto back = io::read_mat(tmp.path() / "a.mat");
  expect_equal_tensor(back.at("s"), at::full({1, 1}, 5, at::kLong), "s");
  expect_equal_tensor(back.at("v"), at::arange(3, at::kDouble).view({1, 3}), "v");
  expect_equal_tensor(back.at("t"), base.t().contiguous(), "t");
  expect_equal_tensor(back.at("e"), at::zeros({0, 3}, at::kFloat), "e");
}

TEST(MatIo, DataIsColumnMajorOnDisk) {
  // Plain elements keep the data bytes visible: [[1, 2, 3], [4, 5, 6]] must be stored as 1 4 2 5 3 6.
  testing::TempDir tmp;
  const fs::path file = tmp.path() / "layout.mat";
  io::write_mat(file, {{"m", at::tensor({1, 2, 3, 4, 5, 6}, at::kByte).view({2, 3})}},
                io::MatWriteOptions().compress(false));
  const std::string bytes = io::read_file(file, "test");
  EXPECT_NE(bytes.find(std::string("\x01\x04\x02\x05\x03\x06", 6)), std::string::npos);
  EXPECT_EQ(bytes.find(std::string("\x01\x02\x03\x04\x05\x06", 6)), std::string::npos);
  EXPECT_EQ(bytes.substr(0, 10), "MATLAB 5.0");
}

TEST(MatIo, WritesAtomicallyAndCreatesDirectories) {
  testing::TempDir tmp;
  const fs::path file = tmp.path() / "sub" / "dir" / "x.mat";
  io::write_mat(file, {{"a", at::ones({2, 2}, at::kByte)}});
  io::write_mat(file, {{"b", at::zeros({1, 1}, at::kByte)}});  // replaces the whole file
  const auto back = io::read_mat(file);
  EXPECT_EQ(back.size(), 1u);
  EXPECT_EQ(back.count("b"), 1u);
  int entries = 0;
  for (const auto& entry : fs::directory_iterator(file.parent_path())) {
    (void)entry;
    ++entries;
  }
  EXPECT_EQ(entries, 1) << "temporary files left behind";
}

TEST(MatScipy, FilesWrittenByBoundsegLoadInScipyWithIdenticalArrays) {
  testing::TempDir tmp;
  std::vector<std::pair<std::string, at::Tensor>> vars;
  std::string names;
  for (const auto& name : kBoundsegWritable) {
    vars.emplace_back(name, expected(name));
    names += " " + name;
  }
  for (bool compress : {true, false}) {
    const fs::path file = tmp.path() / (compress ? "c.mat" : "p.mat");
    io::write_mat(file, vars, io::MatWriteOptions().compress(compress));
    std::string out;
    EXPECT_EQ(run_python("check " + file.string() + names, &out), 0) << out;
    EXPECT_NE(out.find("OK 9"), std::string::npos) << out;
  }
}

TEST(MatScipy, FilesWrittenByScipyLoadInBoundsegWithIdenticalValues) {
  testing::TempDir tmp;
  std::string out;
  ASSERT_EQ(run_python("write " + tmp.path().string(), &out), 0) << out;
  for (const char* file : {"compressed.mat", "plain.mat"}) {
    const auto back = io::read_mat(tmp.path() / file);
    EXPECT_EQ(back.size(), specs().size()) << file;
    for (const auto& [name, spec] : specs()) {
      ASSERT_EQ(back.count(name), 1u) << file << " " << name;
      expect_equal_tensor(back.at(name), expected(name), std::string(file) + " " + name);
    }
    expect_equal_tensor(io::read_mat_variable(tmp.path() / file, "i32_3d"), expected("i32_3d"), "read_mat_variable");
  }
  BOUNDSEG_EXPECT_THROWS_WITH(io::read_mat(tmp.path() / "char.mat"),
                              "the variable 'text' of '" + (tmp.path() / "char.mat").string() +
                                  "' must be a real numeric array, but got a char array");
  BOUNDSEG_EXPECT_THROWS_WITH(io::read_mat(tmp.path() / "complex.mat"), "but got a complex double array");
  BOUNDSEG_EXPECT_THROWS_WITH(io::read_mat(tmp.path() / "cell.mat"), "but got a cell array");
}

TEST(MatScipy, SegFixFilesHaveTheReferenceLayout) {
  testing::TempDir tmp;
  // GT file: dir_deg, depth uint8 H x W, deg_reduce int64 [[2]]; scipy sees exactly these arrays.
  const at::Tensor depth = expected("u8_2d"), dir_deg = depth.flip(0).contiguous();
  io::write_segfix_gt_mat(tmp.path() / "gt.mat", depth, dir_deg);
  const io::SegFixGtMat gt = io::read_segfix_gt_mat(tmp.path() / "gt.mat");
  expect_equal_tensor(gt.depth, depth, "depth");
  expect_equal_tensor(gt.dir_deg, dir_deg, "dir_deg");
  EXPECT_EQ(gt.deg_reduce, 2);
  const auto raw = io::read_mat(tmp.path() / "gt.mat");
  expect_equal_tensor(raw.at("deg_reduce"), at::full({1, 1}, 2, at::kLong), "deg_reduce");
  // Offsets: `mat` int32 H x W x 2; the i32_3d array is an offset map with values -1/0/1.
  io::write_segfix_offset_mat(tmp.path() / "off.mat", expected("i32_3d").to(at::kLong).unsqueeze(0));
  expect_equal_tensor(io::read_segfix_offset_mat(tmp.path() / "off.mat"), expected("i32_3d"), "mat");
  io::write_mat(tmp.path() / "named.mat",
                {{"u8_2d", depth}, {"i32_3d", io::read_segfix_offset_mat(tmp.path() / "off.mat")}});
  std::string out;
  EXPECT_EQ(run_python("check " + (tmp.path() / "named.mat").string() + " u8_2d i32_3d", &out), 0) << out;
  // Offsets stored as double by another writer are accepted.
  io::write_mat(tmp.path() / "double.mat", {{"mat", expected("i32_3d").to(at::kDouble)}});
  expect_equal_tensor(io::read_segfix_offset_mat(tmp.path() / "double.mat"), expected("i32_3d"), "double mat");
}

TEST(MatIo, RejectsBadFilesVariablesAndArguments) {
  testing::TempDir tmp;
  const fs::path missing = tmp.path() / "missing.mat";
  BOUNDSEG_EXPECT_THROWS_WITH(io::read_mat(missing), "the file '" + missing.string() + "' must exist");
  const fs::path text = tmp.path() / "text.mat";
  io::write_file_atomic(text,
                        "not a mat file at all, just some text that is long enough to have a header......."
                        "................................................................................");
  BOUNDSEG_EXPECT_THROWS_WITH(io::read_mat(text), "' must be a level-5 MAT file, but got no level-5 header.");
  // A truncated compressed file.
  const fs::path full = tmp.path() / "full.mat";
  io::write_mat(full, {{"a", expected("f64_3d")}, {"b", expected("i64_2d")}});
  const std::string bytes = io::read_file(full, "test");
  const fs::path cut = tmp.path() / "cut.mat";
  io::write_file_atomic(cut, bytes.substr(0, bytes.size() - 20));
  BOUNDSEG_EXPECT_THROWS_WITH(io::read_mat(cut), "of '" + cut.string() + "' must fit in the file");
  // A damaged zlib stream of the same length (libmatio alone would return partial data for both).
  std::string damaged = bytes;
  for (size_t i = 160; i < 176; ++i) damaged[i] = static_cast<char>(damaged[i] ^ 0x5A);
  const fs::path bad = tmp.path() / "bad.mat";
  io::write_file_atomic(bad, damaged);
  BOUNDSEG_EXPECT_THROWS_WITH(io::read_mat(bad), "must inflate to one complete miMATRIX element");
  BOUNDSEG_EXPECT_THROWS_WITH(io::read_mat_variable(full, "c"),
                              "'" + full.string() + "' must hold the variable 'c', but got the variables: a, b");
  // Writing.
  BOUNDSEG_EXPECT_THROWS_WITH(io::write_mat(tmp.path() / "w.mat", {{"1x", at::ones({1})}}), "variable name '1x'");
  BOUNDSEG_EXPECT_THROWS_WITH(io::write_mat(tmp.path() / "w.mat", {{"a", at::ones({1})}, {"a", at::ones({1})}}),
                              "must appear once");
  BOUNDSEG_EXPECT_THROWS_WITH(io::write_mat(tmp.path() / "w.mat", {{"a", at::ones({1}, at::kHalf)}}),
                              "'a' must be a uint8, int8, int16, int32, int64, float32, float64 or bool tensor");
  BOUNDSEG_EXPECT_THROWS_WITH(io::write_mat(tmp.path() / "w.mat", {{"a", at::Tensor()}}), "must be a defined tensor");
  EXPECT_FALSE(fs::exists(tmp.path() / "w.mat"));
  // SegFix layouts.
  io::write_mat(tmp.path() / "gt3.mat",
                {{"depth", at::zeros({2, 2, 2}, at::kByte)}, {"dir_deg", at::zeros({2, 2}, at::kByte)}});
  BOUNDSEG_EXPECT_THROWS_WITH(io::read_segfix_gt_mat(tmp.path() / "gt3.mat"),
                              "the variable 'depth' of '" + (tmp.path() / "gt3.mat").string() +
                                  "' must be an H x W array, but got a 2 x 2 x 2 array");
  io::write_mat(tmp.path() / "gtbig.mat",
                {{"depth", at::full({2, 2}, 300, at::kInt)}, {"dir_deg", at::zeros({2, 2}, at::kByte)}});
  BOUNDSEG_EXPECT_THROWS_WITH(io::read_segfix_gt_mat(tmp.path() / "gtbig.mat"), "must hold integers in [0, 255]");
  io::write_mat(tmp.path() / "nodir.mat", {{"depth", at::zeros({2, 2}, at::kByte)}});
  BOUNDSEG_EXPECT_THROWS_WITH(io::read_segfix_gt_mat(tmp.path() / "nodir.mat"),
                              "must hold the variable 'dir_deg', but got the variables: depth");
  io::write_mat(tmp.path() / "off3.mat", {{"mat", at::zeros({2, 2, 3}, at::kInt)}});
  BOUNDSEG_EXPECT_THROWS_WITH(io::read_segfix_offset_mat(tmp.path() / "off3.mat"),
                              "must be an H x W x 2 array (dh, dw), but got a 2 x 2 x 3 array");
  io::write_mat(tmp.path() / "offhalf.mat", {{"mat", at::full({2, 2, 2}, 0.5, at::kDouble)}});
  BOUNDSEG_EXPECT_THROWS_WITH(io::read_segfix_offset_mat(tmp.path() / "offhalf.mat"), "must hold integers");
  BOUNDSEG_EXPECT_THROWS_WITH(io::write_segfix_offset_mat(tmp.path() / "o.mat", at::zeros({2, 2, 2})),
                              "'offsets' must be an integer tensor");
  BOUNDSEG_EXPECT_THROWS_WITH(io::write_segfix_offset_mat(tmp.path() / "o.mat", at::zeros({2, 2, 2, 2}, at::kInt)),
                              "'offsets' must be a (H, W, 2) or (1, H, W, 2) tensor");
  BOUNDSEG_EXPECT_THROWS_WITH(io::write_segfix_offset_mat(tmp.path() / "o.mat", at::full({2, 2, 2}, int64_t{1} << 40)),
                              "'offsets' must hold int32 values");
  BOUNDSEG_EXPECT_THROWS_WITH(io::write_segfix_gt_mat(tmp.path() / "g.mat", at::zeros({2, 2}), at::zeros({2, 2})),
                              "'depth' must be a uint8 (H, W) tensor");
  BOUNDSEG_EXPECT_THROWS_WITH(
      io::write_segfix_gt_mat(tmp.path() / "g.mat", at::zeros({2, 2}, at::kByte), at::zeros({2, 3}, at::kByte)),
      "'dir_deg' must be a uint8 tensor of the size of 'depth'");
  BOUNDSEG_EXPECT_THROWS_WITH(
      io::write_segfix_gt_mat(tmp.path() / "g.mat", at::zeros({2, 2}, at::kByte), at::zeros({2, 2}, at::kByte), 0),
      "'deg_reduce' must be >= 1, but got 0");
}

}  // namespace
}  // namespace boundseg
