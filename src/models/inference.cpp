// Inference: windows, flips and scales around one network forward.
#include "boundseg/models/inference.h"

#include <ATen/ATen.h>
#include <torch/utils.h>

#include <algorithm>

#include "boundseg/core/error.h"
#include "boundseg/data/transforms.h"

namespace boundseg::models {

at::Tensor normalize_openseg(const cv::Mat& bgr) {
  at::Tensor x = at::empty({1, 3, bgr.rows, bgr.cols}, at::kFloat);
  data::normalize_openseg_into(bgr, x.data_ptr<float>());
  return x;
}

namespace {

// Window origins along one axis: every `stride`, the last window ending at the border.
std::vector<int64_t> window_starts(int64_t size, int64_t crop, int64_t stride) {
  std::vector<int64_t> starts;
  for (int64_t p = 0;; p += stride) {
    starts.push_back(std::min(p, size - crop));
    if (p + crop >= size) break;
  }
  return starts;
}

// One forward input: a window of one (possibly flipped) scaled image.
struct Pass {
  bool flipped;
  int64_t y, x;
};

// Logits of one scaled image at its own size: every window (the whole image when no crop is set) and its flip, run
// in batches, un-flipped and averaged where windows overlap.
at::Tensor scaled_logits(const Segmenter& segment, const at::Tensor& image, const InferenceOptions& o) {
  const int64_t h = image.size(2), w = image.size(3);
  const bool windowed = o.crop_height > 0 && o.crop_width > 0;
  const int64_t ch = windowed ? o.crop_height : h, cw = windowed ? o.crop_width : w;
  const int64_t sh = o.stride_height > 0 ? o.stride_height : std::max<int64_t>(1, ch * 2 / 3);
  const int64_t sw = o.stride_width > 0 ? o.stride_width : std::max<int64_t>(1, cw * 2 / 3);
  // Zero-pad up to the crop so that every window has the crop's size.
  const int64_t ph = std::max(h, ch), pw = std::max(w, cw);
  const at::Tensor padded = ph == h && pw == w ? image : at::constant_pad_nd(image, {0, pw - w, 0, ph - h}, 0.0);
  std::vector<Pass> passes;
  for (int64_t y : window_starts(ph, ch, sh)) {
    for (int64_t x : window_starts(pw, cw, sw)) {
      passes.push_back({false, y, x});
      if (o.flip) passes.push_back({true, y, x});
    }
  }
  at::Tensor sum, count = at::zeros({1, 1, ph, pw}, image.options());
  const auto batch = static_cast<size_t>(std::max<int64_t>(1, o.batch_size));
  for (size_t first = 0; first < passes.size(); first += batch) {
    const size_t last = std::min(passes.size(), first + batch);
    std::vector<at::Tensor> inputs;
    for (size_t i = first; i < last; ++i) {
      const at::Tensor crop = padded.slice(2, passes[i].y, passes[i].y + ch).slice(3, passes[i].x, passes[i].x + cw);
      inputs.push_back(passes[i].flipped ? crop.flip({3}) : crop);
    }
    const at::Tensor logits = segment(inputs.size() == 1 ? inputs[0] : at::cat(inputs, 0));
    for (size_t i = first; i < last; ++i) {
      at::Tensor l = logits.narrow(0, int64_t(i - first), 1);
      if (passes[i].flipped) l = l.flip({3});
      if (!sum.defined()) sum = at::zeros({1, l.size(1), ph, pw}, image.options());
      sum.slice(2, passes[i].y, passes[i].y + ch).slice(3, passes[i].x, passes[i].x + cw).add_(l);
      count.slice(2, passes[i].y, passes[i].y + ch).slice(3, passes[i].x, passes[i].x + cw).add_(1.0);
    }
  }
  return (sum / count).slice(2, 0, h).slice(3, 0, w);
}

}  // namespace

at::Tensor predict_logits(const Segmenter& segment, const at::Tensor& image, const InferenceOptions& o) {
  require(image.dim() == 4 && image.size(0) == 1 && image.size(1) == 3, "infer", "the image tensor",
          "be (1, 3, H, W)", [&] { return std::to_string(image.dim()) + "-D"; });
  require(!o.scales.empty(), "infer", "--scales", "hold at least one scale", [] { return "none"; });
  require(o.batch_size > 0, "infer", "--batch-size", "be positive", [&] { return std::to_string(o.batch_size); });
  torch::NoGradGuard no_grad;
  const int64_t h = image.size(2), w = image.size(3);
  at::Tensor total;
  for (double scale : o.scales) {
    require(scale > 0 && scale <= 8, "infer", "--scales", "hold scales in (0, 8]", [&] { return std::to_string(scale); });
    const int64_t sh = std::max<int64_t>(1, int64_t(std::lround(h * scale)));
    const int64_t sw = std::max<int64_t>(1, int64_t(std::lround(w * scale)));
    const at::Tensor scaled =
        scale == 1.0 ? image : at::upsample_bilinear2d(image, {sh, sw}, /*align_corners=*/true);
    at::Tensor logits = scaled_logits(segment, scaled, o);
    if (scale != 1.0) logits = at::upsample_bilinear2d(logits, {h, w}, /*align_corners=*/true);
    total = total.defined() ? total + logits : logits;
  }
  return total / double(o.scales.size());
}

}  // namespace boundseg::models
