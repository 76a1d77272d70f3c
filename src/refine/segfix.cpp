// SegFix offsets from network outputs and their application to label maps and instance masks (segfix.md §7, §8).
#include "boundseg/refine/segfix.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "boundseg/core/check.h"
#include "boundseg/core/error.h"

namespace boundseg::refine {
namespace {

bool valid_bin_count(int64_t k) { return k == 4 || k == 8 || k == 16 || k == 32; }

void require_defined(const at::Tensor& t, const char* where, const char* arg) {
  require(t.defined(), where, std::string("'") + arg + "'", "be a defined tensor",
          [] { return std::string("an undefined one"); });
}

void check_float_4d(const at::Tensor& t, const char* where, const char* arg, const char* layout) {
  require_defined(t, where, arg);
  require(t.dim() == 4 && at::isFloatingType(t.scalar_type()), where, std::string("'") + arg + "'",
          std::string("be a floating point 4-D tensor ") + layout, [&] { return "a " + describe(t); });
  check_cpu(t, where, arg);
}

void check_scale(int64_t scale, const OptionSite& site) {
  site.require(scale >= 0 && scale < (int64_t{1} << 31), "scale", "be in [0, 2^31)",
               [&] { return std::to_string(scale); });
}

/// offsets: int32/int64 with the sizes of `like` plus a trailing 2.
void check_offsets(const at::Tensor& offsets, const at::Tensor& like, const char* like_arg, const char* where) {
  require_defined(offsets, where, "offsets");
  at::DimVector expected(like.sizes().begin(), like.sizes().end());
  expected.push_back(2);
  std::string size_text = "[";
  for (size_t i = 0; i < expected.size(); ++i) size_text += (i ? ", " : "") + std::to_string(expected[i]);
  size_text += "]";
  require((offsets.scalar_type() == at::kInt || offsets.scalar_type() == at::kLong) &&
              offsets.sizes() == at::IntArrayRef(expected),
          where, "'offsets'",
          "be an int32 or int64 tensor " + size_text + " (the size of " + like_arg + " plus (dh, dw))",
          [&] { return "a " + describe(offsets); });
  check_cpu(offsets, where, "offsets");
}

// One (H, W) plane of a nearest gather with border clamping (§8.1).
template <typename T>
void gather_plane(const T* in, const int64_t* off, T* out, int64_t h, int64_t w, int64_t scale) {
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      const int64_t i = y * w + x;
      // Clamping the step first keeps s·d within int64; the clamp to the image below is then unchanged.
      const int64_t dy = std::clamp<int64_t>(off[2 * i], -h, h) * scale;
      const int64_t dx = std::clamp<int64_t>(off[2 * i + 1], -w, w) * scale;
      const int64_t sy = std::clamp<int64_t>(y + dy, 0, h - 1), sx = std::clamp<int64_t>(x + dx, 0, w - 1);
      out[i] = in[sy * w + sx];
    }
  }
}

/// values (P, H, W) int64, offsets (P, H, W, 2) int64, both contiguous -> gathered (P, H, W).
at::Tensor gather(const at::Tensor& values, const at::Tensor& offsets, int64_t scale) {
  at::Tensor out = at::empty_like(values);
  const int64_t planes = values.size(0), h = values.size(1), w = values.size(2);
  const int64_t* in = values.data_ptr<int64_t>();
  const int64_t* off = offsets.data_ptr<int64_t>();
  int64_t* o = out.data_ptr<int64_t>();
  at::parallel_for(0, planes, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) gather_plane(in + p * h * w, off + p * h * w * 2, o + p * h * w, h, w, scale);
  });
  return out;
}

/// The reference's F.grid_sample call on torch >= 1.4 (§8.3): the grid (coords + s·offset) / ((W-1)/2, (H-1)/2) - 1
/// in float32, sampled bilinearly with border padding and align_corners=False.
/// values: float (1, C, H, W); offsets: int64 (H, W, 2). Returns float (1, C, H, W).
at::Tensor torch14_grid_sample(const at::Tensor& values, const at::Tensor& offsets, int64_t scale) {
  const int64_t h = values.size(2), w = values.size(3);
  const at::Tensor shift = offsets.to(at::kFloat).mul(static_cast<double>(scale));
  const at::Tensor coord_h = at::arange(h, at::kFloat).view({h, 1}).expand({h, w});
  const at::Tensor coord_w = at::arange(w, at::kFloat).view({1, w}).expand({h, w});
  const at::Tensor grid_h = shift.select(-1, 0).add(coord_h);
  const at::Tensor grid_w = shift.select(-1, 1).add(coord_w);
  // torch.FloatTensor([(w-1)/2, (h-1)/2]): the Python doubles rounded to float32 (exact half-integers).
  const at::Tensor norm = at::tensor({static_cast<float>((w - 1) / 2.0), static_cast<float>((h - 1) / 2.0)});
  const at::Tensor grid = at::stack({grid_w, grid_h}, -1).div(norm).sub(1).unsqueeze(0);
  return at::grid_sampler(values, grid, /*interpolation_mode=*/0 /*bilinear*/, /*padding_mode=*/1 /*border*/,
                          /*align_corners=*/false);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// §7: offsets from network outputs.

void validate(const SegFixOffsetOptions& options, const OptionSite& site) {
  site.require(std::isfinite(options.mask_threshold()), "mask_threshold", "be finite",
          [&] { return number_text(options.mask_threshold()); });
}

at::Tensor segfix_offsets(const at::Tensor& mask_prob, const at::Tensor& dir_logits,
                          const SegFixOffsetOptions& options) {
  constexpr const char* where = "segfix_offsets";
  validate(options, where);
  check_float_4d(mask_prob, where, "mask_prob", "(N, 2, H, W)");
  check_float_4d(dir_logits, where, "dir_logits", "(N, K, H, W)");
  require(mask_prob.size(1) == 2, where, "'mask_prob'", "have 2 channels (non-boundary, boundary)",
          [&] { return "a " + describe(mask_prob); });
  require(valid_bin_count(dir_logits.size(1)), where, "'dir_logits'", "have 4, 8, 16 or 32 direction channels",
          [&] { return "a " + describe(dir_logits); });
  const bool same = dir_logits.size(0) == mask_prob.size(0) && dir_logits.size(2) == mask_prob.size(2) &&
                    dir_logits.size(3) == mask_prob.size(3);
  require(same, where, "'dir_logits'", "have the N, H, W of 'mask_prob' (" + describe(mask_prob) + ")",
          [&] { return "a " + describe(dir_logits); });
  // Strict > on the probability; argmax of the softmax (not of the logits: two probabilities can round to the same
  // float), first index on ties (segfix.md §7).
  const at::Tensor boundary = mask_prob.select(1, 1).gt(options.mask_threshold());
  const at::Tensor bins = at::softmax(dir_logits, 1).argmax(1);
  const at::Tensor offset = ops::segfix_bin_offsets(bins, dir_logits.size(1), options.c4_align_axis());
  return offset.masked_fill(boundary.logical_not().unsqueeze(-1), 0);
}

std::vector<int64_t> segfix_crop_starts(int64_t total, int64_t crop) {
  constexpr const char* where = "segfix_crop_starts";
  require(crop >= 3, where, "'crop'", "be >= 3 (stride = crop / 3)", [&] { return std::to_string(crop); });
  require(total >= crop, where, "'total'", "be >= crop (" + std::to_string(crop) + "); pad smaller images",
          [&] { return std::to_string(total); });
  const int64_t stride = crop / 3;  // int(crop * (1/3)) is the same floor for every crop length
  std::vector<int64_t> starts;
  for (int64_t i = 0; i < (total - crop) / stride + 1; ++i) starts.push_back(stride * i);
  if (total - starts.back() > crop) starts.push_back(total - crop);  // cover the whole axis
  return starts;
}

void validate(const SegFixPredictOptions& options, const OptionSite& site) {
  site.require(options.crop_height() >= 3, "crop_height", "be >= 3",
          [&] { return std::to_string(options.crop_height()); });
  site.require(options.crop_width() >= 3, "crop_width", "be >= 3",
          [&] { return std::to_string(options.crop_width()); });
}

namespace {

// ss_test: forward, softmax of the mask logits at the network's resolution, both maps upsampled (align_corners=True)
// to the input's size.
std::pair<at::Tensor, at::Tensor> single_scale(const at::Tensor& image, const SegFixForward& forward,
                                               const char* where) {
  const std::pair<at::Tensor, at::Tensor> outputs = forward(image);
  const at::Tensor& mask_logits = outputs.first;
  const at::Tensor& dir_logits = outputs.second;
  check_float_4d(mask_logits, where, "forward(...).first", "(N, 2, h, w)");
  check_float_4d(dir_logits, where, "forward(...).second", "(N, K, h, w)");
  require(mask_logits.size(0) == image.size(0) && mask_logits.size(1) == 2, where, "'forward(...).first'",
          "have the batch size of the image and 2 channels", [&] { return "a " + describe(mask_logits); });
  require(dir_logits.size(0) == image.size(0) && valid_bin_count(dir_logits.size(1)) &&
              dir_logits.size(2) == mask_logits.size(2) && dir_logits.size(3) == mask_logits.size(3),
          where, "'forward(...).second'",
          "have the batch size of the image, 4, 8, 16 or 32 channels and the mask logits' h, w (" +
              describe(mask_logits) + ")",
          [&] { return "a " + describe(dir_logits); });
  const std::vector<int64_t> size = {image.size(2), image.size(3)};
  const at::Tensor mask_prob = at::softmax(mask_logits, 1);
  return {at::upsample_bilinear2d(mask_prob, size, /*align_corners=*/true),
          at::upsample_bilinear2d(dir_logits, size, /*align_corners=*/true)};
}

}  // namespace

SegFixPrediction segfix_predict(const at::Tensor& image, const SegFixForward& forward,
                                const SegFixPredictOptions& options) {
  constexpr const char* where = "segfix_predict";
  validate(options, where);
  check_float_4d(image, where, "image", "(N, C, H, W)");
  require(image.numel() > 0, where, "'image'", "be non-empty", [&] { return "a " + describe(image); });
  require(static_cast<bool>(forward), where, "'forward'", "be callable", [] { return std::string("an empty one"); });
  c10::NoGradGuard no_grad;  // test time, as the reference's torch.no_grad()
  if (!options.sliding_window()) {
    const auto outputs = single_scale(image, forward, where);
    return {outputs.first, outputs.second};
  }
  const int64_t h = image.size(2), w = image.size(3);
  const int64_t ch = options.crop_height(), cw = options.crop_width();
  // §10 #5/#6: pad right/bottom with zeros (the normalised mean colour) up to the window.
  const int64_t ph = std::max(h, ch), pw = std::max(w, cw);
  const at::Tensor padded = ph == h && pw == w ? image : at::constant_pad_nd(image, {0, pw - w, 0, ph - h}, 0);
  at::Tensor mask_sum, dir_sum;
  at::Tensor count = at::zeros({1, 1, ph, pw}, image.options());
  for (int64_t y : segfix_crop_starts(ph, ch)) {
    for (int64_t x : segfix_crop_starts(pw, cw)) {
      const at::Tensor crop = padded.narrow(2, y, ch).narrow(3, x, cw).contiguous();
      const auto outputs = single_scale(crop, forward, where);
      const at::Tensor& mask_prob = outputs.first;
      const at::Tensor& dir_logits = outputs.second;
      if (!mask_sum.defined()) {
        mask_sum = at::zeros({image.size(0), 2, ph, pw}, mask_prob.options());
        dir_sum = at::zeros({image.size(0), dir_logits.size(1), ph, pw}, dir_logits.options());
      }
      require(dir_logits.size(1) == dir_sum.size(1), where, "'forward(...).second'",
              "keep its channel count over the windows (" + std::to_string(dir_sum.size(1)) + ")",
              [&] { return "a " + describe(dir_logits); });
      mask_sum.narrow(2, y, ch).narrow(3, x, cw).add_(mask_prob);
      dir_sum.narrow(2, y, ch).narrow(3, x, cw).add_(dir_logits);
      count.narrow(2, y, ch).narrow(3, x, cw).add_(1);
    }
  }
  // The reference then resizes to the input size, a no-op at align_corners=True.
  mask_sum.div_(count);
  dir_sum.div_(count);
  return {mask_sum.narrow(2, 0, h).narrow(3, 0, w), dir_sum.narrow(2, 0, h).narrow(3, 0, w)};
}

// ---------------------------------------------------------------------------------------------------------------
// §8: refinement.

void validate(const SegFixSemanticRefineOptions& options, const OptionSite& site) {
  check_scale(options.scale(), site);
  if (options.void_to_255()) {
    // encode_label_ids checks the list itself; checking here reports it under this front door.
    site.require(!options.label_list().empty(), "label_list", "be non-empty with void_to_255",
            [] { return std::string("an empty list"); });
  }
}

void validate(const SegFixInstanceRefineOptions& options, const OptionSite& site) { check_scale(options.scale(), site); }

at::Tensor segfix_refine_semantic(const at::Tensor& labels, const at::Tensor& offsets,
                                  const SegFixSemanticRefineOptions& options) {
  constexpr const char* where = "segfix_refine_semantic";
  validate(options, where);
  check_image_tensor(labels, where, "labels", {at::kByte, at::kShort, at::kInt, at::kLong},
                     "an integer label map (uint8, int16, int32 or int64)");
  check_offsets(offsets, labels, "'labels'", where);
  const bool torch14 = options.mode() == SegFixRefineMode::kTorch14Bilinear;
  if (torch14) {
    require(labels.size(-2) >= 2 && labels.size(-1) >= 2, where, "'labels'",
            "be at least 2 x 2 with kTorch14Bilinear (the grid divides by H - 1 and W - 1)",
            [&] { return "a " + describe(labels); });
  }
  const at::Tensor planes = labels.dim() == 2 ? labels.unsqueeze(0) : labels;
  const at::Tensor offs = (offsets.dim() == 3 ? offsets.unsqueeze(0) : offsets).to(at::kLong).contiguous();
  // §10 #4: the reference's encode (labelId -> trainId, unmapped -> 255) before and decode after.
  at::Tensor values =
      options.void_to_255() ? ops::encode_label_ids(planes, options.label_list()) : planes.to(at::kLong);
  values = values.contiguous();
  at::Tensor out;
  if (!torch14) {
    out = gather(values, offs, options.scale());
  } else {
    std::vector<at::Tensor> maps;
    for (int64_t p = 0; p < values.size(0); ++p) {
      const at::Tensor blended = torch14_grid_sample(
          values[p].to(at::kFloat).view({1, 1, values.size(1), values.size(2)}), offs[p], options.scale());
      maps.push_back(blended.round().to(at::kLong).view({values.size(1), values.size(2)}));  // np.round: half to even
    }
    out = at::stack(maps);
  }
  if (options.void_to_255()) out = ops::decode_train_ids(out, options.label_list());
  return out.to(labels.scalar_type()).view(labels.sizes());
}

at::Tensor segfix_refine_instance(const at::Tensor& masks, const at::Tensor& offsets,
                                  const SegFixInstanceRefineOptions& options) {
  constexpr const char* where = "segfix_refine_instance";
  validate(options, where);
  require_defined(masks, where, "masks");
  require((masks.dim() == 2 || masks.dim() == 3) && (at::isIntegralType(masks.scalar_type(), /*includeBool=*/true)),
          where, "'masks'", "be an integer or bool (H, W) or (K, H, W) tensor", [&] { return "a " + describe(masks); });
  check_cpu(masks, where, "masks");
  const int64_t h = masks.size(-2), w = masks.size(-1);
  const at::Tensor plane = at::empty({h, w}, at::kByte);
  check_offsets(offsets, plane, "the masks' (H, W)", where);
  const at::Tensor fg = (masks.dim() == 2 ? masks.unsqueeze(0) : masks).gt(0);
  const at::Tensor offs = offsets.to(at::kLong).contiguous();
  at::Tensor out;
  if (options.mode() == SegFixRefineMode::kGather) {
    const at::Tensor values = fg.to(at::kLong).contiguous();
    out = gather(values, offs.unsqueeze(0).expand({values.size(0), h, w, 2}).contiguous(), options.scale());
  } else {
    require(h >= 2 && w >= 2, where, "'masks'", "be at least 2 x 2 with kTorch14Bilinear",
            [&] { return "a " + describe(masks); });
    // All masks as the channels of one image, as the script does; then > 0.5.
    out = torch14_grid_sample(fg.to(at::kFloat).unsqueeze(0), offs, options.scale()).squeeze(0).gt(0.5);
  }
  return out.to(at::kByte).view(masks.sizes());
}

}  // namespace boundseg::refine
