// Built-in palettes (formats.md §8): Cityscapes, ADE20K, PASCAL VOC.
#include <array>
#include <cstdint>
#include <string>

#include "boundseg/core/error.h"
#include "boundseg/io/cityscapes_labels.h"
#include "boundseg/viz/render.h"

namespace boundseg::viz {
namespace {

// The 150-colour ADE20K palette (RGB, index = class 0..149 after reduce_zero_label) of open-mmlab/mmsegmentation,
// mmseg/datasets/ade.py (Apache-2.0), as formats.md §8 prescribes.
constexpr std::array<std::array<uint8_t, 3>, 150> kAde20k = {{
    {120, 120, 120}, {180, 120, 120}, {6, 230, 230}, {80, 50, 50}, {4, 200, 3}, {120, 120, 80}, {140, 140, 140},
    {204, 5, 255}, {230, 230, 230}, {4, 250, 7}, {224, 5, 255}, {235, 255, 7}, {150, 5, 61}, {120, 120, 70},
    {8, 255, 51}, {255, 6, 82}, {143, 255, 140}, {204, 255, 4}, {255, 51, 7}, {204, 70, 3}, {0, 102, 200},
    {61, 230, 250}, {255, 6, 51}, {11, 102, 255}, {255, 7, 71}, {255, 9, 224}, {9, 7, 230}, {220, 220, 220},
    {255, 9, 92}, {112, 9, 255}, {8, 255, 214}, {7, 255, 224}, {255, 184, 6}, {10, 255, 71}, {255, 41, 10},
    {7, 255, 255}, {224, 255, 8}, {102, 8, 255}, {255, 61, 6}, {255, 194, 7}, {255, 122, 8}, {0, 255, 20},
    {255, 8, 41}, {255, 5, 153}, {6, 51, 255}, {235, 12, 255}, {160, 150, 20}, {0, 163, 255}, {140, 140, 140},
    {250, 10, 15}, {20, 255, 0}, {31, 255, 0}, {255, 31, 0}, {255, 224, 0}, {153, 255, 0}, {0, 0, 255}, {255, 71, 0},
    {0, 235, 255}, {0, 173, 255}, {31, 0, 255}, {11, 200, 200}, {255, 82, 0}, {0, 255, 245}, {0, 61, 255},
    {0, 255, 112}, {0, 255, 133}, {255, 0, 0}, {255, 163, 0}, {255, 102, 0}, {194, 255, 0}, {0, 143, 255},
    {51, 255, 0}, {0, 82, 255}, {0, 255, 41}, {0, 255, 173}, {10, 0, 255}, {173, 255, 0}, {0, 255, 153},
    {255, 92, 0}, {255, 0, 255}, {255, 0, 245}, {255, 0, 102}, {255, 173, 0}, {255, 0, 20}, {255, 184, 184},
    {0, 31, 255}, {0, 255, 61}, {0, 71, 255}, {255, 0, 204}, {0, 255, 194}, {0, 255, 82}, {0, 10, 255},
    {0, 112, 255}, {51, 0, 255}, {0, 194, 255}, {0, 122, 255}, {0, 255, 163}, {255, 153, 0}, {0, 255, 10},
    {255, 112, 0}, {143, 255, 0}, {82, 0, 255}, {163, 255, 0}, {255, 235, 0}, {8, 184, 170}, {133, 0, 255},
    {0, 255, 92}, {184, 0, 255}, {255, 0, 31}, {0, 184, 255}, {0, 214, 255}, {255, 0, 112}, {92, 255, 0},
    {0, 224, 255}, {112, 224, 255}, {70, 184, 160}, {163, 0, 255}, {153, 0, 255}, {71, 255, 0}, {255, 0, 163},
    {255, 204, 0}, {255, 0, 143}, {0, 255, 235}, {133, 255, 0}, {255, 0, 235}, {245, 0, 255}, {255, 0, 122},
    {255, 245, 0}, {10, 190, 212}, {214, 255, 0}, {0, 204, 255}, {20, 0, 255}, {255, 255, 0}, {0, 153, 255},
    {0, 41, 255}, {0, 255, 204}, {41, 0, 255}, {41, 255, 0}, {173, 0, 255}, {0, 245, 255}, {71, 0, 255},
    {122, 0, 255}, {0, 255, 184}, {0, 92, 255}, {184, 255, 0}, {0, 133, 255}, {255, 214, 0}, {25, 194, 194},
    {102, 255, 0}, {92, 0, 255},
}};

// PASCAL VOC's bit-interleaved colour map, as RGB.
std::array<uint8_t, 3> voc_color(int label) {
  std::array<uint8_t, 3> rgb{0, 0, 0};
  for (int j = 0, c = label; j < 8; ++j, c >>= 3) {
    rgb[0] |= ((c >> 0) & 1) << (7 - j);
    rgb[1] |= ((c >> 1) & 1) << (7 - j);
    rgb[2] |= ((c >> 2) & 1) << (7 - j);
  }
  return rgb;
}

}  // namespace

Palette palette_from_name(const std::string& name) {
  if (name == "auto" || name.empty()) return Palette::kAuto;
  if (name == "cityscapes") return Palette::kCityscapes;
  if (name == "ade20k") return Palette::kAde20k;
  if (name == "voc") return Palette::kVoc;
  fail("palette", "the palette name", "be auto, cityscapes, ade20k or voc", "'" + name + "'");
}

Palette resolve_palette(Palette palette, int64_t num_classes) {
  if (palette != Palette::kAuto) return palette;
  if (num_classes == cityscapes::kNumTrainIds) return Palette::kCityscapes;
  if (num_classes == int64_t(kAde20k.size())) return Palette::kAde20k;
  return Palette::kVoc;
}

std::optional<std::array<uint8_t, 3>> palette_color(Palette palette, int label) {
  switch (palette) {
    case Palette::kCityscapes:
      if (label >= 0 && label < cityscapes::kNumTrainIds) return cityscapes::train_id_color(label);
      return std::nullopt;
    case Palette::kAde20k:
      if (label >= 0 && label < int(kAde20k.size())) return kAde20k[label];
      return std::nullopt;
    case Palette::kVoc:
    case Palette::kAuto:
      if (label >= 0 && label < 255) return voc_color(label);
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace boundseg::viz
