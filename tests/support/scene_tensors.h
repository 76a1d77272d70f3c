// Natural-looking test images: the procedural scenes of data/synthetic.h as filter inputs.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "boundseg/data/synthetic.h"
#include "boundseg/data/transforms.h"

namespace boundseg::testing {

/// float32 (3, H, W) RGB 0..255 of synthetic scene `seed`.
inline at::Tensor scene_image_rgb(uint64_t seed, int height, int width) {
  return data::rgb_float_tensor(data::make_synthetic_scene(seed, height, width).image);
}

}  // namespace boundseg::testing
