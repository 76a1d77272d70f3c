// Level-5 MAT files through libmatio; column-major MATLAB data <-> row-major tensors (formats.md §6).
#include "boundseg/io/mat.h"

#include <ATen/ATen.h>
#include <matio.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <set>

#include "boundseg/core/check.h"
#include "boundseg/core/error.h"
#include "boundseg/io/atomic_file.h"

namespace boundseg::io {
namespace fs = std::filesystem;
namespace {

constexpr const char* kReadWhat = "read_mat";
constexpr const char* kWriteWhat = "write_mat";

// matio reports problems through a log callback; keep the last message of this thread for our errors instead of
// printing it.
thread_local std::string last_matio_message;

void capture_matio_log(int /*log_level*/, char* message) { last_matio_message = message ? message : ""; }

void install_matio_logger() {
  static std::once_flag once;
  std::call_once(once, [] { Mat_LogInitFunc("boundseg", capture_matio_log); });
}

std::string matio_detail() {
  return last_matio_message.empty() ? std::string() : " (libmatio: " + last_matio_message + ")";
}

struct MatCloser {
  void operator()(mat_t* mat) const { Mat_Close(mat); }
};
struct VarFreer {
  void operator()(matvar_t* var) const { Mat_VarFree(var); }
};
using MatFile = std::unique_ptr<mat_t, MatCloser>;
using MatVar = std::unique_ptr<matvar_t, VarFreer>;

std::string quoted(const fs::path& path) { return "'" + path.string() + "'"; }

const char* class_name(matio_classes c) {
  switch (c) {
    case MAT_C_EMPTY:
      return "empty";
    case MAT_C_CELL:
      return "cell";
    case MAT_C_STRUCT:
      return "struct";
    case MAT_C_OBJECT:
      return "object";
    case MAT_C_CHAR:
      return "char";
    case MAT_C_SPARSE:
      return "sparse";
    case MAT_C_DOUBLE:
      return "double";
    case MAT_C_SINGLE:
      return "single";
    case MAT_C_INT8:
      return "int8";
    case MAT_C_UINT8:
      return "uint8";
    case MAT_C_INT16:
      return "int16";
    case MAT_C_UINT16:
      return "uint16";
    case MAT_C_INT32:
      return "int32";
    case MAT_C_UINT32:
      return "uint32";
    case MAT_C_INT64:
      return "int64";
    case MAT_C_UINT64:
      return "uint64";
    case MAT_C_FUNCTION:
      return "function";
    case MAT_C_OPAQUE:
      return "opaque";
  }
  return "unknown";
}

// The in-memory type of a class after matio has read it (matio converts the stored data type to the class's).
struct ClassInfo {
  matio_types data_type;
  at::ScalarType stored;  // dtype holding the data as read
  at::ScalarType result;  // dtype returned (unsigned classes torch lacks are widened)
};

bool numeric_class(matio_classes c, ClassInfo* info) {
  switch (c) {
    case MAT_C_DOUBLE:
      *info = {MAT_T_DOUBLE, at::kDouble, at::kDouble};
      return true;
    case MAT_C_SINGLE:
      *info = {MAT_T_SINGLE, at::kFloat, at::kFloat};
      return true;
    case MAT_C_INT8:
      *info = {MAT_T_INT8, at::kChar, at::kChar};
      return true;
    case MAT_C_UINT8:
      *info = {MAT_T_UINT8, at::kByte, at::kByte};
      return true;
    case MAT_C_INT16:
      *info = {MAT_T_INT16, at::kShort, at::kShort};
      return true;
    case MAT_C_UINT16:
      *info = {MAT_T_UINT16, at::kShort, at::kInt};
      return true;
    case MAT_C_INT32:
      *info = {MAT_T_INT32, at::kInt, at::kInt};
      return true;
    case MAT_C_UINT32:
      *info = {MAT_T_UINT32, at::kInt, at::kLong};
      return true;
    case MAT_C_INT64:
      *info = {MAT_T_INT64, at::kLong, at::kLong};
      return true;
    case MAT_C_UINT64:
      *info = {MAT_T_UINT64, at::kLong, at::kLong};
      return true;
    default:
      return false;
  }
}

// Reinterprets unsigned data stored in a same-width signed tensor as the wider result dtype.
at::Tensor widen_unsigned(const at::Tensor& raw, matio_classes c, const std::string& where) {
  if (c == MAT_C_UINT16) return raw.to(at::kInt).bitwise_and(0xFFFF);
  if (c == MAT_C_UINT32) return raw.to(at::kLong).bitwise_and(int64_t{0xFFFFFFFF});
  if (c == MAT_C_UINT64 && raw.numel() > 0) {
    require(raw.min().item<int64_t>() >= 0, kReadWhat, where, "hold uint64 values <= 9223372036854775807",
            [] { return std::string("a larger value"); });
  }
  return raw;
}

at::Tensor to_tensor(const matvar_t& var, const fs::path& path) {
  const std::string where = "the variable '" + std::string(var.name ? var.name : "") + "' of " + quoted(path);
  ClassInfo info{};
  require(numeric_class(var.class_type, &info) && !var.isComplex, kReadWhat, where, "be a real numeric array",
          [&] { return std::string(var.isComplex ? "a complex " : "a ") + class_name(var.class_type) + " array"; });
  require(var.data_type == info.data_type && var.rank >= 2, kReadWhat, where, "be a dense array as libmatio reads it",
          [&] { return "data type " + std::to_string(var.data_type); });
  // MATLAB dims (d0, d1, ..., dk) column-major = a row-major (dk, ..., d1, d0) buffer; permute back.
  std::vector<int64_t> reversed(var.dims, var.dims + var.rank);
  std::reverse(reversed.begin(), reversed.end());
  const int64_t numel = std::accumulate(reversed.begin(), reversed.end(), int64_t{1}, std::multiplies<>());
  at::Tensor raw = at::empty(reversed, at::TensorOptions().dtype(info.stored));
  if (numel > 0) {
    require(var.data != nullptr, kReadWhat, where, "have its data", [] { return std::string("none"); });
    std::memcpy(raw.data_ptr(), var.data, static_cast<size_t>(numel) * raw.element_size());
  }
  std::vector<int64_t> order(var.rank);
  for (int i = 0; i < var.rank; ++i) order[i] = var.rank - 1 - i;
  at::Tensor t = widen_unsigned(raw.permute(order).contiguous(), var.class_type, where);
  if (var.isLogical) t = t.ne(0);
  return t;
}

// Inflates one miCOMPRESSED element completely; returns the inflated size, or -1 when the stream is damaged or ends
// early. Only the first 8 inflated bytes (the inner tag) are kept, in `head`.
int64_t inflate_size(const unsigned char* data, size_t size, unsigned char head[8]) {
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return -1;
  z.next_in = const_cast<unsigned char*>(data);
  z.avail_in = static_cast<uInt>(size);
  unsigned char buffer[1 << 14];
  int64_t total = 0;
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = buffer;
    z.avail_out = sizeof buffer;
    rc = inflate(&z, Z_NO_FLUSH);
    const int64_t produced = static_cast<int64_t>(sizeof buffer - z.avail_out);
    for (int64_t i = 0; i < produced && total + i < 8; ++i) head[total + i] = buffer[i];
    total += produced;
    if (rc == Z_BUF_ERROR && z.avail_in == 0) break;  // input exhausted before the end of the stream
  }
  inflateEnd(&z);
  return rc == Z_STREAM_END ? total : -1;
}

// libmatio inflates a truncated or damaged miCOMPRESSED element without an error (it returns partial data), so the
// top-level element tags are checked first: every element must lie inside the file, every compressed stream must
// inflate to its end and hold exactly one miMATRIX element (formats.md §6 layout).
void check_mat5_elements(const fs::path& path) {
  const std::string bytes = read_file(path, kReadWhat);
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::string file = "the file " + quoted(path);
  require(bytes.size() >= 128 && (bytes.compare(126, 2, "IM") == 0 || bytes.compare(126, 2, "MI") == 0), kReadWhat,
          file, "be a level-5 MAT file", [] { return std::string("no level-5 header"); });
  const bool swap = bytes.compare(126, 2, "MI") == 0;
  const auto u32 = [&](const unsigned char* p) {
    const uint32_t v = uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
    return swap ? __builtin_bswap32(v) : v;
  };
  size_t pos = 128;
  int index = 0;
  while (pos < bytes.size()) {
    const std::string element =
        "element " + std::to_string(index) + " (at byte " + std::to_string(pos) + ") of " + quoted(path);
    if (bytes.size() - pos < 8) {
      // Trailing padding: zero bytes only.
      bool zeros = true;
      for (size_t i = pos; i < bytes.size(); ++i) zeros = zeros && b[i] == 0;
      require(zeros, kReadWhat, element, "be a complete data element", [] { return std::string("a partial tag"); });
      break;
    }
    const uint32_t type = u32(b + pos), nbytes = u32(b + pos + 4);
    require(type == MAT_T_MATRIX || type == MAT_T_COMPRESSED, kReadWhat, element,
            "be a miMATRIX (14) or miCOMPRESSED (15) element", [&] { return "type " + std::to_string(type); });
    require(nbytes <= bytes.size() - pos - 8, kReadWhat, element, "fit in the file", [&] {
      return std::to_string(nbytes) + " bytes announced, " + std::to_string(bytes.size() - pos - 8) +
             " left (a truncated file)";
    });
    if (type == MAT_T_COMPRESSED) {
      unsigned char head[8] = {};
      const int64_t inflated = inflate_size(b + pos + 8, nbytes, head);
      require(inflated >= 8 && u32(head) == MAT_T_MATRIX && int64_t(u32(head + 4)) + 8 == inflated, kReadWhat, element,
              "inflate to one complete miMATRIX element", [] { return std::string("a damaged zlib stream"); });
    }
    pos += 8 + nbytes;
    ++index;
  }
}

MatFile open_for_reading(const fs::path& path) {
  install_matio_logger();
  std::error_code ec;
  require(fs::is_regular_file(path, ec), kReadWhat, "the file " + quoted(path), "exist",
          [] { return std::string("no such file"); });
  last_matio_message.clear();
  check_mat5_elements(path);
  MatFile mat(Mat_Open(path.c_str(), MAT_ACC_RDONLY));
  require(mat != nullptr && Mat_GetVersion(mat.get()) == MAT_FT_MAT5, kReadWhat, "the file " + quoted(path),
          "be a level-5 MAT file", [] { return "a file libmatio cannot open as one" + matio_detail(); });
  return mat;
}

std::vector<std::string> variable_names(mat_t* mat, const fs::path& path) {
  size_t n = 0;
  last_matio_message.clear();
  char** dir = Mat_GetDir(mat, &n);
  require(dir != nullptr || n == 0, kReadWhat, "the file " + quoted(path), "be a readable MAT file",
          [] { return "a damaged variable directory" + matio_detail(); });
  std::vector<std::string> names;
  for (size_t i = 0; i < n; ++i) names.emplace_back(dir[i] ? dir[i] : "");
  Mat_Rewind(mat);
  return names;
}

at::Tensor read_one(mat_t* mat, const std::string& name, const fs::path& path) {
  last_matio_message.clear();
  MatVar var(Mat_VarRead(mat, name.c_str()));
  require(var != nullptr, kReadWhat, "the variable '" + name + "' of " + quoted(path), "be readable",
          [] { return "a damaged element" + matio_detail(); });
  return to_tensor(*var, path);
}

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s.empty() ? "none" : s;
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 63 || !std::isalpha(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

struct WriteClass {
  matio_classes class_type;
  matio_types data_type;
};

WriteClass write_class(at::ScalarType t) {
  switch (t) {
    case at::kByte:
      return {MAT_C_UINT8, MAT_T_UINT8};
    case at::kBool:
      return {MAT_C_UINT8, MAT_T_UINT8};
    case at::kChar:
      return {MAT_C_INT8, MAT_T_INT8};
    case at::kShort:
      return {MAT_C_INT16, MAT_T_INT16};
    case at::kInt:
      return {MAT_C_INT32, MAT_T_INT32};
    case at::kLong:
      return {MAT_C_INT64, MAT_T_INT64};
    case at::kFloat:
      return {MAT_C_SINGLE, MAT_T_SINGLE};
    case at::kDouble:
      return {MAT_C_DOUBLE, MAT_T_DOUBLE};
    default:
      return {MAT_C_EMPTY, MAT_T_UNKNOWN};
  }
}

void check_variable(const std::string& name, const at::Tensor& t, std::set<std::string>& seen) {
  const std::string arg = "the variable '" + name + "'";
  require(valid_name(name), kWriteWhat, "the variable name '" + name + "'",
          "be 1 to 63 letters, digits or '_' starting with a letter", [] { return std::string("another name"); });
  require(seen.insert(name).second, kWriteWhat, arg, "appear once", [] { return std::string("a repeated name"); });
  require(t.defined(), kWriteWhat, arg, "be a defined tensor", [] { return std::string("an undefined one"); });
  require(write_class(t.scalar_type()).class_type != MAT_C_EMPTY, kWriteWhat, arg,
          "be a uint8, int8, int16, int32, int64, float32, float64 or bool tensor", [&] { return "a " + describe(t); });
  check_cpu(t, kWriteWhat, name.c_str());
}

void write_variable(mat_t* mat, const std::string& name, const at::Tensor& t, bool compress, const fs::path& path) {
  // MATLAB dims: rank 0 -> 1x1, rank 1 -> 1xN (scipy oned_as='row'), else the sizes.
  std::vector<int64_t> sizes = {1, 1};
  if (t.dim() == 1) sizes[1] = t.size(0);
  if (t.dim() >= 2) sizes.assign(t.sizes().begin(), t.sizes().end());
  const at::Tensor shaped = t.reshape(sizes);
  std::vector<int64_t> order(sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) order[i] = static_cast<int64_t>(sizes.size() - 1 - i);
  // Column-major data = the row-major buffer of the reversed-axis tensor.
  const at::Tensor data = (t.scalar_type() == at::kBool ? shaped.to(at::kByte) : shaped).permute(order).contiguous();
  std::vector<size_t> dims(sizes.begin(), sizes.end());
  const WriteClass wc = write_class(t.scalar_type());
  const int flags = MAT_F_DONT_COPY_DATA | (t.scalar_type() == at::kBool ? MAT_F_LOGICAL : 0);
  static uint8_t no_data = 0;  // matio wants a pointer even for zero elements
  void* ptr = data.numel() > 0 ? data.data_ptr() : &no_data;
  last_matio_message.clear();
  MatVar var(
      Mat_VarCreate(name.c_str(), wc.class_type, wc.data_type, static_cast<int>(dims.size()), dims.data(), ptr, flags));
  require(var != nullptr, kWriteWhat, "the variable '" + name + "' for " + quoted(path), "be encodable",
          [] { return "a libmatio failure" + matio_detail(); });
  const int rc = Mat_VarWrite(mat, var.get(), compress ? MAT_COMPRESSION_ZLIB : MAT_COMPRESSION_NONE);
  require(rc == 0, kWriteWhat, "the variable '" + name + "' of " + quoted(path), "be written",
          [&] { return "libmatio error " + std::to_string(rc) + matio_detail(); });
}

// Integer-valued tensor in [lo, hi] converted to `dtype`; errors name the key.
at::Tensor integral_values(const at::Tensor& t, const fs::path& path, const std::string& key, int64_t lo, int64_t hi,
                           at::ScalarType dtype, const char* what) {
  const std::string arg = "the variable '" + key + "' of " + quoted(path);
  if (t.numel() == 0) return t.to(dtype);
  const at::Tensor d = t.to(at::kDouble);
  const bool integral = at::isIntegralType(t.scalar_type(), /*includeBool=*/true) || d.eq(d.trunc()).all().item<bool>();
  const double mn = d.min().item<double>(), mx = d.max().item<double>();
  require(integral && mn >= static_cast<double>(lo) && mx <= static_cast<double>(hi), what, arg,
          "hold integers in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]",
          [&] { return "values in [" + std::to_string(mn) + ", " + std::to_string(mx) + "]"; });
  return t.to(dtype);
}

std::string shape_text(const at::Tensor& t) {
  std::string s;
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? " x " : "") + std::to_string(t.size(i));
  return s;
}

}  // namespace

std::map<std::string, at::Tensor> read_mat(const fs::path& path) {
  MatFile mat = open_for_reading(path);
  std::map<std::string, at::Tensor> out;
  for (const std::string& name : variable_names(mat.get(), path)) out[name] = read_one(mat.get(), name, path);
  return out;
}

at::Tensor read_mat_variable(const fs::path& path, const std::string& name) {
  MatFile mat = open_for_reading(path);
  const std::vector<std::string> names = variable_names(mat.get(), path);
  require(std::find(names.begin(), names.end(), name) != names.end(), kReadWhat, quoted(path),
          "hold the variable '" + name + "'", [&] { return "the variables: " + join(names); });
  return read_one(mat.get(), name, path);
}

void write_mat(const fs::path& path, const std::vector<std::pair<std::string, at::Tensor>>& variables,
               const MatWriteOptions& options) {
  install_matio_logger();
  std::set<std::string> seen;
  for (const auto& [name, t] : variables) check_variable(name, t, seen);
  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(parent, ec);
  require(!ec, kWriteWhat, "the directory '" + parent.string() + "'", "be creatable", [&] { return ec.message(); });
  std::random_device rd;
  const fs::path tmp =
      parent / ("." + path.filename().string() + ".tmp" + std::to_string(getpid()) + "_" + std::to_string(rd()));
  last_matio_message.clear();
  MatFile mat(Mat_CreateVer(tmp.c_str(), nullptr, MAT_FT_MAT5));
  require(mat != nullptr, kWriteWhat, "the file " + quoted(tmp), "be creatable",
          [] { return "a libmatio failure" + matio_detail(); });
  try {
    for (const auto& [name, t] : variables) write_variable(mat.get(), name, t, options.compress(), path);
    const int rc = Mat_Close(mat.release());
    require(rc == 0, kWriteWhat, "the file " + quoted(path), "be written",
            [&] { return "libmatio error " + std::to_string(rc) + " on close" + matio_detail(); });
    fs::rename(tmp, path, ec);
    require(!ec, kWriteWhat, "the file " + quoted(path), "be replaceable", [&] { return ec.message(); });
  } catch (...) {
    mat.reset();
    std::error_code ignore;
    fs::remove(tmp, ignore);
    throw;
  }
}

SegFixGtMat read_segfix_gt_mat(const fs::path& path) {
  constexpr const char* what = "read_segfix_gt_mat";
  std::map<std::string, at::Tensor> vars = read_mat(path);
  std::vector<std::string> names;
  for (const auto& kv : vars) names.push_back(kv.first);
  SegFixGtMat gt;
  for (const char* key : {"depth", "dir_deg"}) {
    require(vars.count(key) == 1, what, quoted(path), std::string("hold the variable '") + key + "'",
            [&] { return "the variables: " + join(names); });
    const at::Tensor& t = vars.at(key);
    require(t.dim() == 2, what, std::string("the variable '") + key + "' of " + quoted(path), "be an H x W array",
            [&] { return "a " + shape_text(t) + " array"; });
    (std::string(key) == "depth" ? gt.depth : gt.dir_deg) = integral_values(t, path, key, 0, 255, at::kByte, what);
  }
  require(gt.depth.sizes() == gt.dir_deg.sizes(), what, "the variable 'dir_deg' of " + quoted(path),
          "have the size of 'depth' (" + shape_text(gt.depth) + ")", [&] { return shape_text(gt.dir_deg); });
  if (vars.count("deg_reduce")) {
    const at::Tensor& r = vars.at("deg_reduce");
    require(r.numel() == 1, what, "the variable 'deg_reduce' of " + quoted(path), "be a 1 x 1 array",
            [&] { return "a " + shape_text(r) + " array"; });
    gt.deg_reduce = integral_values(r, path, "deg_reduce", 1, 180, at::kLong, what).item<int64_t>();
  }
  return gt;
}

void write_segfix_gt_mat(const fs::path& path, const at::Tensor& depth, const at::Tensor& dir_deg, int64_t deg_reduce) {
  constexpr const char* what = "write_segfix_gt_mat";
  require(depth.defined() && depth.dim() == 2 && depth.scalar_type() == at::kByte, what, "'depth'",
          "be a uint8 (H, W) tensor", [&] { return describe_or_undefined(depth); });
  require(dir_deg.defined() && dir_deg.sizes() == depth.sizes() && dir_deg.scalar_type() == at::kByte, what,
          "'dir_deg'", "be a uint8 tensor of the size of 'depth' (" + describe(depth) + ")",
          [&] { return describe_or_undefined(dir_deg); });
  require(deg_reduce >= 1, what, "'deg_reduce'", "be >= 1", [&] { return std::to_string(deg_reduce); });
  // Key order of the generator's savemat dict.
  write_mat(path, {{"dir_deg", dir_deg}, {"depth", depth}, {"deg_reduce", at::full({1, 1}, deg_reduce, at::kLong)}});
}

at::Tensor read_segfix_offset_mat(const fs::path& path) {
  constexpr const char* what = "read_segfix_offset_mat";
  const at::Tensor t = read_mat_variable(path, "mat");
  require(t.dim() == 3 && t.size(2) == 2, what, "the variable 'mat' of " + quoted(path),
          "be an H x W x 2 array (dh, dw)", [&] { return "a " + shape_text(t) + " array"; });
  return integral_values(t, path, "mat", std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max(),
                         at::kInt, what);
}

void write_segfix_offset_mat(const fs::path& path, const at::Tensor& offsets) {
  constexpr const char* what = "write_segfix_offset_mat";
  require(offsets.defined() && at::isIntegralType(offsets.scalar_type(), /*includeBool=*/false), what, "'offsets'",
          "be an integer tensor", [&] { return describe_or_undefined(offsets); });
  const bool single = offsets.dim() == 3 || (offsets.dim() == 4 && offsets.size(0) == 1);
  require(single && offsets.size(-1) == 2, what, "'offsets'", "be a (H, W, 2) or (1, H, W, 2) tensor",
          [&] { return "a " + describe(offsets); });
  const at::Tensor hw2 = offsets.dim() == 4 ? offsets[0] : offsets;
  if (hw2.numel() > 0) {
    const int64_t lo = hw2.min().item<int64_t>(), hi = hw2.max().item<int64_t>();
    require(lo >= std::numeric_limits<int32_t>::min() && hi <= std::numeric_limits<int32_t>::max(), what, "'offsets'",
            "hold int32 values", [&] { return "values in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]"; });
  }
  write_mat(path, {{"mat", hw2.to(at::kInt)}});
}

}  // namespace boundseg::io
