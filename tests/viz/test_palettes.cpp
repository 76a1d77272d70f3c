// Built-in palettes (formats.md §8) and the colour renderings that use them.
#include <gtest/gtest.h>

#include <opencv2/core.hpp>

#include "boundseg/viz/render.h"
#include "support/golden.h"

namespace boundseg::viz {
namespace {

using Rgb = std::array<uint8_t, 3>;

TEST(Palettes, KnownColoursOfEachPalette) {
  EXPECT_EQ(palette_color(Palette::kCityscapes, 0), (Rgb{128, 64, 128}));  // road
  EXPECT_EQ(palette_color(Palette::kCityscapes, 18), (Rgb{119, 11, 32}));  // bicycle
  EXPECT_FALSE(palette_color(Palette::kCityscapes, 19).has_value());
  EXPECT_EQ(palette_color(Palette::kAde20k, 0), (Rgb{120, 120, 120}));  // wall
  EXPECT_EQ(palette_color(Palette::kAde20k, 149), (Rgb{92, 0, 255}));   // flag
  EXPECT_FALSE(palette_color(Palette::kAde20k, 150).has_value());
  EXPECT_EQ(palette_color(Palette::kVoc, 1), (Rgb{128, 0, 0}));
  EXPECT_EQ(palette_color(Palette::kVoc, 3), (Rgb{128, 128, 0}));
  EXPECT_FALSE(palette_color(Palette::kVoc, 255).has_value());  // ignore stays black
}

TEST(Palettes, AutoFollowsTheClassCount) {
  EXPECT_EQ(resolve_palette(Palette::kAuto, 19), Palette::kCityscapes);
  EXPECT_EQ(resolve_palette(Palette::kAuto, 150), Palette::kAde20k);
  EXPECT_EQ(resolve_palette(Palette::kAuto, 21), Palette::kVoc);
  EXPECT_EQ(resolve_palette(Palette::kVoc, 19), Palette::kVoc);
  EXPECT_EQ(palette_from_name("ade20k"), Palette::kAde20k);
  BOUNDSEG_EXPECT_THROWS_WITH(palette_from_name("coco"),
                              "boundseg palette: the palette name must be auto, cityscapes, ade20k or voc, but got "
                              "'coco'.");
}

TEST(Palettes, ColorizeWritesBgrAndBlackForIdsWithoutColour) {
  cv::Mat ids = (cv::Mat_<uint8_t>(1, 4) << 0, 149, 150, 255);
  const cv::Mat bgr = colorize_train_ids(ids, 150);  // auto -> ADE20K
  EXPECT_EQ(bgr.at<cv::Vec3b>(0, 0), cv::Vec3b(120, 120, 120));
  EXPECT_EQ(bgr.at<cv::Vec3b>(0, 1), cv::Vec3b(255, 0, 92));
  EXPECT_EQ(bgr.at<cv::Vec3b>(0, 2), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(bgr.at<cv::Vec3b>(0, 3), cv::Vec3b(0, 0, 0));
  // An explicit palette wins over the class count.
  EXPECT_EQ(colorize_train_ids(ids, 150, Palette::kVoc).at<cv::Vec3b>(0, 2), cv::Vec3b(0, 0, 0));  // id >= K
  EXPECT_EQ(colorize_train_ids(ids, 19, Palette::kAde20k).at<cv::Vec3b>(0, 0), cv::Vec3b(120, 120, 120));
}

}  // namespace
}  // namespace boundseg::viz
