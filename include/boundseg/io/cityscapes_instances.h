// Cityscapes instance results (formats.md §4): `<name>_pred.txt` files with one `<mask png> <labelId> <confidence>`
// line per instance, masks relative to the txt's folder. Read by the evaluator and the refiners, written by them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace boundseg::io {

/// One line of a result file.
struct InstanceResultLine {
  /// Absolute and lexically normalised (upstream: os.path.abspath(join(dirname(txt), rel))).
  std::filesystem::path mask_path;
  /// int(float(token)); kLabelOutOfRange when the value is beyond ±1e9.
  int64_t label_id = 0;
  /// The label token as written (for messages).
  std::string label_token;
  double confidence = 0.0;
  /// 1-based line number in the file.
  int line_number = 0;
};

inline constexpr int64_t kLabelOutOfRange = INT64_MIN;

/// Parses a result file exactly as cityscapesScripts' readPredInfo: exactly three single-space-separated tokens per
/// line ("\n", "\r\n" and "\r" end lines), mask paths relative (and, with `masks_inside`, inside the txt's folder),
/// label and confidence read as Python float() (confidence NaN rejected); duplicate mask paths: the last line's
/// values at the first line's position. Masks are not opened; label ids are not interpreted. Errors name the file
/// and the line.
std::vector<InstanceResultLine> read_cityscapes_instance_txt(const std::filesystem::path& txt,
                                                             bool masks_inside = false);

/// Writes `lines` as a result file (atomically): mask paths relative to the txt's folder, which must contain them;
/// confidences with full precision.
void write_cityscapes_instance_txt(const std::filesystem::path& txt, const std::vector<InstanceResultLine>& lines);

/// Python float(token): surrounding whitespace, sign, decimal or exponent forms, inf/infinity/nan in any case.
bool parse_python_float(std::string_view token, double* out);

/// A line quoted for an error message, control characters escaped (a stray tab or CR stays visible).
std::string quote_text(std::string_view text);

}  // namespace boundseg::io
