// SegFix at test time: network outputs -> offset map (segfix.md §7), offsets applied to any segmentation (§8).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/arg.h>

#include "boundseg/core/options.h"

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "boundseg/ops/segfix.h"

namespace boundseg::refine {

/// Options of segfix_offsets (tester_offset.py _get_offset, segfix.md §7).
struct SegFixOffsetOptions {
  /// A pixel is boundary when P(boundary) > mask_threshold (strict). Default 0.5 (hard-coded in the reference).
  TORCH_ARG(double, mask_threshold) = 0.5;
  /// With 4 direction channels: the axis-aligned table instead of the diagonal one (ops::segfix_offset_table).
  /// Default false.
  TORCH_ARG(bool, c4_align_axis) = false;
};

void validate(const SegFixOffsetOptions& options, const OptionSite& site);

/// Offsets from (averaged, upsampled) network outputs: boundary = mask_prob[:, 1] > threshold; bin = argmax of the
/// float32 softmax of dir_logits (ties -> first index); offset = table[bin] on boundary pixels, (0, 0) elsewhere.
/// mask_prob: float (N, 2, H, W) probabilities; dir_logits: float (N, K, H, W), K = 4, 8, 16 or 32 bins, same N, H, W.
/// Returns int64 (N, H, W, 2), channel 0 = dh, 1 = dw.
at::Tensor segfix_offsets(const at::Tensor& mask_prob, const at::Tensor& dir_logits,
                          const SegFixOffsetOptions& options = {});

/// Sliding-window start positions along one axis (tester_offset.py _decide_intersection): stride = floor(crop / 3);
/// starts 0, stride, 2·stride, ... while <= total - crop, then total - crop when the last window stops short.
/// 1024 / 512 -> {0, 170, 340, 510, 512}. Requires total >= crop >= 3 (segfix_predict pads smaller images).
std::vector<int64_t> segfix_crop_starts(int64_t total, int64_t crop);

/// One network evaluation: image crop (N, 3, h, w) -> (mask logits (N, 2, h', w'), direction logits (N, K, h', w')) at
/// the network's resolution.
using SegFixForward = std::function<std::pair<at::Tensor, at::Tensor>(const at::Tensor&)>;

/// Options of segfix_predict (segfix.md §7, test.sscrop).
struct SegFixPredictOptions {
  /// Sliding window (`sscrop_test`) when true; one pass over the whole image (`ss_test`) when false. Default true.
  TORCH_ARG(bool, sliding_window) = true;
  /// Window height (the training crop). Default 512.
  TORCH_ARG(int64_t, crop_height) = 512;
  /// Window width. Default 512.
  TORCH_ARG(int64_t, crop_width) = 512;
};

void validate(const SegFixPredictOptions& options, const OptionSite& site);

/// Averaged full-resolution network outputs.
struct SegFixPrediction {
  at::Tensor mask_prob;   ///< float (N, 2, H, W): softmax at the network's resolution, then upsampled and averaged
  at::Tensor dir_logits;  ///< float (N, K, H, W): logits, upsampled and averaged
};

/// Runs `forward` over `image` as the reference's tester: per window (rows outer, columns inner, starts of
/// segfix_crop_starts) mask = softmax(mask logits) at the network's resolution, both maps bilinearly upsampled
/// (align_corners=True) to the window size, summed with a per-pixel count, divided at the end. An image smaller than
/// the window is first padded with zeros on the right/bottom to the window size and the outputs are cropped back
/// (the reference crashes there, segfix.md §10 #5/#6). Runs without autograd (test time).
/// image: float (N, C, H, W), already normalised.
SegFixPrediction segfix_predict(const at::Tensor& image, const SegFixForward& forward,
                                const SegFixPredictOptions& options = {});

/// How offsets are applied (segfix.md §8, §10 #1).
enum class SegFixRefineMode {
  /// out[y, x] = in[clamp(y + s·dh), clamp(x + s·dw)]: the intended nearest gather (torch <= 1.3). Default.
  kGather,
  /// The unmodified reference scripts on torch >= 1.4: grid_sample without align_corners (bilinear, border padding)
  /// on the grid normalised for align_corners=True, then half-to-even rounding (semantic) or > 0.5 (instance).
  kTorch14Bilinear,
};

/// Options of segfix_refine_semantic (scripts/cityscapes/segfix.py).
struct SegFixSemanticRefineOptions {
  /// Pixels per offset unit. Default 2 (the script's --scale).
  TORCH_ARG(int64_t, scale) = 2;
  /// Encode labelId -> trainId through label_list before and decode after, so every value outside the list becomes
  /// 255 even where nothing moved (the reference; segfix.md §10 #4). Default false: raw values are gathered.
  TORCH_ARG(bool, void_to_255) = false;
  /// The LABEL_LIST of void_to_255. Default Cityscapes (ops::cityscapes_label_list()).
  TORCH_ARG(std::vector<int64_t>, label_list) = ops::cityscapes_label_list();
  /// Default kGather. kTorch14Bilinear blends the values it gathers (trainIds with void_to_255, as the reference).
  TORCH_ARG(SegFixRefineMode, mode) = SegFixRefineMode::kGather;
};

void validate(const SegFixSemanticRefineOptions& options, const OptionSite& site);

/// Refines label maps with offsets. labels: uint8/int16/int32/int64 (H, W) or (N, H, W); offsets: int32/int64
/// (H, W, 2) or (N, H, W, 2) (dh, dw), unit steps as stored in the `.mat`, one field per map. Returns the labels'
/// dtype and shape.
at::Tensor segfix_refine_semantic(const at::Tensor& labels, const at::Tensor& offsets,
                                  const SegFixSemanticRefineOptions& options = {});

/// Options of segfix_refine_instance (scripts/cityscapes/segfix_instance.py).
struct SegFixInstanceRefineOptions {
  /// Pixels per offset unit. Default 1 (the script's --scale).
  TORCH_ARG(int64_t, scale) = 1;
  /// Default kGather.
  TORCH_ARG(SegFixRefineMode, mode) = SegFixRefineMode::kGather;
};

void validate(const SegFixInstanceRefineOptions& options, const OptionSite& site);

/// Refines the instance masks of one image, each independently with the same offsets (overlaps and holes are not
/// resolved, segfix.md §8.2). masks: (K, H, W) or (H, W) of any integer or bool dtype, foreground = value > 0;
/// offsets: int32/int64 (H, W, 2). Returns uint8 0/1 of the masks' shape.
at::Tensor segfix_refine_instance(const at::Tensor& masks, const at::Tensor& offsets,
                                  const SegFixInstanceRefineOptions& options = {});

}  // namespace boundseg::refine
