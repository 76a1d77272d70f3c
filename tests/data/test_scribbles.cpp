// Scribble data: ScribbleSup XML parsing and rasterisation, generation from dense labels.
#include <gtest/gtest.h>

#include <fstream>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "boundseg/io/cityscapes_labels.h"
#include "boundseg/data/scribbles.h"
#include "boundseg/data/synthetic.h"
#include "support/golden.h"

namespace {

using namespace boundseg::data;

TEST(Scribbles, ParsesScribbleSupXmlAndDrawsThreeToFourPixelPolylines) {
  boundseg::testing::TempDir tmp;
  const auto path = tmp.path() / "2007_000032.xml";
  std::ofstream(path) << "<annotation><filename>2007_000032.jpg</filename>\n"
                         "<size><width>40</width><height>30</height></size>\n"
                         "<polygon><tag>background</tag><point><X>2</X><Y>5</Y></point>"
                         "<point><X>30</X><Y>5</Y></point></polygon>\n"
                         "<polygon><tag> TV </tag><point><X>10</X><Y>0</Y></point>"
                         "<point><X>10</X><Y>99</Y></point></polygon>\n"
                         "</annotation>\n";
  const ScribbleAnnotation a = parse_scribblesup_xml(path);
  ASSERT_EQ(a.height, 30);
  ASSERT_EQ(a.width, 40);
  ASSERT_EQ(a.scribbles.size(), 2u);
  EXPECT_EQ(a.scribbles[0].class_id, 0);
  EXPECT_EQ(a.scribbles[1].class_id, 20);
  EXPECT_EQ(a.scribbles[1].points[1], cv::Point(10, 29));  // clamped into the image
  const cv::Mat labels = rasterize_scribbles(a);
  EXPECT_EQ(labels.at<uint8_t>(5, 20), 0);
  EXPECT_EQ(labels.at<uint8_t>(4, 20), 0);  // 3 px wide
  EXPECT_EQ(labels.at<uint8_t>(6, 20), 0);
  EXPECT_EQ(labels.at<uint8_t>(9, 20), 255);
  EXPECT_EQ(labels.at<uint8_t>(5, 10), 20);  // the later scribble overwrites the earlier one
  EXPECT_EQ(labels.at<uint8_t>(20, 10), 20);
  // 3 to 4 pixels across, as MATLAB's insertShape + "any change" rule (rloss.md §3.2).
  const int across = cv::countNonZero(labels.col(20) != 255);
  EXPECT_GE(across, 3);
  EXPECT_LE(across, 4);

  std::ofstream(path) << "<annotation><size><width>4</width><height>3</height></size>"
                         "<polygon><tag>unicorn</tag><point><X>1</X><Y>1</Y></point></polygon></annotation>";
  BOUNDSEG_EXPECT_THROWS_WITH(parse_scribblesup_xml(path), "'unicorn'");
}

TEST(Scribbles, GeneratedStrokesLieInsideTheirRegionsAndCoverAFewPercent) {
  const SyntheticScene scene = make_synthetic_scene(3, 256, 512);
  const cv::Mat train_ids = boundseg::cityscapes::label_ids_to_train_ids(scene.label_ids);
  const cv::Mat scribbles = scribbles_from_labels(train_ids);
  const cv::Mat labelled = scribbles != 255;
  EXPECT_EQ(cv::countNonZero(labelled & (scribbles != train_ids)), 0) << "a stroke crossed a region boundary";
  const double share = cv::countNonZero(labelled) / double(labelled.total());
  EXPECT_GT(share, 0.01);
  EXPECT_LT(share, 0.15);
  // Strokes keep away from boundaries: nothing labelled within the margin of another class.
  cv::Mat boundary;
  cv::Mat eroded;
  cv::erode(train_ids, eroded, cv::Mat());
  cv::Mat dilated;
  cv::dilate(train_ids, dilated, cv::Mat());
  boundary = eroded != dilated;
  cv::Mat near_boundary;
  cv::dilate(boundary, near_boundary, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(3, 3)));
  EXPECT_EQ(cv::countNonZero(near_boundary & labelled), 0);
  // Every large region gets a stroke.
  for (int c = 0; c < 19; ++c) {
    if (cv::countNonZero(train_ids == c) < 3000) continue;
    EXPECT_GT(cv::countNonZero(scribbles == c), 0) << "class " << c;
  }
  EXPECT_EQ(cv::countNonZero(scribbles_from_labels(train_ids) != scribbles), 0);  // deterministic
}

}  // namespace
