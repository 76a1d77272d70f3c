// safetensors: round trips, the golden model files, hand-built bytes, and one failure per validation rule.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include "boundseg/core/error.h"
#include "boundseg/io/atomic_file.h"
#include "boundseg/io/safetensors.h"
#include "support/golden.h"

namespace boundseg::io {
namespace {

using TensorList = std::vector<std::pair<std::string, at::Tensor>>;

// Same dtype, same shape and bit-identical memory (NaN-safe, and exact for F16/BF16).
::testing::AssertionResult same_bits(const at::Tensor& actual, const at::Tensor& expected) {
  if (actual.scalar_type() != expected.scalar_type()) {
    return ::testing::AssertionFailure() << "dtype " << actual.scalar_type() << " != " << expected.scalar_type();
  }
  if (actual.sizes() != expected.sizes()) {
    return ::testing::AssertionFailure() << "shape " << actual.sizes() << " != " << expected.sizes();
  }
  const at::Tensor a = actual.contiguous();
  const at::Tensor e = expected.contiguous();
  if (a.nbytes() > 0 && std::memcmp(a.data_ptr(), e.data_ptr(), a.nbytes()) != 0) {
    return ::testing::AssertionFailure() << "different bytes";
  }
  return ::testing::AssertionSuccess();
}

// A file assembled by hand: 8-byte little-endian header length, header text, data (no padding: it is optional).
std::string assemble(const std::string& header, const std::string& data = "") {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((uint64_t{header.size()} >> (8 * i)) & 0xFF));
  return out + header + data;
}

std::string entry(const std::string& name, const std::string& dtype, const std::string& shape, uint64_t begin,
                  uint64_t end) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" +
         std::to_string(begin) + "," + std::to_string(end) + "]}";
}

Safetensors parse(const std::string& bytes) { return parse_safetensors(bytes, "bad.safetensors"); }

TensorList every_dtype() {
  const auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  TensorList t;
  t.emplace_back("f64", at::randn({2, 3}, gen, at::kDouble));
  t.emplace_back("f32", at::randn({4}, gen, at::kFloat));
  t.emplace_back("f16", at::randn({3, 2}, gen, at::kFloat).to(at::kHalf));
  t.emplace_back("bf16", at::randn({2, 2, 2}, gen, at::kFloat).to(at::kBFloat16));
  t.emplace_back("i64", at::tensor(std::vector<int64_t>{std::numeric_limits<int64_t>::min(), -1, 0, 1,
                                                        std::numeric_limits<int64_t>::max()}));
  t.emplace_back("i32", at::arange(-6, 6, at::kInt).reshape({3, 4}));
  t.emplace_back("i16", at::tensor(std::vector<int16_t>{-32768, -2, 300, 32767}));
  t.emplace_back("i8", at::arange(-128, 128, at::kChar));
  t.emplace_back("u8", at::arange(0, 256, at::kShort).to(at::kByte).reshape({16, 16}));
  t.emplace_back("bool", at::tensor(std::vector<int64_t>{1, 0, 0, 1, 1}).to(at::kBool));
  t.emplace_back("scalar_f32", at::scalar_tensor(3.25, at::kFloat));
  t.emplace_back("scalar_i64", at::scalar_tensor(-42, at::kLong));
  t.emplace_back("empty_f32", at::empty({0, 3}, at::kFloat));
  t.emplace_back("empty_i32", at::empty({2, 0, 4}, at::kInt));
  t.emplace_back("after_empty", at::ones({2}, at::kDouble));
  return t;
}

TEST(Safetensors, RoundTripsEveryDtypeScalarsEmptyTensorsAndMetadata) {
  testing::TempDir dir;
  const TensorList tensors = every_dtype();
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"class_names", "[\"road\",\"Straße\"]"}, {"empty", ""}};
  const auto path = dir.path() / "all.safetensors";
  write_safetensors(path, tensors, metadata);

  const Safetensors back = read_safetensors(path);
  ASSERT_EQ(back.names.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(back.names[i], tensors[i].first);
    const at::Tensor& t = back.tensors.at(tensors[i].first);
    EXPECT_TRUE(same_bits(t, tensors[i].second)) << tensors[i].first;
    EXPECT_TRUE(t.is_contiguous());
    EXPECT_EQ(t.device(), at::kCPU);
  }
  EXPECT_EQ(back.tensors.at("scalar_f32").dim(), 0);
  EXPECT_EQ(back.tensors.at("scalar_f32").item<float>(), 3.25f);
  EXPECT_EQ(back.metadata, metadata);

  // The layout the reference writer produces: length field, space-padded header, metadata first.
  const std::string bytes = read_file(path, "test");
  EXPECT_EQ(bytes, serialize_safetensors(tensors, metadata));
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes.compare(8, 16, "{\"__metadata__\":"), 0);
  const Safetensors in_memory = parse_safetensors(bytes, "memory");
  EXPECT_EQ(in_memory.names, back.names);
  for (const auto& name : back.names) EXPECT_TRUE(same_bits(in_memory.tensors.at(name), back.tensors.at(name)));
}

TEST(Safetensors, EmptyFileListAndNoMetadataRoundTrip) {
  const std::string bytes = serialize_safetensors({});
  EXPECT_EQ(bytes, assemble("{}      "));
  const Safetensors back = parse_safetensors(bytes, "empty");
  EXPECT_TRUE(back.names.empty());
  EXPECT_TRUE(back.tensors.empty());
  EXPECT_TRUE(back.metadata.empty());
}

TEST(Safetensors, ReadsTensorsReturnedOwningAndIndependentOfTheBytes) {
  std::string bytes = serialize_safetensors({{"x", at::arange(4, at::kFloat)}});
  const Safetensors st = parse_safetensors(bytes, "memory");
  std::fill(bytes.begin(), bytes.end(), '\0');
  EXPECT_EQ(st.tensors.at("x")[3].item<float>(), 3.0f);
}

// ---------------------------------------------------------------------------------------------------------------
// Byte-level compatibility with the Python/Rust implementation.

TEST(Safetensors, ParsesAHandBuiltFileByteByByte) {
  // Header entries deliberately out of data order; "b" is a 0-d F32, "a" an I16 vector.
  const std::string header =
      "{\"__metadata__\":{\"format\":\"pt\"},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,8]},"
      "\"a\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[0,4]}}";
  ASSERT_EQ(header.size(), 137u);
  std::string bytes = {'\x89', 0, 0, 0, 0, 0, 0, 0};  // 137, little-endian u64
  bytes += header;
  const unsigned char data[] = {0x01, 0x00, 0xFF, 0xFF,   // int16 1, -1
                                0x00, 0x00, 0xC0, 0x3F};  // float32 1.5 = 0x3FC00000
  bytes.append(reinterpret_cast<const char*>(data), sizeof(data));

  const Safetensors st = parse_safetensors(bytes, "hand-built");
  EXPECT_EQ(st.names, (std::vector<std::string>{"a", "b"}));  // by data offset, not header order
  EXPECT_TRUE(same_bits(st.tensors.at("a"), at::tensor(std::vector<int16_t>{1, -1})));
  EXPECT_TRUE(same_bits(st.tensors.at("b"), at::scalar_tensor(1.5, at::kFloat)));
  EXPECT_EQ(st.metadata, (std::map<std::string, std::string>{{"format", "pt"}}));
}

TEST(Safetensors, WritesTheSameBytesAsTheReferenceWriter) {
  // What safetensors.torch.save_file({"y": tensor(1.5), "x": tensor([1, -1], dtype=int16)}, f, {"format": "pt"})
  // writes: compact JSON, metadata first, fields dtype/shape/data_offsets, padded with spaces to 8 bytes. (The
  // reference orders tensors by alignment, then name; this order already satisfies that.)
  const std::string header =
      "{\"__metadata__\":{\"format\":\"pt\"},"
      "\"y\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
      "\"x\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[4,8]}}";
  ASSERT_EQ(header.size(), 137u);
  std::string expected = {'\x90', 0, 0, 0, 0, 0, 0, 0};  // 144 = 137 + 7 spaces
  expected += header + "       ";
  expected += std::string("\x00\x00\xC0\x3F\x01\x00\xFF\xFF", 8);
  const std::string written = serialize_safetensors(
      {{"y", at::scalar_tensor(1.5, at::kFloat)}, {"x", at::tensor(std::vector<int16_t>{1, -1})}}, {{"format", "pt"}});
  EXPECT_EQ(written, expected);
}

// ---------------------------------------------------------------------------------------------------------------
// Golden model files, checked against an independent decoder.

// Minimal independent reader: nlohmann for the header, little-endian bytes assembled by hand.
struct RawSafetensors {
  nlohmann::json header;
  std::string bytes;
  size_t data_start = 0;

  explicit RawSafetensors(const std::filesystem::path& path) : bytes(read_file(path, "test")) {
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
    header = nlohmann::json::parse(bytes.substr(8, n));
    data_start = 8 + n;
  }
  float f32(const std::string& name, size_t index) const {
    const size_t at = data_start + header.at(name).at("data_offsets").at(0).get<size_t>() + 4 * index;
    uint32_t bits = 0;
    for (int i = 3; i >= 0; --i) bits = (bits << 8) | static_cast<unsigned char>(bytes.at(at + i));
    float value = 0;
    std::memcpy(&value, &bits, 4);
    return value;
  }
};

// One tensor as a manifest table describes it: "`name` F32 [1, 3, 128, 128]".
struct ManifestTensor {
  std::string name, dtype;
  std::vector<int64_t> shape;
};

// The tensors a MANIFEST.md format column lists, in its order; empty when it lists none (e.g. a weights file).
std::vector<ManifestTensor> manifest_tensors(const std::string& format) {
  std::vector<ManifestTensor> tensors;
  const std::regex entry("`([^`]+)` ([A-Z0-9]+) \\[([0-9, ]*)\\]");
  for (auto it = std::sregex_iterator(format.begin(), format.end(), entry); it != std::sregex_iterator(); ++it) {
    ManifestTensor t{(*it)[1].str(), (*it)[2].str(), {}};
    std::stringstream dims((*it)[3].str());
    for (std::string dim; std::getline(dims, dim, ',');) t.shape.push_back(std::stoll(dim));
    tensors.push_back(std::move(t));
  }
  return tensors;
}

at::ScalarType scalar_type_of(const std::string& dtype) {
  static const std::map<std::string, at::ScalarType> types = {
      {"F64", at::kDouble}, {"F32", at::kFloat}, {"I64", at::kLong}, {"I32", at::kInt}, {"U8", at::kByte}};
  return types.at(dtype);
}

// Every models/*.safetensors whose manifest row lists its tensors (inputs, outputs, loss goldens): the reader gives
// the names, order, dtypes and shapes the manifest states and the bytes the independent decoder finds.
TEST(GoldenSafetensors, ReadsEveryModelIoFileAsTheManifestDescribesIt) {
  const auto formats = testing::manifest_formats("models");
  testing::CaseCount cases("models/*.safetensors files whose manifest row lists tensors");
  for (const auto& file : testing::golden_files("models", "", ".safetensors")) {
    const std::string name = file.path.filename().string();
    SCOPED_TRACE(name);
    const auto row = formats.find(name);
    ASSERT_NE(row, formats.end()) << "models/MANIFEST.md does not list " << name;
    const std::vector<ManifestTensor> expected = manifest_tensors(row->second);
    if (expected.empty()) continue;  // a weights file: GoldenSafetensors.ReadsTheWeightsInReferenceKeyOrder
    const Safetensors st = read_safetensors(file.path);
    const RawSafetensors raw(file.path);
    std::vector<std::string> names;
    for (const auto& t : expected) names.push_back(t.name);
    EXPECT_EQ(st.names, names);
    for (const auto& e : expected) {
      SCOPED_TRACE(e.name);
      ASSERT_EQ(st.tensors.count(e.name), 1u);
      const at::Tensor& t = st.tensors.at(e.name);
      EXPECT_EQ(t.scalar_type(), scalar_type_of(e.dtype));
      EXPECT_EQ(t.sizes().vec(), e.shape);
      EXPECT_EQ(raw.header.at(e.name).at("dtype"), e.dtype);
      const auto offsets = raw.header.at(e.name).at("data_offsets");
      const size_t begin = offsets.at(0).get<size_t>(), end = offsets.at(1).get<size_t>();
      ASSERT_EQ(static_cast<size_t>(t.nbytes()), end - begin);
      EXPECT_EQ(std::memcmp(t.data_ptr(), raw.bytes.data() + raw.data_start + begin, end - begin), 0);
      if (t.scalar_type() == at::kFloat) {
        const int64_t n = t.numel();
        const float* values = t.data_ptr<float>();
        for (int64_t i : {int64_t{0}, int64_t{1}, n / 3, n / 2, n - 1})
          if (i < n) EXPECT_EQ(values[i], raw.f32(e.name, i)) << i;  // a [1] loss has one value
      }
      if (c10::isFloatingType(t.scalar_type())) EXPECT_TRUE(std::isfinite(t.sum().item<double>()));
    }
    cases.add();
  }
}

TEST(GoldenSafetensors, BprIoFilesHoldFgProb64AsChannelOneOfProb) {
  // The manifest's own relation between two of the tensors of a BPR case: fg_prob64 is channel 1 of prob.
  testing::CaseCount cases("models/*_io.safetensors files with prob and fg_prob64");
  for (const auto& file : testing::golden_files("models", "", "_io.safetensors")) {
    const Safetensors st = read_safetensors(file.path);
    if (!st.tensors.count("prob") || !st.tensors.count("fg_prob64")) continue;
    EXPECT_TRUE(at::allclose(st.tensors.at("fg_prob64"), st.tensors.at("prob").select(1, 1), 0, 1e-6)) << file.stem;
    cases.add();
  }
}

TEST(GoldenSafetensors, ReadingAndRewritingGivesTheSameTensors) {
  // Same layout as the Python writer for the all-F32 io files: the bytes match exactly.
  testing::CaseCount cases("all-F32 models/*_io.safetensors files");
  for (const auto& file : testing::golden_files("models", "", "_io.safetensors")) {
    const Safetensors st = read_safetensors(file.path);
    TensorList list;
    bool all_f32 = true;
    for (const auto& name : st.names) {
      list.emplace_back(name, st.tensors.at(name));
      all_f32 = all_f32 && st.tensors.at(name).scalar_type() == at::kFloat;
    }
    if (!all_f32) continue;
    EXPECT_EQ(serialize_safetensors(list, st.metadata), read_file(file.path, "test")) << file.stem;
    cases.add();
  }
}

// Every <case>_weights_index.json: each weights file it names holds its keys in the reference order, with the tensor
// counts per dtype of the manifest row ("safetensors, 873 tensors (F32 x728, I64 x145), 15.9 MB").
TEST(GoldenSafetensors, ReadsTheWeightsInReferenceKeyOrder) {
  const auto dir = testing::golden_dir("models");
  const auto formats = testing::manifest_formats("models");
  testing::CaseCount cases("weights files named by models/*_weights_index.json");
  for (const auto& index_file : testing::golden_files("models", "", "_weights_index.json")) {
    const nlohmann::json index = testing::read_json(index_file.path);
    const auto keys = index.at("keys_in_order").get<std::vector<std::string>>();
    std::map<std::string, std::vector<std::string>> keys_of_file;  // in reference order
    for (const auto& key : keys) keys_of_file[index.at("weight_map").at(key).get<std::string>()].push_back(key);
    for (const auto& [file, file_keys] : keys_of_file) {
      SCOPED_TRACE(file);
      const Safetensors st = read_safetensors(dir / file);
      EXPECT_EQ(st.names, file_keys);
      const auto row = formats.find(file);
      ASSERT_NE(row, formats.end()) << "models/MANIFEST.md does not list " << file;
      std::smatch total;
      ASSERT_TRUE(std::regex_search(row->second, total, std::regex("([0-9]+) tensors \\(([^)]*)\\)"))) << row->second;
      EXPECT_EQ(st.tensors.size(), std::stoull(total[1].str()));
      std::map<std::string, size_t> per_dtype;
      const std::string counts = total[2].str();
      const std::regex count("([A-Z0-9]+) x([0-9]+)");
      for (auto it = std::sregex_iterator(counts.begin(), counts.end(), count); it != std::sregex_iterator(); ++it)
        per_dtype[(*it)[1].str()] = std::stoull((*it)[2].str());
      ASSERT_FALSE(per_dtype.empty()) << row->second;
      size_t f32 = 0, counters = 0;
      for (const auto& [name, t] : st.tensors) {
        f32 += t.scalar_type() == at::kFloat;
        // The fixture stores num_batches_tracked with shape [1], not as torch's 0-d tensor.
        counters += t.scalar_type() == at::kLong && t.sizes() == at::IntArrayRef{1} &&
                    name.find("num_batches_tracked") != std::string::npos;
      }
      EXPECT_EQ(f32, per_dtype["F32"]);
      EXPECT_EQ(counters, per_dtype["I64"]);  // every I64 entry is such a counter
      cases.add();
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Writer inputs.

TEST(SafetensorsWrite, NonContiguousAndNegatedViewsAreWrittenByValue) {
  const at::Tensor base = at::arange(24, at::kFloat).reshape({2, 3, 4});
  const at::Tensor transposed = base.transpose(0, 2);        // (4, 3, 2), strides permuted
  const at::Tensor strided = base.slice(2, 0, 4, 2);         // every other column
  const at::Tensor expanded = at::arange(3, at::kLong).expand({2, 3});  // stride 0
  const at::Tensor negated = at::_neg_view(base);            // lazily negated
  ASSERT_FALSE(transposed.is_contiguous());
  ASSERT_FALSE(strided.is_contiguous());
  ASSERT_FALSE(expanded.is_contiguous());
  const Safetensors back = parse_safetensors(
      serialize_safetensors({{"t", transposed}, {"s", strided}, {"e", expanded}, {"n", negated}}), "memory");
  EXPECT_TRUE(same_bits(back.tensors.at("t"), transposed.contiguous()));
  EXPECT_TRUE(same_bits(back.tensors.at("s"), strided.contiguous()));
  EXPECT_TRUE(same_bits(back.tensors.at("e"), expanded.contiguous()));
  EXPECT_TRUE(same_bits(back.tensors.at("n"), -base));
  EXPECT_EQ(back.tensors.at("t")[3][2][1].item<float>(), base[1][2][3].item<float>());
}

TEST(SafetensorsWrite, RejectsDuplicateEmptyAndReservedNames) {
  const at::Tensor x = at::zeros({2});
  BOUNDSEG_EXPECT_THROWS_WITH(serialize_safetensors({{"a", x}, {"b", x}, {"a", x}}),
                              "boundseg safetensors: the name of tensor #2 must be unique, but got a second tensor "
                              "named 'a'.");
  BOUNDSEG_EXPECT_THROWS_WITH(write_safetensors("/nonexistent/never.safetensors", {{"a", x}, {"a", x}}),
                              "must be unique");
  BOUNDSEG_EXPECT_THROWS_WITH(serialize_safetensors({{"", x}}), "the name of tensor #0 must be non-empty");
  BOUNDSEG_EXPECT_THROWS_WITH(serialize_safetensors({{"__metadata__", x}}), "must not be the reserved key");
  BOUNDSEG_EXPECT_THROWS_WITH(serialize_safetensors({{"bad\xff", x}}), "must be valid UTF-8");
  BOUNDSEG_EXPECT_THROWS_WITH(serialize_safetensors({{"a", x}}, {{"k", "v\xc3"}}),
                              "the __metadata__ value of 'k' must be valid UTF-8");
}

TEST(SafetensorsWrite, RejectsUnsupportedAndUndefinedTensors) {
  BOUNDSEG_EXPECT_THROWS_WITH(serialize_safetensors({{"c", at::zeros({2}, at::kComplexFloat)}}),
                              "the tensor 'c' must have dtype F64, F32, F16, BF16, I64, I32, I16, I8, U8 or BOOL, "
                              "but got ComplexFloat.");
  BOUNDSEG_EXPECT_THROWS_WITH(serialize_safetensors({{"u", at::Tensor()}}), "the tensor 'u' must be defined");
}

TEST(SafetensorsWrite, WritesAtomicallyAndReplacesOldFiles) {
  testing::TempDir dir;
  const auto path = dir.path() / "sub" / "w.safetensors";
  write_safetensors(path, {{"a", at::ones({3})}});
  write_safetensors(path, {{"b", at::zeros({1}, at::kByte)}});
  const Safetensors st = read_safetensors(path);
  EXPECT_EQ(st.names, std::vector<std::string>{"b"});
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path() / "sub")) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

// ---------------------------------------------------------------------------------------------------------------
// One failure per validation rule.

TEST(SafetensorsRead, MissingFilesAndDirectoriesAreRejected) {
  testing::TempDir dir;
  BOUNDSEG_EXPECT_THROWS_WITH(read_safetensors(dir.path() / "missing.safetensors"),
                              "boundseg safetensors: the file '" + (dir.path() / "missing.safetensors").string() +
                                  "' must exist and be readable, but got no such file.");
  BOUNDSEG_EXPECT_THROWS_WITH(read_safetensors(dir.path()), "must be a regular file");
}

TEST(SafetensorsRead, RejectsFilesShorterThanTheLengthField) {
  EXPECT_THROW(parse(""), boundseg::Error);
  BOUNDSEG_EXPECT_THROWS_WITH(parse("abc"), "boundseg safetensors: the file 'bad.safetensors' must be at least 8 "
                                            "bytes long (the header length field), but got a 3-byte file.");
  testing::TempDir dir;
  write_file_atomic(dir.path() / "short.safetensors", std::string(7, '\0'));
  BOUNDSEG_EXPECT_THROWS_WITH(read_safetensors(dir.path() / "short.safetensors"), "but got a 7-byte file");
}

TEST(SafetensorsRead, RejectsHeaderLengthsBeyondTheFileOrTooLarge) {
  std::string bytes = assemble("{}");
  bytes[0] = 100;
  BOUNDSEG_EXPECT_THROWS_WITH(parse(bytes), "the header length of 'bad.safetensors' must fit in the 2 bytes after the "
                                            "length field, but got 100 bytes.");
  bytes[7] = '\x80';  // 2^63 + 100: would overflow any unchecked 8 + N
  BOUNDSEG_EXPECT_THROWS_WITH(parse(bytes), "must be at most 100000000 bytes, but got 9223372036854775908 bytes.");
  testing::TempDir dir;
  write_file_atomic(dir.path() / "cut.safetensors", bytes);
  BOUNDSEG_EXPECT_THROWS_WITH(read_safetensors(dir.path() / "cut.safetensors"), "must be at most 100000000 bytes");
}

TEST(SafetensorsRead, RejectsInvalidJsonAndInvalidUtf8) {
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{\"a\":")),
                              "the header of 'bad.safetensors' must be valid UTF-8 JSON, but got invalid JSON (");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("")), "must be valid UTF-8 JSON");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{\"__metadata__\":{\"k\":\"\xff\"}}")), "must be valid UTF-8 JSON");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{\"__metadata__\":{\"k\":\"\\ud800\"}}")), "must be valid UTF-8 JSON");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{} x")), "must be valid UTF-8 JSON");
  // nlohmann alone would stop at the NUL and accept the header.
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble(std::string("{}\0garbage", 10))),
                              "must be valid UTF-8 JSON, but got a NUL byte at header byte 2.");
}

TEST(SafetensorsRead, DeeplyNestedHeadersFailWithoutExhaustingTheStack) {
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble(deep)), "the header of 'bad.safetensors' must nest JSON values at "
                                                     "most 8 levels deep, but got deeper nesting.");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{" + entry("a", "U8", deep, 0, 0) + "}")),
                              "the tensor 'a' in 'bad.safetensors' must nest JSON values at most 8 levels deep");
  // Legitimate but unusual nesting below the limit is judged by the entry rules.
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{" + entry("a", "U8", "[[[[1]]]]", 0, 1) + "}", "x")),
                              "must have non-negative integers in 'shape', but got a JSON array [[[1]]].");
}

TEST(SafetensorsRead, ErrorMessagesClipValuesFromTheFile) {
  const std::string long_name(1000, 'n');
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{" + entry(long_name, "U8", "[2]", 0, 1) + "}", "x")),
                              "the tensor '" + std::string(80, 'n') + "...' in 'bad.safetensors' must span");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{" + entry("a", std::string(1000, 'D'), "[1]", 0, 1) + "}", "x")),
                              "but got a JSON string \"" + std::string(79, 'D') + "....");
}

TEST(SafetensorsRead, RejectsNonObjectHeaders) {
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("[1,2]")),
                              "the header of 'bad.safetensors' must be a JSON object, but got a JSON array [1,2].");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("\"x\"")), "must be a JSON object, but got a JSON string");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("  {}")), "must start with '{', but got a header starting with byte 32");
  // Trailing spaces are the standard padding.
  EXPECT_NO_THROW(parse(assemble("{}       ")));
}

TEST(SafetensorsRead, RejectsDuplicateJsonKeys) {
  const std::string a = entry("a", "U8", "[1]", 0, 1);
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{" + a + "," + a + "}", "x")),
                              "the header of 'bad.safetensors' must have unique JSON keys, but got the key 'a' twice.");
  BOUNDSEG_EXPECT_THROWS_WITH(
      parse(assemble("{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", "x")),
      "the tensor 'a' in 'bad.safetensors' must have unique JSON keys, but got the key 'dtype' twice.");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}")),
                              "the __metadata__ of 'bad.safetensors' must have unique JSON keys");
}

TEST(SafetensorsRead, RejectsEntriesWithMissingExtraOrMistypedFields) {
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{\"a\":[]}")),
                              "the tensor 'a' in 'bad.safetensors' must be a JSON object {dtype, shape, data_offsets}");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{\"a\":{\"dtype\":\"U8\",\"shape\":[0]}}")),
                              "must have the field 'data_offsets', but got a JSON object "
                              "{\"dtype\":\"U8\",\"shape\":[0]}.");
  BOUNDSEG_EXPECT_THROWS_WITH(
      parse(assemble("{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0],\"extra\":1}}")),
      "must have exactly the fields dtype, shape, data_offsets, but got an extra field 'extra'.");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{\"a\":{\"dtype\":7,\"shape\":[0],\"data_offsets\":[0,0]}}")),
                              "must have a string 'dtype', but got a JSON number 7.");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{" + entry("", "U8", "[0]", 0, 0) + "}")),
                              "the tensor names in 'bad.safetensors' must be non-empty");
}

TEST(SafetensorsRead, RejectsUnknownDtypes) {
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{" + entry("a", "U16", "[1]", 0, 2) + "}", "xx")),
                              "the tensor 'a' in 'bad.safetensors' must have dtype F64, F32, F16, BF16, I64, I32, "
                              "I16, I8, U8 or BOOL, but got a JSON string \"U16\".");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{" + entry("a", "f32", "[1]", 0, 4) + "}", "xxxx")),
                              "but got a JSON string \"f32\"");
}

TEST(SafetensorsRead, RejectsWrongShapeTypes) {
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{" + entry("a", "U8", "\"2\"", 0, 2) + "}", "xx")),
                              "the tensor 'a' in 'bad.safetensors' must have a 'shape' array of non-negative "
                              "integers, but got a JSON string \"2\".");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{" + entry("a", "U8", "[-1]", 0, 0) + "}")),
                              "must have non-negative integers in 'shape', but got a JSON number -1.");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{" + entry("a", "U8", "[2.0]", 0, 2) + "}", "xx")),
                              "must have non-negative integers in 'shape', but got a JSON number 2.0.");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{" + entry("a", "U8", "[[2]]", 0, 2) + "}", "xx")),
                              "must have non-negative integers in 'shape', but got a JSON array [2].");
}

TEST(SafetensorsRead, RejectsOffsetsOutOfRange) {
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{" + entry("a", "F32", "[4]", 0, 16) + "}", "12345678")),
                              "the tensor 'a' in 'bad.safetensors' must have data_offsets inside the 8-byte data "
                              "buffer, but got [0, 16).");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{" + entry("a", "U8", "[0]", 5, 4) + "}", "12345678")),
                              "must have data_offsets with begin <= end, but got [5, 4).");
  BOUNDSEG_EXPECT_THROWS_WITH(
      parse(assemble("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", "x")),
      "must have 'data_offsets' [begin, end], but got a JSON array [0].");
  BOUNDSEG_EXPECT_THROWS_WITH(
      parse(assemble("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,-1]}}", "x")),
      "must have non-negative integers in 'data_offsets', but got a JSON number -1.");
  BOUNDSEG_EXPECT_THROWS_WITH(
      parse(assemble("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,18446744073709551616]}}", "x")),
      "must have non-negative integers in 'data_offsets'");
}

TEST(SafetensorsRead, RejectsSizeMismatches) {
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{" + entry("a", "F32", "[3]", 0, 8) + "}", "12345678")),
                              "the tensor 'a' in 'bad.safetensors' must span numel x element size = 12 bytes (F32 "
                              "[3]), but got 8 bytes [0, 8).");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{" + entry("a", "F64", "[]", 0, 4) + "}", "1234")),
                              "must span numel x element size = 8 bytes (F64 []), but got 4 bytes [0, 4).");
  // 2^62 elements of 8 bytes: numel fits, the byte count overflows.
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{" + entry("a", "I64", "[4611686018427387904]", 0, 0) + "}")),
                              "must have a byte size (numel x element size) that fits in 64 bits, but got I64 "
                              "[4611686018427387904].");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{" + entry("a", "U8", "[4294967296,4294967296]", 0, 0) + "}")),
                              "must have a shape whose element count fits in int64");
  // A zero-size tensor whose other dims would overflow torch's strides.
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{" + entry("a", "U8", "[0,4294967296,4294967296]", 0, 0) + "}")),
                              "must have a shape whose element count fits in int64");
}

TEST(SafetensorsRead, RejectsOverlappingRanges) {
  const std::string header = "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}";
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble(header, std::string(12, '\0'))),
                              "the tensor 'b' in 'bad.safetensors' must not overlap other tensors, but got [4, 12), "
                              "overlapping tensor 'a' [0, 8).");
  // A zero-size tensor inside another's range also breaks the tiling.
  const std::string inside = "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("z", "F32", "[0]", 4, 4) + "}";
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble(inside, std::string(8, '\0'))),
                              "the tensor 'z' in 'bad.safetensors' must not overlap other tensors, but got [4, 4), "
                              "overlapping tensor 'a' [0, 8).");
}

TEST(SafetensorsRead, RejectsHolesBetweenRanges) {
  const std::string header = "{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 8, 12) + "}";
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble(header, std::string(12, '\0'))),
                              "the tensor 'b' in 'bad.safetensors' must start at byte 4, where tensor 'a' ends (no "
                              "holes in the data buffer), but got [8, 12).");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{" + entry("a", "U8", "[1]", 1, 2) + "}", "xx")),
                              "the tensor 'a' in 'bad.safetensors' must start at byte 0 (no holes in the data "
                              "buffer), but got [1, 2).");
}

TEST(SafetensorsRead, RejectsTrailingBytes) {
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{" + entry("a", "F32", "[1]", 0, 4) + "}", "123456")),
                              "the file 'bad.safetensors' must end with the last tensor's data at byte 4 of the data "
                              "buffer, but got 2 trailing bytes.");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{}", "x")), "at byte 0 of the data buffer, but got 1 trailing bytes.");
}

TEST(SafetensorsRead, RejectsMetadataThatIsNotStringToString) {
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{\"__metadata__\":{\"n\":1}}")),
                              "the __metadata__ of 'bad.safetensors' must map keys to strings only, but got a JSON "
                              "number 1 for 'n'.");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{\"__metadata__\":{\"n\":{\"x\":\"y\"}}}")),
                              "but got a JSON object {\"x\":\"y\"} for 'n'.");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{\"__metadata__\":[\"a\"]}")),
                              "the __metadata__ of 'bad.safetensors' must be a JSON object of strings, but got a JSON "
                              "array [\"a\"].");
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{\"__metadata__\":null}")), "but got a JSON null.");
}

TEST(SafetensorsRead, RejectsBoolBytesOtherThanZeroAndOne) {
  BOUNDSEG_EXPECT_THROWS_WITH(parse(assemble("{" + entry("m", "BOOL", "[3]", 0, 3) + "}", std::string("\1\0\2", 3))),
                              "the tensor 'm' in 'bad.safetensors' must hold only the bytes 0 and 1 (BOOL), but got "
                              "byte 2 at element 2.");
}

TEST(SafetensorsRead, TruncatedFilesOnDiskAreRejected) {
  testing::TempDir dir;
  const std::string good = serialize_safetensors({{"a", at::ones({4})}, {"b", at::ones({4}, at::kDouble)}});
  write_file_atomic(dir.path() / "cut.safetensors", good.substr(0, good.size() - 3));
  BOUNDSEG_EXPECT_THROWS_WITH(read_safetensors(dir.path() / "cut.safetensors"),
                              "the tensor 'b' in '" + (dir.path() / "cut.safetensors").string() +
                                  "' must have data_offsets inside the 45-byte data buffer, but got [16, 48).");
}

TEST(SafetensorsRead, AcceptsZeroSizeTensorsSharingOffsetsInHeaderOrder) {
  const std::string header = "{" + entry("z2", "F32", "[0]", 4, 4) + "," + entry("b", "U8", "[4]", 4, 8) + "," +
                             entry("z1", "I64", "[2,0]", 4, 4) + "," + entry("a", "F32", "[]", 0, 4) + "}";
  const Safetensors st = parse(assemble(header, std::string(8, '\0')));
  EXPECT_EQ(st.names, (std::vector<std::string>{"a", "z2", "z1", "b"}));
  EXPECT_EQ(st.tensors.at("z1").sizes().vec(), (std::vector<int64_t>{2, 0}));
}

}  // namespace
}  // namespace boundseg::io
