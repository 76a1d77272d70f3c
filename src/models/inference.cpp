// Inference: windows, flips and scales around one network forward.
#include "boundseg/models/inference.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>

#include "boundseg/core/error.h"

namespace boundseg::models {

at::Tensor normalize_openseg(const cv::Mat& bgr) {
  require(bgr.type() == CV_8UC3, "infer", "the image", "be an 8-bit 3-channel (BGR) image",
          [&] { return "OpenCV type " + std::to_string(bgr.type()); });
  const cv::Mat c = bgr.isContinuous() ? bgr : bgr.clone();
  at::Tensor x = at::from_blob(c.data, {c.rows, c.cols, 3}, at::kByte).to(at::kFloat).div_(255.0);
  // RGB statistics on B, G, R in that order: the released weights depend on this quirk.
  const at::Tensor mean = at::tensor({0.485f, 0.456f, 0.406f});
  const at::Tensor std = at::tensor({0.229f, 0.224f, 0.225f});
  return x.sub_(mean).div_(std).permute({2, 0, 1}).unsqueeze(0).contiguous();
}

namespace {

// Logits of one image at its own size: one pass, or averaged sliding windows.
at::Tensor window_logits(HrnetOcr& model, const at::Tensor& image, const InferenceOptions& o) {
  const int64_t h = image.size(2), w = image.size(3);
  if (o.crop_height <= 0 || o.crop_width <= 0) return std::get<1>(model->forward(image));
  const int64_t ch = o.crop_height, cw = o.crop_width;
  const int64_t sh = o.stride_height > 0 ? o.stride_height : std::max<int64_t>(1, ch * 2 / 3);
  const int64_t sw = o.stride_width > 0 ? o.stride_width : std::max<int64_t>(1, cw * 2 / 3);
  // Zero-pad up to the crop so that every window has the crop's size.
  const int64_t ph = std::max(h, ch), pw = std::max(w, cw);
  const at::Tensor padded = at::constant_pad_nd(image, {0, pw - w, 0, ph - h}, 0.0);
  at::Tensor sum, count = at::zeros({1, 1, ph, pw}, image.options());
  auto starts = [](int64_t size, int64_t crop, int64_t stride) {
    std::vector<int64_t> s;
    for (int64_t p = 0;; p += stride) {
      s.push_back(std::min(p, size - crop));  // the last window ends at the border
      if (p + crop >= size) break;
    }
    return s;
  };
  for (int64_t y : starts(ph, ch, sh)) {
    for (int64_t x : starts(pw, cw, sw)) {
      const at::Tensor logits = std::get<1>(model->forward(padded.slice(2, y, y + ch).slice(3, x, x + cw)));
      if (!sum.defined()) sum = at::zeros({1, logits.size(1), ph, pw}, image.options());
      sum.slice(2, y, y + ch).slice(3, x, x + cw).add_(logits);
      count.slice(2, y, y + ch).slice(3, x, x + cw).add_(1.0);
    }
  }
  return (sum / count).slice(2, 0, h).slice(3, 0, w);
}

}  // namespace

at::Tensor predict_logits(HrnetOcr& model, const at::Tensor& image, const InferenceOptions& o) {
  require(image.dim() == 4 && image.size(0) == 1 && image.size(1) == 3, "infer", "the image tensor",
          "be (1, 3, H, W)", [&] { return std::to_string(image.dim()) + "-D"; });
  require(!o.scales.empty(), "infer", "--scales", "hold at least one scale", [] { return "none"; });
  torch::NoGradGuard no_grad;
  const int64_t h = image.size(2), w = image.size(3);
  at::Tensor total;
  int64_t passes = 0;
  for (double scale : o.scales) {
    require(scale > 0 && scale <= 8, "infer", "--scales", "hold scales in (0, 8]", [&] { return std::to_string(scale); });
    const int64_t sh = std::max<int64_t>(1, int64_t(std::lround(h * scale)));
    const int64_t sw = std::max<int64_t>(1, int64_t(std::lround(w * scale)));
    const at::Tensor scaled =
        scale == 1.0 ? image : at::upsample_bilinear2d(image, {sh, sw}, /*align_corners=*/true);
    for (bool flipped : {false, true}) {
      if (flipped && !o.flip) continue;
      at::Tensor logits = window_logits(model, flipped ? scaled.flip({3}) : scaled, o);
      if (flipped) logits = logits.flip({3});
      if (scale != 1.0) logits = at::upsample_bilinear2d(logits, {h, w}, /*align_corners=*/true);
      total = total.defined() ? total + logits : logits;
      ++passes;
    }
  }
  return total / double(passes);
}

}  // namespace boundseg::models
