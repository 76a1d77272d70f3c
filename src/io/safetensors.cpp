// safetensors: a validated header first, then the data straight into owning tensors; and the matching encoder.
#include "boundseg/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "boundseg/core/error.h"
#include "boundseg/io/atomic_file.h"

namespace boundseg::io {
namespace {

// Tensor bytes are copied as they are: safetensors data are little-endian, so the host must be too.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "boundseg safetensors I/O assumes a little-endian host");

// Parsed headers use the std::map-backed json: ordered_json inserts by linear search, which makes a header of n
// tensors O(n^2) to parse (a 100 MB hostile header would take hours). The header's key order, which orders
// zero-size tensors sharing an offset, is recorded while parsing instead.
using Json = nlohmann::json;
// Only for the three fields of an entry written in the reference order dtype, shape, data_offsets.
using OrderedJson = nlohmann::ordered_json;

constexpr std::string_view kWhat = "safetensors";
constexpr std::string_view kMetadataKey = "__metadata__";
constexpr std::string_view kSupportedDtypes = "F64, F32, F16, BF16, I64, I32, I16, I8, U8 or BOOL";

struct DtypeName {
  std::string_view name;
  at::ScalarType type;
};

// The safetensors dtypes that LibTorch 1.13 can hold (no unsigned types beyond uint8, no float8).
constexpr DtypeName kDtypes[] = {
    {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf}, {"BF16", at::kBFloat16}, {"I64", at::kLong},
    {"I32", at::kInt},    {"I16", at::kShort}, {"I8", at::kChar},  {"U8", at::kByte},        {"BOOL", at::kBool},
};

const DtypeName* find_dtype(std::string_view name) {
  for (const auto& d : kDtypes) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

const DtypeName* find_dtype(at::ScalarType type) {
  for (const auto& d : kDtypes) {
    if (d.type == type) return &d;
  }
  return nullptr;
}

/// One header entry after validation.
struct Entry {
  std::string name;
  const DtypeName* dtype = nullptr;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

/// A validated header: entries sorted by data range, plus the metadata.
struct Header {
  std::vector<Entry> entries;
  std::map<std::string, std::string> metadata;
};

// Names and keys come from the file: shown in full up to a sane length.
std::string clip(std::string_view text) {
  constexpr size_t kMaxChars = 80;
  if (text.size() <= kMaxChars) return std::string(text);
  size_t cut = kMaxChars;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // keep UTF-8 whole
  return std::string(text.substr(0, cut)) + "...";
}

std::string file_arg(const std::string& source) { return "the file '" + source + "'"; }
std::string header_arg(const std::string& source) { return "the header of '" + source + "'"; }

std::string entry_arg(const std::string& name, const std::string& source) {
  if (name == kMetadataKey) return "the __metadata__ of '" + source + "'";
  return "the tensor '" + clip(name) + "' in '" + source + "'";
}

std::string range_text(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// "a JSON <type> <value>", the value cut short so a hostile header cannot flood the message.
std::string describe(const Json& j) {
  if (j.is_null()) return "a JSON null";
  return std::string("a JSON ") + j.type_name() + " " + clip(j.dump());
}

uint64_t decode_u64_le(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void check_file_size(uint64_t file_size, const std::string& source) {
  require(file_size >= 8, kWhat, file_arg(source), "be at least 8 bytes long (the header length field)",
          [&] { return "a " + std::to_string(file_size) + "-byte file"; });
}

// Validates the 8-byte header length N against the file size; returns N.
uint64_t header_length(const char* prefix, uint64_t file_size, const std::string& source) {
  const uint64_t n = decode_u64_le(prefix);
  require(n <= kSafetensorsMaxHeaderBytes, kWhat, "the header length of '" + source + "'",
          "be at most " + std::to_string(kSafetensorsMaxHeaderBytes) + " bytes",
          [&] { return std::to_string(n) + " bytes"; });
  require(n <= file_size - 8, kWhat, "the header length of '" + source + "'",
          "fit in the " + std::to_string(file_size - 8) + " bytes after the length field",
          [&] { return std::to_string(n) + " bytes"; });
  return n;
}

// First pass over the header text with nlohmann's SAX interface: syntax (and so UTF-8), nesting depth, duplicate
// keys, and the order of the outermost keys. It builds no values, so the second pass (a plain DOM parse) only ever
// sees well-formed, shallow, duplicate-free input. Neither pass is quadratic: nlohmann's callback parser rescans the
// parent object after every member, and ordered_json inserts by linear search.
class HeaderScanner final : public nlohmann::json_sax<Json> {
 public:
  // A valid header nests 3 levels (header object, entry object, shape array). nlohmann copies and dumps values
  // recursively, so a hostile "[[[[..." header could otherwise overflow the stack.
  static constexpr size_t kMaxDepth = 8;

  explicit HeaderScanner(const std::string& source) : source_(source) {}

  /// Keys of the outermost object, in header order.
  std::vector<std::string> top_keys;

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    open();
    frames_.emplace_back();
    return true;
  }
  bool key(string_t& key) override {
    Frame& frame = frames_.back();
    if (!frame.keys.insert(key).second) {
      fail(kWhat, context(), "have unique JSON keys", "the key '" + clip(key) + "' twice");
    }
    frame.last_key = key;
    if (frames_.size() == 1) top_keys.push_back(key);
    return true;
  }
  bool end_object() override {
    frames_.pop_back();
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    open();
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    // nlohmann also rejects malformed UTF-8 inside strings, so this covers the encoding too.
    std::string why = e.what();
    const size_t tag_end = why.find("] ");
    if (tag_end != std::string::npos) why = why.substr(tag_end + 2);
    fail(kWhat, header_arg(source_), "be valid UTF-8 JSON", "invalid JSON (" + why + ")");
  }

 private:
  struct Frame {
    std::set<std::string> keys;
    std::string last_key;
  };

  void open() {
    if (++depth_ > kMaxDepth) {
      fail(kWhat, context(), "nest JSON values at most " + std::to_string(kMaxDepth) + " levels deep",
           "deeper nesting");
    }
  }
  std::string context() const {
    return frames_.size() <= 1 ? header_arg(source_) : entry_arg(frames_.front().last_key, source_);
  }

  const std::string& source_;
  std::vector<Frame> frames_;  // one per open object
  size_t depth_ = 0;           // open objects and arrays
};

// Parses the header JSON; `top_keys` receives the keys of the outermost object in header order.
Json parse_json(std::string_view text, const std::string& source, std::vector<std::string>& top_keys) {
  // nlohmann stops at a NUL byte as if the input ended there, which would let bytes after it pass unchecked; a raw
  // NUL is never valid JSON.
  const size_t nul = text.find('\0');
  if (nul != std::string_view::npos) {
    fail(kWhat, header_arg(source), "be valid UTF-8 JSON", "a NUL byte at header byte " + std::to_string(nul));
  }
  HeaderScanner scanner(source);
  Json::sax_parse(text.begin(), text.end(), &scanner);
  top_keys = std::move(scanner.top_keys);
  return Json::parse(text.begin(), text.end());
}

uint64_t unsigned_field(const Json& j, const std::string& arg, const std::string& field) {
  require(j.is_number_unsigned(), kWhat, arg, "have non-negative integers in '" + field + "'",
          [&] { return describe(j); });
  return j.get<uint64_t>();
}

Entry parse_entry(const std::string& name, const Json& value, uint64_t buffer_size, const std::string& source) {
  const std::string arg = entry_arg(name, source);
  require(!name.empty(), kWhat, "the tensor names in '" + source + "'", "be non-empty", [] { return "\"\""; });
  require(value.is_object(), kWhat, arg, "be a JSON object {dtype, shape, data_offsets}",
          [&] { return describe(value); });
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    require(value.contains(field), kWhat, arg, std::string("have the field '") + field + "'",
            [&] { return describe(value); });
  }
  for (const auto& item : value.items()) {
    const bool known = item.key() == "dtype" || item.key() == "shape" || item.key() == "data_offsets";
    require(known, kWhat, arg, "have exactly the fields dtype, shape, data_offsets",
            [&] { return "an extra field '" + clip(item.key()) + "'"; });
  }
  Entry e;
  e.name = name;

  const Json& dtype = value["dtype"];
  require(dtype.is_string(), kWhat, arg, "have a string 'dtype'", [&] { return describe(dtype); });
  e.dtype = find_dtype(dtype.get_ref<const std::string&>());
  require(e.dtype != nullptr, kWhat, arg, "have dtype " + std::string(kSupportedDtypes),
          [&] { return describe(dtype); });

  const Json& shape = value["shape"];
  require(shape.is_array(), kWhat, arg, "have a 'shape' array of non-negative integers",
          [&] { return describe(shape); });
  // numel, and the product of max(dim, 1) which torch needs for the strides of zero-size tensors, fit in int64.
  uint64_t numel = 1;
  uint64_t stride_product = 1;
  for (const Json& dim : shape) {
    const uint64_t d = unsigned_field(dim, arg, "shape");
    const bool overflow = d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
                          __builtin_mul_overflow(stride_product, std::max<uint64_t>(d, 1), &stride_product) ||
                          stride_product > static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    require(!overflow, kWhat, arg, "have a shape whose element count fits in int64",
            [&] { return describe(shape); });
    numel *= d;  // <= stride_product, so no overflow
    e.shape.push_back(static_cast<int64_t>(d));
  }

  const Json& offsets = value["data_offsets"];
  require(offsets.is_array() && offsets.size() == 2, kWhat, arg, "have 'data_offsets' [begin, end]",
          [&] { return describe(offsets); });
  e.begin = unsigned_field(offsets[0], arg, "data_offsets");
  e.end = unsigned_field(offsets[1], arg, "data_offsets");
  require(e.begin <= e.end, kWhat, arg, "have data_offsets with begin <= end",
          [&] { return range_text(e.begin, e.end); });
  require(e.end <= buffer_size, kWhat, arg,
          "have data_offsets inside the " + std::to_string(buffer_size) + "-byte data buffer",
          [&] { return range_text(e.begin, e.end); });
  const std::string typed_shape = std::string(e.dtype->name) + " " + shape_text(e.shape);
  uint64_t nbytes = 0;
  require(!__builtin_mul_overflow(numel, c10::elementSize(e.dtype->type), &nbytes), kWhat, arg,
          "have a byte size (numel x element size) that fits in 64 bits", [&] { return typed_shape; });
  require(nbytes == e.end - e.begin, kWhat, arg,
          "span numel x element size = " + std::to_string(nbytes) + " bytes (" + typed_shape + ")",
          [&] { return std::to_string(e.end - e.begin) + " bytes " + range_text(e.begin, e.end); });
  return e;
}

Header parse_header(std::string_view text, uint64_t buffer_size, const std::string& source) {
  std::vector<std::string> keys;
  const Json root = parse_json(text, source, keys);
  require(root.is_object(), kWhat, header_arg(source), "be a JSON object", [&] { return describe(root); });
  // Like the reference implementation: no BOM or leading whitespace, so every conforming reader agrees.
  require(text.front() == '{', kWhat, header_arg(source), "start with '{'",
          [&] { return "a header starting with byte " + std::to_string(static_cast<unsigned char>(text.front())); });

  Header header;
  for (const std::string& key : keys) {
    const Json& value = root.find(key).value();
    if (key == kMetadataKey) {
      require(value.is_object(), kWhat, entry_arg(key, source), "be a JSON object of strings",
              [&] { return describe(value); });
      for (const auto& kv : value.items()) {
        require(kv.value().is_string(), kWhat, entry_arg(key, source), "map keys to strings only",
                [&] { return describe(kv.value()) + " for '" + clip(kv.key()) + "'"; });
        header.metadata.emplace(kv.key(), kv.value().get<std::string>());
      }
      continue;
    }
    header.entries.push_back(parse_entry(key, value, buffer_size, source));
  }

  // The ranges must tile the data buffer exactly, as the reference implementation requires: sorted by
  // (begin, end) so zero-size tensors sort before a tensor starting at the same byte.
  std::stable_sort(header.entries.begin(), header.entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : header.entries) {
    if (e.begin < covered) {
      fail(kWhat, entry_arg(e.name, source), "not overlap other tensors",
           range_text(e.begin, e.end) + ", overlapping tensor '" + previous->name + "' " +
               range_text(previous->begin, previous->end));
    }
    if (e.begin > covered) {
      const std::string where = previous ? ", where tensor '" + previous->name + "' ends" : "";
      fail(kWhat, entry_arg(e.name, source),
           "start at byte " + std::to_string(covered) + where + " (no holes in the data buffer)",
           range_text(e.begin, e.end));
    }
    covered = e.end;
    previous = &e;
  }
  require(covered == buffer_size, kWhat, file_arg(source),
          "end with the last tensor's data at byte " + std::to_string(covered) + " of the data buffer",
          [&] { return std::to_string(buffer_size - covered) + " trailing bytes"; });
  return header;
}

// Allocates every tensor and fills it with `read(entry, destination)`, entries in data order.
template <typename ReadFn>
Safetensors materialize(const Header& header, const std::string& source, ReadFn&& read) {
  Safetensors out;
  out.metadata = header.metadata;
  for (const Entry& e : header.entries) {
    at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(e.dtype->type));
    if (e.end > e.begin) read(e, t.data_ptr());
    if (e.dtype->type == at::kBool) {
      // Any other byte is undefined behaviour for torch's bool kernels.
      const auto* bytes = static_cast<const unsigned char*>(t.data_ptr());
      const uint64_t n = e.end - e.begin;
      for (uint64_t i = 0; i < n; ++i) {
        require(bytes[i] <= 1, kWhat, entry_arg(e.name, source), "hold only the bytes 0 and 1 (BOOL)",
                [&] { return "byte " + std::to_string(bytes[i]) + " at element " + std::to_string(i); });
      }
    }
    out.names.push_back(e.name);
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

}  // namespace

Safetensors parse_safetensors(std::string_view bytes, const std::string& source) {
  check_file_size(bytes.size(), source);
  const uint64_t n = header_length(bytes.data(), bytes.size(), source);
  const Header header = parse_header(bytes.substr(8, n), bytes.size() - 8 - n, source);
  const char* data = bytes.data() + 8 + n;
  return materialize(header, source, [&](const Entry& e, void* dst) {
    std::memcpy(dst, data + e.begin, e.end - e.begin);
  });
}

Safetensors read_safetensors(const std::filesystem::path& path) {
  const std::string source = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    fail(kWhat, file_arg(source), "exist and be readable",
         std::filesystem::exists(path, ec) ? "an unreadable file" : "no such file");
  }
  std::error_code ec;
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  if (ec) fail(kWhat, file_arg(source), "be a regular file", ec.message());
  check_file_size(file_size, source);

  const auto short_read = [&](uint64_t at_byte) {
    fail(kWhat, file_arg(source), "be readable to its end (" + std::to_string(file_size) + " bytes)",
         "a short read at byte " + std::to_string(at_byte) + "; was it changed while being read?");
  };
  // Only the header is buffered; tensor data go straight from the file into the tensors.
  char prefix[8];
  if (!in.read(prefix, 8)) short_read(0);
  const uint64_t n = header_length(prefix, file_size, source);
  std::string text(n, '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(n))) short_read(8);
  const Header header = parse_header(text, file_size - 8 - n, source);
  const uint64_t data_start = 8 + n;
  return materialize(header, source, [&](const Entry& e, void* dst) {
    in.seekg(static_cast<std::streamoff>(data_start + e.begin));
    in.read(static_cast<char*>(dst), static_cast<std::streamsize>(e.end - e.begin));
    if (!in) short_read(data_start + e.begin);
  });
}

std::string serialize_safetensors(const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                                  const std::map<std::string, std::string>& metadata) {
  // nlohmann refuses to dump malformed UTF-8; check each string first so the error can name it.
  const auto require_utf8 = [](const std::string& s, const std::string& arg) {
    try {
      (void)Json(s).dump();
    } catch (const Json::type_error&) {
      fail(kWhat, arg, "be valid UTF-8", "malformed UTF-8");
    }
  };

  // The header text is assembled here rather than dumped from one json object: the tensors keep the given order
  // without ordered_json's linear-time insertion.
  std::string text = "{";
  const auto append_member = [&](const std::string& key, const auto& value) {
    if (text.size() > 1) text += ',';
    text += Json(key).dump();
    text += ':';
    text += value.dump();
  };
  if (!metadata.empty()) {
    Json meta = Json::object();  // sorted by key, like the std::map it comes from
    for (const auto& [key, value] : metadata) {
      require_utf8(key, "the __metadata__ key '" + key + "'");
      require_utf8(value, "the __metadata__ value of '" + key + "'");
      meta[key] = value;
    }
    append_member(std::string(kMetadataKey), meta);
  }

  std::vector<at::Tensor> contiguous;
  contiguous.reserve(tensors.size());
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, tensor] = tensors[i];
    const std::string index_arg = "the name of tensor #" + std::to_string(i);
    require(!name.empty(), kWhat, index_arg, "be non-empty", [] { return "\"\""; });
    require(name != kMetadataKey, kWhat, index_arg, "not be the reserved key __metadata__",
            [] { return "\"__metadata__\""; });
    require(seen.insert(name).second, kWhat, index_arg, "be unique",
            [&] { return "a second tensor named '" + name + "'"; });
    require_utf8(name, index_arg);
    const std::string arg = "the tensor '" + name + "'";
    require(tensor.defined(), kWhat, arg, "be defined", [] { return "an undefined tensor"; });
    require(tensor.layout() == at::kStrided, kWhat, arg, "be dense (strided)",
            [&] { return c10::str(tensor.layout()) + " layout"; });
    const DtypeName* dtype = find_dtype(tensor.scalar_type());
    require(dtype != nullptr, kWhat, arg, "have dtype " + std::string(kSupportedDtypes),
            [&] { return std::string(c10::toString(tensor.scalar_type())); });

    // resolve_neg/resolve_conj: a lazily negated view is "contiguous" but its memory holds the un-negated values.
    at::Tensor t = tensor.resolve_conj().resolve_neg().to(at::kCPU).contiguous();
    const uint64_t nbytes = t.nbytes();
    OrderedJson entry = OrderedJson::object();
    entry["dtype"] = std::string(dtype->name);
    entry["shape"] = t.sizes().vec();
    entry["data_offsets"] = OrderedJson::array({offset, offset + nbytes});
    append_member(name, entry);
    offset += nbytes;
    contiguous.push_back(std::move(t));
  }
  text += '}';
  text.append((8 - text.size() % 8) % 8, ' ');  // 8-byte aligned data, as the reference writer pads
  require(text.size() <= kSafetensorsMaxHeaderBytes, kWhat, "the header for " + std::to_string(tensors.size()) +
          " tensors", "be at most " + std::to_string(kSafetensorsMaxHeaderBytes) + " bytes to be readable",
          [&] { return std::to_string(text.size()) + " bytes"; });

  std::string out;
  out.reserve(8 + text.size() + offset);
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i, n >>= 8) out.push_back(static_cast<char>(n & 0xFF));
  out += text;
  for (const at::Tensor& t : contiguous) {
    if (t.nbytes() > 0) out.append(static_cast<const char*>(t.data_ptr()), t.nbytes());
  }
  return out;
}

void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  write_file_atomic(path, serialize_safetensors(tensors, metadata));
}

}  // namespace boundseg::io
