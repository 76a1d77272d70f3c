// TFRecord + hand-encoded Event/Summary protobuf messages (field numbers from tensorflow/core/util/event.proto and
// framework/summary.proto).
#include "boundseg/io/tensorboard.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>

#include <opencv2/imgcodecs.hpp>

#include "boundseg/core/error.h"

namespace boundseg::io {
namespace {

const std::array<uint32_t, 256>& crc_table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // reversed Castagnoli polynomial
      t[i] = c;
    }
    return t;
  }();
  return table;
}

uint32_t masked(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

// Protobuf wire format: key = field << 3 | wire type; 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32.
void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char(v | 0x80));
    v >>= 7;
  }
  out.push_back(char(v));
}
void key(std::string& out, int field, int wire) { varint(out, uint64_t(field) << 3 | uint64_t(wire)); }
void bytes_field(std::string& out, int field, std::string_view bytes) {
  key(out, field, 2);
  varint(out, bytes.size());
  out.append(bytes);
}
template <typename T>
void fixed_field(std::string& out, int field, T value) {
  key(out, field, sizeof(T) == 8 ? 1 : 5);
  char raw[sizeof(T)];
  std::memcpy(raw, &value, sizeof(T));  // little-endian hosts only (x86-64, aarch64)
  out.append(raw, sizeof(T));
}

std::string event_header(int64_t step) {
  std::string e;
  fixed_field(e, 1, double(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()));
  key(e, 2, 0);
  varint(e, uint64_t(step));
  return e;
}

std::string summary_event(int64_t step, const std::string& value) {
  std::string summary;
  bytes_field(summary, 1, value);
  std::string e = event_header(step);
  bytes_field(e, 5, summary);
  return e;
}

}  // namespace

uint32_t crc32c(std::string_view bytes) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) c = crc_table()[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

TensorBoardWriter::TensorBoardWriter(const std::filesystem::path& dir, const std::string& tag) {
  std::filesystem::create_directories(dir);
  char host[256] = "localhost";
  ::gethostname(host, sizeof(host) - 1);
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  path_ = dir / ("events.out.tfevents." + std::to_string(now) + "." + host + "." + tag);
  out_.open(path_, std::ios::binary | std::ios::app);
  require(bool(out_), "tensorboard", "the event file", "be writable", [&] { return "'" + path_.string() + "'"; });
  std::string e = event_header(0);
  bytes_field(e, 3, "brain.Event:2");
  write_event(e);
}

void TensorBoardWriter::write_event(const std::string& event) {
  std::string header(8, '\0');
  const uint64_t length = event.size();
  std::memcpy(header.data(), &length, 8);
  const uint32_t header_crc = masked(crc32c(header)), data_crc = masked(crc32c(event));
  out_.write(header.data(), 8);
  out_.write(reinterpret_cast<const char*>(&header_crc), 4);
  out_.write(event.data(), std::streamsize(event.size()));
  out_.write(reinterpret_cast<const char*>(&data_crc), 4);
}

void TensorBoardWriter::add_scalar(const std::string& name, double value, int64_t step) {
  std::string v;
  bytes_field(v, 1, name);
  fixed_field(v, 2, float(value));
  write_event(summary_event(step, v));
}

void TensorBoardWriter::add_image(const std::string& name, const cv::Mat& image, int64_t step) {
  std::vector<uint8_t> png;
  cv::imencode(".png", image, png);
  std::string img;
  key(img, 1, 0);
  varint(img, uint64_t(image.rows));
  key(img, 2, 0);
  varint(img, uint64_t(image.cols));
  key(img, 3, 0);
  varint(img, image.channels() == 3 ? 3 : 1);
  bytes_field(img, 4, std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
  std::string v;
  bytes_field(v, 1, name);
  bytes_field(v, 4, img);
  write_event(summary_event(step, v));
}

void TensorBoardWriter::flush() { out_.flush(); }

}  // namespace boundseg::io
