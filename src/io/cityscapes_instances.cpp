// Cityscapes instance result files: the exact readPredInfo grammar, and the writer.
#include "boundseg/io/cityscapes_instances.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <system_error>
#include <unordered_map>

#include "boundseg/core/error.h"
#include "boundseg/io/atomic_file.h"

namespace boundseg::io {
namespace fs = std::filesystem;

// Quotes a line for error messages; control characters become escapes so a
// stray tab or CR is visible.
std::string quote_text(std::string_view s) {
  constexpr size_t kMaxShown = 160;
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      static const char* const kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMaxShown) out += "...";
  return out + "'";
}

// Python float(token): surrounding whitespace, an optional sign, decimal or
// exponent forms, inf/infinity/nan in any case. (Python's digit separators
// '_' are not accepted; no writer in the references emits them.)
bool parse_python_float(std::string_view s, double* out) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  const size_t first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return false;
  s = s.substr(first, s.find_last_not_of(kSpace) - first + 1);
  bool negative = false;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || s[0] == '+' || s[0] == '-') return false;
  double value = 0.0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value, std::chars_format::general);
  if (end != s.data() + s.size()) return false;
  if (ec == std::errc::result_out_of_range) {
    // Python gives inf / 0 on overflow / underflow, as strtod does.
    value = std::strtod(std::string(s).c_str(), nullptr);
  } else if (ec != std::errc()) {
    return false;
  }
  *out = negative ? -value : value;
  return true;
}

namespace {

constexpr const char* kTxtWhat = "instance prediction txt";

// True when `path` lies inside `dir` (both made absolute and normalised).
bool inside(const fs::path& path, const fs::path& dir) {
  const fs::path rel = path.lexically_relative(fs::absolute(dir).lexically_normal());
  return !rel.empty() && *rel.begin() != "..";
}

// Splits like Python's universal-newline text mode: "\n", "\r\n" and "\r" end a
// line; a final terminator does not start another line.
std::vector<std::string_view> split_lines(std::string_view bytes) {
  std::vector<std::string_view> lines;
  size_t i = 0;
  while (i < bytes.size()) {
    size_t j = i;
    while (j < bytes.size() && bytes[j] != '\n' && bytes[j] != '\r') ++j;
    lines.push_back(bytes.substr(i, j - i));
    if (j < bytes.size()) j += (bytes[j] == '\r' && j + 1 < bytes.size() && bytes[j + 1] == '\n') ? 2 : 1;
    i = j;
  }
  return lines;
}

InstanceResultLine parse_line(std::string_view line, int number, const fs::path& txt, bool masks_inside) {
  const std::string where = "line " + std::to_string(number) + " of '" + txt.string() + "'";
  // readPredInfo splits on single spaces only: tabs, double spaces, trailing
  // spaces and blank lines all change the token count and are fatal.
  std::vector<std::string_view> tokens;
  size_t start = 0;
  while (true) {
    const size_t space = line.find(' ', start);
    tokens.push_back(line.substr(start, space == std::string_view::npos ? std::string_view::npos : space - start));
    if (space == std::string_view::npos) break;
    start = space + 1;
  }
  if (tokens.size() != 3) {
    fail(kTxtWhat, where, "be '<mask png> <labelId> <confidence>' separated by single spaces (formats.md §4)",
         line.empty() ? std::string("an empty line")
                      : std::to_string(tokens.size()) + " token(s) in " + quote_text(line));
  }
  InstanceResultLine parsed;
  parsed.line_number = number;
  const fs::path relative{std::string(tokens[0])};
  if (tokens[0].empty()) fail(kTxtWhat, "the mask path on " + where, "be a relative path", "an empty path");
  if (relative.is_absolute()) {
    fail(kTxtWhat, "the mask path on " + where, "be relative to the txt's directory",
         "the absolute path " + quote_text(tokens[0]));
  }
  // Upstream keys predictions by os.path.abspath(join(dirname(txt), rel)).
  parsed.mask_path = fs::absolute(txt.parent_path() / relative).lexically_normal();
  if (masks_inside && !inside(parsed.mask_path, txt.parent_path())) {
    fail(kTxtWhat, "the mask path on " + where, "lie inside the txt's folder", quote_text(tokens[0]));
  }

  double label = 0.0;
  if (!parse_python_float(tokens[1], &label) || !std::isfinite(label)) {
    fail(kTxtWhat, "the labelId on " + where, "be a finite number (read as int(float(token)))", quote_text(tokens[1]));
  }
  parsed.label_token = std::string(tokens[1]);
  const double truncated = std::trunc(label);
  // Anything this far out of range is unknown; keep the int conversion defined.
  parsed.label_id = std::fabs(truncated) < 1e9 ? static_cast<int64_t>(truncated) : kLabelOutOfRange;
  if (!parse_python_float(tokens[2], &parsed.confidence) || std::isnan(parsed.confidence)) {
    // NaN is accepted upstream but leaves the score sort undefined; reject it.
    fail(kTxtWhat, "the confidence on " + where, "be a number other than NaN", quote_text(tokens[2]));
  }
  return parsed;
}

}  // namespace

std::vector<InstanceResultLine> read_cityscapes_instance_txt(const fs::path& txt, bool masks_inside) {
  const std::string bytes = read_file(txt, kTxtWhat);
  // Every line must parse (syntax errors are fatal before anything else); duplicates keep the first position and
  // the last values.
  std::vector<InstanceResultLine> entries;
  std::unordered_map<std::string, size_t> position;
  int number = 0;
  for (const std::string_view line : split_lines(bytes)) {
    InstanceResultLine parsed = parse_line(line, ++number, txt, masks_inside);
    const auto [it, inserted] = position.emplace(parsed.mask_path.string(), entries.size());
    if (inserted) {
      entries.push_back(std::move(parsed));
    } else {
      entries[it->second] = std::move(parsed);
    }
  }
  return entries;
}

void write_cityscapes_instance_txt(const fs::path& txt, const std::vector<InstanceResultLine>& lines) {
  std::string text;
  for (const InstanceResultLine& line : lines) {
    const fs::path mask = fs::absolute(line.mask_path).lexically_normal();
    require(inside(mask, txt.parent_path()), "write instance txt", "the mask '" + mask.string() + "'",
            "lie inside the folder of '" + txt.string() + "'", [] { return "a path outside it"; });
    const std::string relative = mask.lexically_relative(fs::absolute(txt.parent_path()).lexically_normal()).string();
    require(relative.find(' ') == std::string::npos, "write instance txt", "the mask path '" + relative + "'",
            "contain no space (the format separates fields by spaces)", [] { return "a space"; });
    char number[64];
    std::snprintf(number, sizeof(number), "%.17g", line.confidence);
    text += relative + " " + std::to_string(line.label_id) + " " + number + "\n";
  }
  write_file_atomic(txt, text);
}

}  // namespace boundseg::io
