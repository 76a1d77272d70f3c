// Label PNG decoding with libpng (palette kept as indices) and atomic writing.
#include "boundseg/io/png.h"

#include <png.h>

#include <csetjmp>
#include <cstring>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "boundseg/core/error.h"
#include "boundseg/io/atomic_file.h"

namespace boundseg::io {
namespace {

struct MemoryReader {
  const unsigned char* data;
  size_t size;
  size_t offset;
};

void read_from_memory(png_structp png, png_bytep out, png_size_t n) {
  auto* reader = static_cast<MemoryReader*>(png_get_io_ptr(png));
  if (reader->offset + n > reader->size) png_error(png, "unexpected end of file (truncated)");
  std::memcpy(out, reader->data + reader->offset, n);
  reader->offset += n;
}

struct ErrorSink {
  std::jmp_buf jump;
  char message[256] = {0};
};

void on_png_error(png_structp png, png_const_charp msg) {
  auto* sink = static_cast<ErrorSink*>(png_get_error_ptr(png));
  std::snprintf(sink->message, sizeof(sink->message), "%s", msg);
  std::longjmp(sink->jump, 1);
}

void on_png_warning(png_structp, png_const_charp) {}

const char* color_type_name(int color_type) {
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: return "greyscale";
    case PNG_COLOR_TYPE_PALETTE: return "palette";
    case PNG_COLOR_TYPE_RGB: return "RGB colour";
    case PNG_COLOR_TYPE_RGB_ALPHA: return "RGBA colour";
    case PNG_COLOR_TYPE_GRAY_ALPHA: return "greyscale+alpha";
    default: return "unknown";
  }
}

// The decoding state lives outside the setjmp frame so longjmp never skips a
// C++ destructor that matters (only trivially destructible locals in between).
struct Decoder {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~Decoder() { png_destroy_read_struct(&png, info ? &info : nullptr, nullptr); }
};

}  // namespace

cv::Mat read_label_png(const std::filesystem::path& path) {
  const std::string bytes = read_file(path, "label png");
  const std::string file = "the label file '" + path.string() + "'";
  if (bytes.size() < 8 || png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0, 8) != 0) {
    fail("label png", file, "be a PNG image", bytes.empty() ? "an empty file" : "a file without the PNG signature");
  }
  ErrorSink sink;
  Decoder dec;
  MemoryReader reader{reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), 0};
  dec.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &sink, on_png_error, on_png_warning);
  if (!dec.png) fail("label png", file, "be decodable", "a libpng initialisation failure");
  dec.info = png_create_info_struct(dec.png);
  cv::Mat out;
  std::vector<png_bytep> rows;
  int color_type = 0;
  if (setjmp(sink.jump)) {
    // Reached through longjmp from libpng: format the message after the jump.
    goto decode_error;
  }
  png_set_read_fn(dec.png, &reader, read_from_memory);
#ifdef PNG_IGNORE_ADLER32
  // Every IDAT chunk already carries a CRC-32 that libpng checks; zlib's
  // second checksum over the same bytes costs ~10% of decoding.
  png_set_option(dec.png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
  png_read_info(dec.png, dec.info);
  {
    color_type = png_get_color_type(dec.png, dec.info);
    const int bit_depth = png_get_bit_depth(dec.png, dec.info);
    if (color_type != PNG_COLOR_TYPE_GRAY && color_type != PNG_COLOR_TYPE_PALETTE) {
      goto wrong_color;
    }
    const png_uint_32 width = png_get_image_width(dec.png, dec.info);
    const png_uint_32 height = png_get_image_height(dec.png, dec.info);
    if (bit_depth < 8) png_set_packing(dec.png);  // 1/2/4-bit values stay unscaled
    if (bit_depth == 16) png_set_swap(dec.png);   // host is little endian
    png_set_interlace_handling(dec.png);
    png_read_update_info(dec.png, dec.info);
    out.create(static_cast<int>(height), static_cast<int>(width), bit_depth == 16 ? CV_16UC1 : CV_8UC1);
    rows.resize(height);
    for (png_uint_32 y = 0; y < height; ++y) rows[y] = out.ptr<png_byte>(static_cast<int>(y));
    png_read_image(dec.png, rows.data());
    png_read_end(dec.png, nullptr);
  }
  return out;

wrong_color:
  fail("label png", file,
       "be a single-channel label map (greyscale or palette indices)",
       std::string("a ") + color_type_name(color_type) + " image; labels must be ids, not colours");
decode_error:
  fail("label png", file, "be a complete, valid PNG",
       std::string("a truncated or corrupt file (libpng: ") + sink.message + ")");
}

std::string describe_image(const cv::Mat& m) {
  if (m.empty()) return "an empty image";
  static const char* const kDepths[] = {"8-bit", "signed 8-bit", "16-bit", "signed 16-bit",
                                        "32-bit integer", "32-bit float", "64-bit float", "16-bit float"};
  return std::string("a ") + kDepths[m.depth()] + " " + std::to_string(m.channels()) + "-channel " +
         std::to_string(m.cols) + "x" + std::to_string(m.rows) + " image";
}

cv::Mat read_color_image(const std::filesystem::path& path) {
  const std::string bytes = read_file(path, "image");
  cv::Mat image = cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8UC1,
                                       const_cast<char*>(bytes.data())),
                               cv::IMREAD_COLOR);
  if (image.empty()) {
    fail("image", "the file '" + path.string() + "'", "be a decodable image", "an unreadable file");
  }
  return image;
}

void write_png(const std::filesystem::path& path, const cv::Mat& image) {
  require(image.depth() == CV_8U || image.depth() == CV_16U, "png", "the image for '" + path.string() + "'",
          "be 8- or 16-bit", [&] { return "OpenCV depth " + std::to_string(image.depth()); });
  std::vector<unsigned char> encoded;
  if (!cv::imencode(".png", image, encoded, {cv::IMWRITE_PNG_COMPRESSION, 1})) {
    fail("png", "the image for '" + path.string() + "'", "be encodable as PNG", "an encoder failure");
  }
  write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(encoded.data()), encoded.size()));
}

}  // namespace boundseg::io
