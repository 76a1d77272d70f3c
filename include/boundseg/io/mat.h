// MATLAB level-5 `.mat` files of numeric arrays (libmatio), and the SegFix layouts stored in them (formats.md §6).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/arg.h>

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace boundseg::io {

/// Reads every variable of a level-5 MAT file (compressed or plain elements). Each must be a real, dense numeric
/// array; its tensor has the MATLAB dimensions (rank >= 2, e.g. a scalar is [1, 1]) in row-major order, i.e. element
/// (i, j, k) of the MATLAB array is t[i][j][k] (MATLAB stores it at i + I·(j + J·k)). Classes map to dtypes:
/// uint8 -> uint8, int8 -> int8, int16 -> int16, int32 -> int32, int64 -> int64, single -> float32, double -> float64,
/// uint16 -> int32, uint32 -> int64, uint64 -> int64 (values above INT64_MAX are an error), logical -> bool.
/// Errors (missing or unreadable file, not a MAT file, a cell/struct/char/sparse/complex variable) raise
/// boundseg::Error naming the file and the variable.
std::map<std::string, at::Tensor> read_mat(const std::filesystem::path& path);

/// Reads variable `name` as read_mat does; an error names the file, the missing key and the keys present.
at::Tensor read_mat_variable(const std::filesystem::path& path, const std::string& name);

/// Options of write_mat.
struct MatWriteOptions {
  /// zlib-compressed elements (miCOMPRESSED), as scipy's savemat(do_compression=True). Default true.
  TORCH_ARG(bool, compress) = true;
};

/// Writes `variables` in order as a level-5 MAT file, atomically (a temporary file beside `path`, then rename; parent
/// directories are created). Tensors: CPU, any layout, dtype uint8, int8, int16, int32, int64, float32, float64 or
/// bool (written as a logical uint8 array); rank 0 is written as 1x1 and rank 1 as 1xN (scipy's oned_as='row'),
/// rank >= 2 with its sizes as the MATLAB dimensions (column-major data, see read_mat). Names: non-empty, at most 63
/// characters, a letter followed by letters, digits or '_', unique.
void write_mat(const std::filesystem::path& path, const std::vector<std::pair<std::string, at::Tensor>>& variables,
               const MatWriteOptions& options = {});

/// The SegFix GT file of one image (dt_offset_generator.py output, formats.md §6).
struct SegFixGtMat {
  at::Tensor depth;        ///< uint8 (H, W)
  at::Tensor dir_deg;      ///< uint8 (H, W)
  int64_t deg_reduce = 2;  ///< angle = deg_reduce·dir_deg - 180
};

/// Reads `depth` and `dir_deg` (any integer or real class holding integers in [0, 255], converted to uint8; equal
/// H x W) and `deg_reduce` (one integer >= 1; 2 when the key is absent).
SegFixGtMat read_segfix_gt_mat(const std::filesystem::path& path);

/// Writes `dir_deg` and `depth` as uint8 H x W and `deg_reduce` as int64 1 x 1, compressed (the generator's file).
/// depth, dir_deg: uint8 (H, W) of the same size.
void write_segfix_gt_mat(const std::filesystem::path& path, const at::Tensor& depth, const at::Tensor& dir_deg,
                         int64_t deg_reduce = 2);

/// Reads the offsets `mat` (H x W x 2, channel 0 = dh, 1 = dw; any integer or real class holding integers) as int32
/// (H, W, 2).
at::Tensor read_segfix_offset_mat(const std::filesystem::path& path);

/// Writes offsets (H, W, 2) or (1, H, W, 2), any integer dtype with values in the int32 range, as key `mat` = int32
/// H x W x 2, compressed (tester_offset.py's file).
void write_segfix_offset_mat(const std::filesystem::path& path, const at::Tensor& offsets);

}  // namespace boundseg::io
