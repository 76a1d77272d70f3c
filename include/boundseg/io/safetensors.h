// Strict safetensors reading and writing on at::Tensor (formats.md §7.4).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace boundseg::io {

/// The content of one safetensors file.
struct Safetensors {
  /// Tensor names in file order: by data offset, ties (zero-size tensors) in header order.
  std::vector<std::string> names;
  /// name -> tensor: CPU, contiguous, owning its memory (no view of the file).
  /// Dtypes: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL as the matching at::ScalarType.
  std::map<std::string, at::Tensor> tensors;
  /// The optional "__metadata__" object (string -> string); empty when absent.
  std::map<std::string, std::string> metadata;
};

/// Largest accepted JSON header, as in the reference implementation (100 MB).
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

/// Reads and validates a whole safetensors file. Nothing in the file is trusted: the header length, the JSON (valid
/// UTF-8, an object, no duplicate keys), every entry (exactly dtype/shape/data_offsets, a supported dtype,
/// non-negative integer dims, a byte range of numel x element size) and the layout (ranges cover the data buffer from
/// 0 to its end without overlap, hole or trailing bytes) are checked, and BOOL bytes must be 0 or 1. Tensor data are
/// read straight into the tensors (no second copy of the file in memory). Raises boundseg::Error naming the file, the
/// tensor and the requirement.
Safetensors read_safetensors(const std::filesystem::path& path);

/// Same as read_safetensors for bytes already in memory; `source` names them in error messages.
Safetensors parse_safetensors(std::string_view bytes, const std::string& source);

/// Encodes `tensors` (in the given order) and `metadata` as safetensors: 8-byte little-endian header length, compact
/// JSON header ("__metadata__" first when not empty) padded with spaces to a multiple of 8 bytes, then the tensors'
/// bytes back to back. Tensors may live on any device and be non-contiguous (they are copied to contiguous CPU);
/// dtypes as in Safetensors::tensors. Names must be non-empty, unique, valid UTF-8 and not "__metadata__".
std::string serialize_safetensors(const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                                  const std::map<std::string, std::string>& metadata = {});

/// serialize_safetensors(...) written atomically (temp file + rename, see write_file_atomic).
void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace boundseg::io
