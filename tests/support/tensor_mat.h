// Conversions between single-channel cv::Mat and (H, W) tensors for tests.
#pragma once

#include <ATen/ATen.h>
#include <opencv2/core/mat.hpp>

namespace boundseg::testing {

inline at::Tensor to_tensor(const cv::Mat& m) {
  const auto type = m.depth() == CV_16U ? at::kInt : at::kByte;
  if (m.depth() == CV_16U) {
    cv::Mat widened;
    m.convertTo(widened, CV_32S);
    return at::from_blob(widened.data, {widened.rows, widened.cols}, at::kInt).clone();
  }
  return at::from_blob(m.data, {m.rows, m.cols}, type).clone();
}

inline cv::Mat to_mat(const at::Tensor& t) {
  at::Tensor c = t.to(at::kByte).contiguous();
  return cv::Mat(static_cast<int>(c.size(0)), static_cast<int>(c.size(1)), CV_8UC1, c.data_ptr()).clone();
}

}  // namespace boundseg::testing
