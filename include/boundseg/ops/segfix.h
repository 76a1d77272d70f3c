// SegFix offline ground truth (distance depth + quantised direction) and its training targets (segfix.md §2, §3).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/arg.h>

#include "boundseg/core/options.h"

#include <array>
#include <cstdint>
#include <vector>

namespace boundseg::ops {

/// Cityscapes LABEL_LIST: trainId i -> labelId list[i] (segfix.md §0), 19 entries.
std::vector<int64_t> cityscapes_label_list();

/// ADE20K LABEL_LIST: 1..150 (segfix.md §2.4).
std::vector<int64_t> ade20k_label_list();

/// labelId -> trainId through a LABEL_LIST: out = i where labels == label_list[i], `unmapped` elsewhere.
/// labels: integer (H, W) or (N, H, W) on the CPU; returns int64 of the same shape. Default unmapped 255.
at::Tensor encode_label_ids(const at::Tensor& labels, const std::vector<int64_t>& label_list, int64_t unmapped = 255);

/// trainId -> labelId: out = label_list[i] where train_ids == i (0 <= i < size), `unmapped` elsewhere (the reference's
/// decode, segfix.md §8.2). train_ids: integer (H, W) or (N, H, W); returns int64 of the same shape.
at::Tensor decode_train_ids(const at::Tensor& train_ids, const std::vector<int64_t>& label_list,
                            int64_t unmapped = 255);

/// The 5x5 derivative kernel of segfix.md §2.1: float32 [2, 1, 5, 5], channel 0 = Ky (row derivative), 1 = Kx.
at::Tensor segfix_derivative_kernel();

/// Offline SegFix ground truth of one or more maps, as stored in the `.mat` files (formats.md §6).
struct SegFixGt {
  /// min(EDT, 250) truncated: uint8, the input's (H, W) or (N, H, W).
  at::Tensor depth;
  /// q = uint8((degrees(atan2(g_row, g_col)) + 180) / 2) in [0, 180]: uint8, same shape. Angle = 2q - 180.
  at::Tensor dir_deg;
};

/// Options of the semantic generator (segfix.md §2.2 Cityscapes, §2.4 ADE20K).
struct SegFixSemanticGtOptions {
  /// A class with fewer pixels in a map is skipped: depth 0, direction (0, 0), i.e. q 90. Default 100.
  TORCH_ARG(int64_t, min_pixels) = 100;
  /// Value that is no class: background of every class mask, depth 0 and q 90. Default 255 (the encoded Cityscapes
  /// and ADE20K maps' "unlabeled").
  TORCH_ARG(int64_t, ignore_index) = 255;
};

/// Semantic generator (dt_offset_generator.py) on trainId maps: for every class c != ignore_index with >=
/// min_pixels pixels, D = exact EDT of (map == c) (the image border is not background, §2.5 for a map of one class),
/// G = conv2d(float32(D), segfix_derivative_kernel(), padding 2) kept on the class's pixels; depth from D, dir_deg from
/// G in float32 with 180.0f / (float)M_PI (§2.6). Cityscapes: encode_label_ids(labelIds, cityscapes_label_list());
/// ADE20K: encode_label_ids(ids, ade20k_label_list()). The reference's "+1" shift of Cityscapes trainIds only keeps
/// class 0 apart from its mask's zeros; it does not change any output.
/// train_ids: uint8/int16/int32/int64 (H, W) or (N, H, W) on the CPU. Images and classes run in parallel.
SegFixGt segfix_semantic_gt(const at::Tensor& train_ids, const SegFixSemanticGtOptions& options = {});

/// Options of the instance generator (segfix.md §2.3).
struct SegFixInstanceGtOptions {
  /// instanceIds values < 256 that are not in this list are merged into one segment 255 before the EDT (values >=
  /// 256 are instances and stay). Default cityscapes_label_list().
  TORCH_ARG(std::vector<int64_t>, label_list) = cityscapes_label_list();
};

/// Instance generator (instance_dt_offset_generator.py) on Cityscapes instanceIds maps: every distinct value after
/// the merge above is a segment (no size threshold); depth = EDT of the segment; dir_deg from the segment's
/// G computed in double (§2.3, §2.6). instance_ids: int16/int32/int64 (H, W) or (N, H, W) on the CPU (a uint16 PNG
/// read as int32).
SegFixGt segfix_instance_gt(const at::Tensor& instance_ids, const SegFixInstanceGtOptions& options = {});

/// Options shared by the training targets (segfix.md §3.2; env dt_max_distance, dt_min_distance, dt_num_classes).
struct SegFixTargetOptions {
  /// A pixel is boundary when min_distance <= distance <= max_distance. Default 5.
  TORCH_ARG(int64_t, max_distance) = 5;
  /// Default 0 (pixels of skipped classes, distance 0, count as boundary).
  TORCH_ARG(int64_t, min_distance) = 0;
  /// Direction bins: 4, 8, 16 or 32. Default 8.
  TORCH_ARG(int64_t, num_bins) = 8;
  /// With 4 bins: false = the reference's quadrant rule with diagonal offsets, true = the generic rule with axis
  /// offsets (env c4_align_axis). Ignored for other bin counts. Default false.
  TORCH_ARG(bool, c4_align_axis) = false;
  /// seg value of ignored pixels; their labels become -1. Default -1.
  TORCH_ARG(int64_t, ignore_index) = -1;
};

/// Throws boundseg::Error naming `where` and the first invalid option.
void validate(const SegFixTargetOptions& options, const OptionSite& site);

/// distance = int32(depth) (DTOffsetLoader). depth: uint8 (H, W) or (N, H, W); returns int32.
at::Tensor segfix_distance_from_depth(const at::Tensor& depth);

/// angle = deg_reduce·q - 180 degrees (DTOffsetLoader). dir_deg: uint8 (H, W) or (N, H, W); returns float64.
at::Tensor segfix_angle_from_dir_deg(const at::Tensor& dir_deg, int64_t deg_reduce = 2);

/// The bin -> (dh, dw) table of `num_bins` (label_to_vector_mapping, segfix.md §3.2). 8 bins:
/// 0:(0,-1) 1:(-1,-1) 2:(-1,0) 3:(-1,1) 4:(0,1) 5:(1,1) 6:(1,0) 7:(1,-1); 16 and 32 bins have magnitude 2 and 4.
std::vector<std::array<int64_t, 2>> segfix_offset_table(int64_t num_bins = 8, bool c4_align_axis = false);

/// Direction bin of every angle (DTOffsetHelper.align_angle, segfix.md §3.2): with step s = 360/N, bin 0 covers
/// angle <= -180 + s/2 or > 180 - s/2 and bin i the interval (-180 + s·i - s/2, -180 + s·i + s/2]; 4 bins without
/// c4_align_axis: clamp(trunc((angle + 180) / 90), 0, 3). Any value gets a bin (NaN -> 0, as the reference).
/// angle: float32/float64 (H, W) or (N, H, W) in degrees; returns int64.
at::Tensor segfix_direction_bins(const at::Tensor& angle, int64_t num_bins = 8, bool c4_align_axis = false);

/// Boundary mask label: 1 where min_distance <= distance <= max_distance, else 0; -1 where seg == ignore_index.
/// distance: integer (H, W) or (N, H, W); seg: integer, same shape. Returns int64.
at::Tensor segfix_mask_label(const at::Tensor& distance, const at::Tensor& seg,
                             const SegFixTargetOptions& options = {});

/// Direction label: segfix_direction_bins(angle) with -1 where seg == ignore_index (seg may be undefined: no ignore).
/// angle: float32/float64 (H, W) or (N, H, W); seg: integer, same shape. Returns int64.
at::Tensor segfix_direction_label(const at::Tensor& angle, const at::Tensor& seg,
                                  const SegFixTargetOptions& options = {});

/// Offsets of bins through segfix_offset_table: bins (any shape, integer, values in [0, num_bins)) -> int64
/// (..., 2) = (dh, dw).
at::Tensor segfix_bin_offsets(const at::Tensor& bins, int64_t num_bins = 8, bool c4_align_axis = false);

/// GT offset map (angle_to_offset(angle, distance)): the bin's offset where min_distance <= distance <=
/// max_distance, (0, 0) elsewhere; not supervised by any loss. angle: float (H, W) or (N, H, W); distance: integer,
/// same shape. Returns int64 (..., H, W, 2).
at::Tensor segfix_gt_offset(const at::Tensor& angle, const at::Tensor& distance,
                            const SegFixTargetOptions& options = {});

}  // namespace boundseg::ops
