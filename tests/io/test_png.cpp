// Label PNG reading: palette indices, bit depths, and every kind of bad file.
#include <gtest/gtest.h>
#include <png.h>

#include <cstdio>
#include <fstream>

#include <opencv2/imgcodecs.hpp>

#include "boundseg/io/atomic_file.h"
#include "boundseg/io/png.h"
#include "support/golden.h"

namespace boundseg::io {
namespace {

// Writes a PNG with libpng directly (OpenCV cannot write palette images).
void write_raw_png(const std::filesystem::path& path, int w, int h, int bit_depth, int color_type,
                   const std::vector<uint8_t>& rows_bytes, const std::vector<png_color>& palette = {}) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_init_io(png, f);
  png_set_IHDR(png, info, w, h, bit_depth, color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (!palette.empty()) png_set_PLTE(png, info, palette.data(), static_cast<int>(palette.size()));
  png_write_info(png, info);
  const size_t stride = rows_bytes.size() / h;
  for (int y = 0; y < h; ++y) png_write_row(png, rows_bytes.data() + y * stride);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(f);
}

TEST(LabelPng, PaletteImagesAreReadAsIndicesNotColours) {
  testing::TempDir dir;
  const auto path = dir.path() / "palette.png";
  std::vector<png_color> palette(21);
  for (int i = 0; i < 21; ++i) palette[i] = {uint8_t(i * 12), uint8_t(255 - i * 7), uint8_t(i * 3)};
  std::vector<uint8_t> pixels = {0, 5, 20, 7, 1, 2};
  write_raw_png(path, 3, 2, 8, PNG_COLOR_TYPE_PALETTE, pixels, palette);
  const cv::Mat m = read_label_png(path);
  ASSERT_EQ(m.type(), CV_8UC1);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(m.data[i], pixels[i]);
  // OpenCV alone expands the palette (the trap this reader avoids).
  EXPECT_EQ(cv::imread(path.string(), cv::IMREAD_UNCHANGED).channels(), 3);
}

TEST(LabelPng, LowBitDepthPaletteAndGreyKeepValues) {
  testing::TempDir dir;
  const auto path = dir.path() / "p4.png";
  std::vector<png_color> palette(16, png_color{1, 2, 3});
  write_raw_png(path, 4, 1, 4, PNG_COLOR_TYPE_PALETTE, {0x3F, 0x1A}, palette);  // 3, 15, 1, 10
  const cv::Mat m = read_label_png(path);
  EXPECT_EQ(m.at<uint8_t>(0, 0), 3);
  EXPECT_EQ(m.at<uint8_t>(0, 1), 15);
  EXPECT_EQ(m.at<uint8_t>(0, 3), 10);
  const auto grey = dir.path() / "g1.png";
  write_raw_png(grey, 8, 1, 1, PNG_COLOR_TYPE_GRAY, {0xA0});  // 1 0 1 0 0 0 0 0
  const cv::Mat g = read_label_png(grey);
  EXPECT_EQ(g.at<uint8_t>(0, 0), 1);
  EXPECT_EQ(g.at<uint8_t>(0, 1), 0);
  EXPECT_EQ(g.at<uint8_t>(0, 2), 1);
}

TEST(LabelPng, SixteenBitIdsRoundTrip) {
  testing::TempDir dir;
  cv::Mat ids(3, 4, CV_16UC1);
  for (int i = 0; i < 12; ++i) ids.ptr<uint16_t>()[i] = static_cast<uint16_t>(26000 + i * 1001);
  write_png(dir.path() / "ids.png", ids);
  const cv::Mat back = read_label_png(dir.path() / "ids.png");
  ASSERT_EQ(back.type(), CV_16UC1);
  EXPECT_EQ(testing::count_mismatches(back, ids), 0);
}

TEST(LabelPng, ColourImagesAreRejected) {
  testing::TempDir dir;
  write_png(dir.path() / "rgb.png", cv::Mat(2, 2, CV_8UC3, cv::Scalar(1, 2, 3)));
  BOUNDSEG_EXPECT_THROWS_WITH(read_label_png(dir.path() / "rgb.png"),
                              "must be a single-channel label map (greyscale or palette indices), but got a RGB "
                              "colour image");
}

TEST(LabelPng, TruncatedNonPngEmptyAndMissingFilesAreRejected) {
  testing::TempDir dir;
  write_png(dir.path() / "ok.png", cv::Mat(64, 64, CV_8UC1, cv::Scalar(7)));
  const std::string bytes = read_file(dir.path() / "ok.png", "test");
  write_file_atomic(dir.path() / "cut.png", std::string_view(bytes).substr(0, bytes.size() / 2));
  BOUNDSEG_EXPECT_THROWS_WITH(read_label_png(dir.path() / "cut.png"), "must be a complete, valid PNG, but got a truncated");
  write_file_atomic(dir.path() / "text.png", "hello, not a png");
  BOUNDSEG_EXPECT_THROWS_WITH(read_label_png(dir.path() / "text.png"),
                              "must be a PNG image, but got a file without the PNG signature");
  write_file_atomic(dir.path() / "empty.png", "");
  BOUNDSEG_EXPECT_THROWS_WITH(read_label_png(dir.path() / "empty.png"), "but got an empty file");
  BOUNDSEG_EXPECT_THROWS_WITH(read_label_png(dir.path() / "missing.png"),
                              "the file '" + (dir.path() / "missing.png").string() + "' must exist and be readable, but got no such file");
}

TEST(AtomicFile, ReplacesWholeFilesAndLeavesNoTemporaries) {
  testing::TempDir dir;
  write_file_atomic(dir.path() / "a" / "out.json", "first");
  write_file_atomic(dir.path() / "a" / "out.json", "second");
  EXPECT_EQ(read_file(dir.path() / "a" / "out.json", "test"), "second");
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path() / "a")) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

}  // namespace
}  // namespace boundseg::io
