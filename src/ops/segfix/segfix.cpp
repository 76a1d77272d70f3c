// Front doors of the SegFix GT and target ops: validate, flatten to planes, run the CPU kernels.
#include "boundseg/ops/segfix.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <string>
#include <unordered_map>
#include <unordered_set>

#include "boundseg/core/check.h"
#include "boundseg/core/error.h"
#include "boundseg/io/cityscapes_labels.h"
#include "ops/segfix/segfix_kernels.h"

namespace boundseg::ops {
namespace {

constexpr const char* kIntegerTypes = "an integer tensor (uint8, int16, int32 or int64)";

void check_integer_map(const at::Tensor& t, const char* where, const char* arg) {
  check_image_tensor(t, where, arg, {at::kByte, at::kShort, at::kInt, at::kLong}, kIntegerTypes);
}

void check_same_shape(const at::Tensor& t, const at::Tensor& like, const char* where, const char* arg,
                      const char* like_arg) {
  require(t.sizes() == like.sizes(), where, std::string("'") + arg + "'",
          std::string("have the shape of '") + like_arg + "' (" + describe(like) + ")",
          [&] { return "a " + describe(t); });
}

void check_label_list(const std::vector<int64_t>& list, const char* where, const char* arg) {
  require(!list.empty(), where, arg, "be a non-empty list of label ids", [] { return std::string("an empty list"); });
  std::unordered_set<int64_t> seen;
  for (size_t i = 0; i < list.size(); ++i) {
    require(seen.insert(list[i]).second, where, std::string(arg) + "[" + std::to_string(i) + "]",
            "differ from the earlier entries", [&] { return "the repeated id " + std::to_string(list[i]); });
  }
}

void check_num_bins(int64_t num_bins, std::string_view where, std::string_view arg) {
  require(num_bins == 4 || num_bins == 8 || num_bins == 16 || num_bins == 32, where, arg, "be 4, 8, 16 or 32",
          [&] { return std::to_string(num_bins); });
}

// (H, W) -> (1, H, W) so that kernels always see planes.
at::Tensor as_planes(const at::Tensor& t) { return t.dim() == 2 ? t.unsqueeze(0) : t; }

// out[i] = lut(in[i]) over any integer dtype.
template <typename Fn>
at::Tensor map_values(const at::Tensor& labels, Fn fn) {
  const at::Tensor src = labels.to(at::kLong).contiguous();
  at::Tensor out = at::empty_like(src);
  const int64_t* in = src.data_ptr<int64_t>();
  int64_t* o = out.data_ptr<int64_t>();
  at::parallel_for(0, src.numel(), 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) o[i] = fn(in[i]);
  });
  return out;
}

SegFixGt run_gt(const at::Tensor& labels, detail::SegFixGtVariant variant, int64_t ignore, int64_t min_pixels) {
  const at::Tensor planes = as_planes(labels).to(at::kLong).contiguous();
  at::Tensor depth = at::zeros(planes.sizes(), planes.options().dtype(at::kByte));
  at::Tensor dir_deg = at::zeros_like(depth);
  detail::segfix_gt_cpu(planes, variant, ignore, min_pixels, depth, dir_deg);
  return {depth.view(labels.sizes()), dir_deg.view(labels.sizes())};
}

}  // namespace

std::vector<int64_t> cityscapes_label_list() {
  const auto& ids = cityscapes::train_id_to_id();
  return std::vector<int64_t>(ids.begin(), ids.end());
}

std::vector<int64_t> ade20k_label_list() {
  std::vector<int64_t> list(150);
  for (int64_t i = 0; i < 150; ++i) list[i] = i + 1;
  return list;
}

at::Tensor encode_label_ids(const at::Tensor& labels, const std::vector<int64_t>& label_list, int64_t unmapped) {
  constexpr const char* where = "encode_label_ids";
  check_integer_map(labels, where, "labels");
  check_label_list(label_list, where, "'label_list'");
  std::unordered_map<int64_t, int64_t> train_id;
  for (size_t i = 0; i < label_list.size(); ++i) train_id[label_list[i]] = static_cast<int64_t>(i);
  return map_values(labels, [&](int64_t v) {
    const auto it = train_id.find(v);
    return it == train_id.end() ? unmapped : it->second;
  });
}

at::Tensor decode_train_ids(const at::Tensor& train_ids, const std::vector<int64_t>& label_list, int64_t unmapped) {
  constexpr const char* where = "decode_train_ids";
  check_integer_map(train_ids, where, "train_ids");
  check_label_list(label_list, where, "'label_list'");
  const int64_t n = static_cast<int64_t>(label_list.size());
  return map_values(train_ids, [&](int64_t v) { return v >= 0 && v < n ? label_list[v] : unmapped; });
}

at::Tensor segfix_derivative_kernel() {
  // §2.1: tap (j, i), dy = j - 2, dx = i - 2: Kx = dx / (dx² + dy²), Ky = dy / (dx² + dy²), centre 0; double, then
  // float32. Channel 0 is Ky (row derivative).
  at::Tensor kernel = at::zeros({2, 1, 5, 5}, at::kFloat);
  auto k = kernel.accessor<float, 4>();
  for (int j = 0; j < 5; ++j) {
    for (int i = 0; i < 5; ++i) {
      const int dy = j - 2, dx = i - 2;
      if (dy == 0 && dx == 0) continue;
      const double r2 = dx * dx + dy * dy;
      k[0][0][j][i] = static_cast<float>(dy / r2);
      k[1][0][j][i] = static_cast<float>(dx / r2);
    }
  }
  return kernel;
}

SegFixGt segfix_semantic_gt(const at::Tensor& train_ids, const SegFixSemanticGtOptions& options) {
  constexpr const char* where = "segfix_semantic_gt";
  require(options.min_pixels() >= 0, where, "option 'min_pixels'", "be >= 0",
          [&] { return std::to_string(options.min_pixels()); });
  check_integer_map(train_ids, where, "train_ids");
  return run_gt(train_ids, detail::SegFixGtVariant::kSemantic, options.ignore_index(), options.min_pixels());
}

SegFixGt segfix_instance_gt(const at::Tensor& instance_ids, const SegFixInstanceGtOptions& options) {
  constexpr const char* where = "segfix_instance_gt";
  check_label_list(options.label_list(), where, "option 'label_list'");
  for (size_t i = 0; i < options.label_list().size(); ++i) {
    const int64_t id = options.label_list()[i];
    require(id >= 0 && id < 256, where, "option 'label_list[" + std::to_string(i) + "]'", "be a label id in [0, 256)",
            [&] { return std::to_string(id); });
  }
  check_integer_map(instance_ids, where, "instance_ids");
  // §2.3: values 0..255 outside the label list are one "void" segment 255; instances (>= 256) stay.
  std::vector<bool> kept(256, false);
  for (int64_t id : options.label_list()) kept[id] = true;
  const at::Tensor merged =
      map_values(instance_ids, [&](int64_t v) { return v >= 0 && v < 256 && !kept[v] ? int64_t{255} : v; });
  return run_gt(merged.view(instance_ids.sizes()), detail::SegFixGtVariant::kInstance, 0, 0);
}

void validate(const SegFixTargetOptions& options, const OptionSite& site) {
  site.require(options.min_distance() >= 0, "min_distance", "be >= 0",
          [&] { return std::to_string(options.min_distance()); });
  site.require(options.max_distance() >= options.min_distance(), "max_distance",
          "be >= min_distance (" + std::to_string(options.min_distance()) + ")",
          [&] { return std::to_string(options.max_distance()); });
  check_num_bins(options.num_bins(), site.what(), site.name("num_bins"));
}

at::Tensor segfix_distance_from_depth(const at::Tensor& depth) {
  check_image_tensor(depth, "segfix_distance_from_depth", "depth", {at::kByte}, "a uint8 depth map");
  return depth.to(at::kInt);
}

at::Tensor segfix_angle_from_dir_deg(const at::Tensor& dir_deg, int64_t deg_reduce) {
  constexpr const char* where = "segfix_angle_from_dir_deg";
  check_image_tensor(dir_deg, where, "dir_deg", {at::kByte}, "a uint8 dir_deg map");
  require(deg_reduce >= 1, where, "'deg_reduce'", "be >= 1", [&] { return std::to_string(deg_reduce); });
  // Integers times an integer minus 180: exact in float64.
  return dir_deg.to(at::kDouble).mul(static_cast<double>(deg_reduce)).sub(180.0);
}

std::vector<std::array<int64_t, 2>> segfix_offset_table(int64_t num_bins, bool c4_align_axis) {
  check_num_bins(num_bins, "segfix_offset_table", "'num_bins'");
  // label_to_vector_mapping of offset_helper.py: (dh, dw) per bin.
  switch (num_bins) {
    case 4:
      if (c4_align_axis) return {{{0, -1}}, {{-1, 0}}, {{0, 1}}, {{1, 0}}};
      return {{{-1, -1}}, {{-1, 1}}, {{1, 1}}, {{1, -1}}};
    case 8:
      return {{{0, -1}}, {{-1, -1}}, {{-1, 0}}, {{-1, 1}}, {{0, 1}}, {{1, 1}}, {{1, 0}}, {{1, -1}}};
    default: {
      // 16 and 32 bins walk the square of radius r = num_bins / 8 clockwise in image coordinates from (0, -r), one
      // unit step per bin: left edge upwards, top edge rightwards, right edge down, bottom edge left.
      const int64_t r = num_bins / 8;
      std::vector<std::array<int64_t, 2>> table;
      int64_t dh = 0, dw = -r;
      const std::array<std::array<int64_t, 2>, 5> moves = {{{-1, 0}, {0, 1}, {1, 0}, {0, -1}, {-1, 0}}};
      const std::array<int64_t, 5> lengths = {r, 2 * r, 2 * r, 2 * r, r};
      for (size_t m = 0; m < moves.size(); ++m) {
        for (int64_t step = 0; step < lengths[m]; ++step) {
          table.push_back({dh, dw});
          dh += moves[m][0];
          dw += moves[m][1];
        }
      }
      return table;
    }
  }
}

at::Tensor segfix_direction_bins(const at::Tensor& angle, int64_t num_bins, bool c4_align_axis) {
  constexpr const char* where = "segfix_direction_bins";
  check_image_tensor(angle, where, "angle", {at::kFloat, at::kDouble}, "a float32 or float64 angle map (degrees)");
  check_num_bins(num_bins, where, "'num_bins'");
  return detail::segfix_direction_bins_cpu(angle.contiguous(), num_bins, c4_align_axis);
}

at::Tensor segfix_mask_label(const at::Tensor& distance, const at::Tensor& seg, const SegFixTargetOptions& options) {
  constexpr const char* where = "segfix_mask_label";
  validate(options, where);
  check_integer_map(distance, where, "distance");
  check_integer_map(seg, where, "seg");
  check_same_shape(seg, distance, where, "seg", "distance");
  // distance_to_mask_label: 1 inside [min_distance, max_distance], then -1 on ignored pixels.
  at::Tensor label = distance.ge(options.min_distance()).logical_and(distance.le(options.max_distance())).to(at::kLong);
  return label.masked_fill_(seg.eq(options.ignore_index()), -1);
}

at::Tensor segfix_direction_label(const at::Tensor& angle, const at::Tensor& seg, const SegFixTargetOptions& options) {
  constexpr const char* where = "segfix_direction_label";
  validate(options, where);
  at::Tensor label = segfix_direction_bins(angle, options.num_bins(), options.c4_align_axis());
  if (!seg.defined()) return label;
  check_integer_map(seg, where, "seg");
  check_same_shape(seg, angle, where, "seg", "angle");
  return label.masked_fill_(seg.eq(options.ignore_index()), -1);
}

at::Tensor segfix_bin_offsets(const at::Tensor& bins, int64_t num_bins, bool c4_align_axis) {
  constexpr const char* where = "segfix_bin_offsets";
  require(bins.defined(), where, "'bins'", "be a defined tensor", [] { return std::string("an undefined one"); });
  require(bins.scalar_type() == at::kLong || bins.scalar_type() == at::kInt, where, "'bins'",
          "be an int32 or int64 tensor", [&] { return "a " + describe(bins); });
  check_cpu(bins, where, "bins");
  const auto table = segfix_offset_table(num_bins, c4_align_axis);
  if (bins.numel() > 0) {
    const int64_t lo = bins.min().item<int64_t>(), hi = bins.max().item<int64_t>();
    require(lo >= 0 && hi < num_bins, where, "'bins'", "hold values in [0, " + std::to_string(num_bins) + ")",
            [&] { return "values in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]"; });
  }
  at::Tensor lut = at::empty({num_bins, 2}, at::kLong);
  for (int64_t i = 0; i < num_bins; ++i) {
    lut[i][0] = table[i][0];
    lut[i][1] = table[i][1];
  }
  at::DimVector shape(bins.sizes().begin(), bins.sizes().end());
  shape.push_back(2);
  return lut.index_select(0, bins.reshape({-1}).to(at::kLong)).view(shape);
}

at::Tensor segfix_gt_offset(const at::Tensor& angle, const at::Tensor& distance, const SegFixTargetOptions& options) {
  constexpr const char* where = "segfix_gt_offset";
  validate(options, where);
  check_integer_map(distance, where, "distance");
  const at::Tensor bins = segfix_direction_bins(angle, options.num_bins(), options.c4_align_axis());
  check_same_shape(distance, angle, where, "distance", "angle");
  const at::Tensor offset = segfix_bin_offsets(bins, options.num_bins(), options.c4_align_axis());
  const at::Tensor off_range = distance.lt(options.min_distance()).logical_or(distance.gt(options.max_distance()));
  return offset.masked_fill(off_range.unsqueeze(-1), 0);
}

}  // namespace boundseg::ops
