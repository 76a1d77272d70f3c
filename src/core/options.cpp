// Option sites: how an option is named in an error message.
#include "boundseg/core/options.h"

#include <algorithm>
#include <charconv>
#include <sstream>
#include <type_traits>

namespace boundseg {

OptionSite OptionSite::nested(std::string_view key) const {
  if (style_ == Style::kFlag) return *this;  // flags are flat
  return OptionSite(what_, prefix_ + std::string(key) + ".", style_);
}

std::string OptionSite::name(std::string_view key) const {
  switch (style_) {
    case Style::kKeyPath:
      return prefix_ + std::string(key);
    case Style::kFlag: {
      for (const auto& [field, flag] : renamed_) {
        if (field == key) return flag;
      }
      std::string flag = "--" + std::string(key);
      for (char& c : flag) {
        if (c == '_') c = '-';
      }
      return flag;
    }
    case Style::kOption:
      break;
  }
  return "option '" + prefix_ + std::string(key) + "'";
}

const std::string* TextKeys::find(const char* key) {
  used_.emplace_back(key);
  for (const auto& [k, v] : values_) {
    if (k == key) return &v;
  }
  return nullptr;
}

void TextKeys::operator()(const char* key, bool& field) {
  if (const std::string* v = find(key)) {
    require(*v == "true" || *v == "false", what_, "option '" + std::string(key) + "'", "be true or false",
            [&] { return "'" + *v + "'"; });
    field = *v == "true";
  }
}

namespace {

// The whole of `text` as a T (std::stoll / std::stod); false when it is not one.
template <typename T>
bool parse_number(const std::string& text, T* out) {
  size_t end = 0;
  try {
    if constexpr (std::is_integral_v<T>) {
      *out = std::stoll(text, &end);
    } else {
      *out = std::stod(text, &end);
    }
  } catch (const std::exception&) {
    return false;
  }
  return end == text.size() && end > 0;
}

}  // namespace

void TextKeys::operator()(const char* key, int64_t& field) {
  if (const std::string* v = find(key)) {
    require(parse_number(*v, &field), what_, "option '" + std::string(key) + "'", "be an integer",
            [&] { return "'" + *v + "'"; });
  }
}

void TextKeys::operator()(const char* key, double& field) {
  if (const std::string* v = find(key)) {
    require(parse_number(*v, &field), what_, "option '" + std::string(key) + "'", "be a number",
            [&] { return "'" + *v + "'"; });
  }
}

void TextKeys::operator()(const char* key, std::string& field) {
  if (const std::string* v = find(key)) field = *v;
}

void TextKeys::operator()(const char* key, std::vector<double>& field,
                         const std::vector<std::pair<std::string, std::vector<double>>>& presets) {
  const std::string* v = find(key);
  if (!v) return;
  for (const auto& [name, values] : presets) {
    if (name == *v) {
      field = values;
      return;
    }
  }
  std::vector<double> parsed;
  std::stringstream in(*v);
  for (std::string item; std::getline(in, item, ',');) {
    double x = 0;
    require(parse_number(item, &x), what_, "option '" + std::string(key) + "'", "be a comma-separated list of numbers",
            [&] { return "'" + *v + "'"; });
    parsed.push_back(x);
  }
  field = std::move(parsed);
}

void TextKeys::choice(const char* key, std::string& field, const std::vector<std::string>& allowed) {
  const std::string* v = find(key);
  if (!v) return;
  std::string names;
  for (const std::string& a : allowed) names += (names.empty() ? "" : ", ") + a;
  require(std::find(allowed.begin(), allowed.end(), *v) != allowed.end(), what_, "option '" + std::string(key) + "'",
          "be one of " + names, [&] { return "'" + *v + "'"; });
  field = *v;
}

void TextKeys::finish() const {
  for (const auto& [k, v] : values_) {
    require(std::find(used_.begin(), used_.end(), k) != used_.end(), what_, "option '" + k + "'",
            "be one of its options", [] { return "an unknown key"; });
  }
}

std::string number_text(double value) {
  char text[64];
  const auto [end, ec] = std::to_chars(text, text + sizeof(text), value);  // shortest text that reads back
  return ec == std::errc() ? std::string(text, end) : std::to_string(value);
}

}  // namespace boundseg
