// Option sites: how an option is named in an error message.
#include "boundseg/core/options.h"

#include <algorithm>
#include <sstream>

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

void TextKeys::operator()(const char* key, int64_t& field) {
  if (const std::string* v = find(key)) {
    size_t end = 0;
    try {
      field = std::stoll(*v, &end);
    } catch (const std::exception&) {
      end = 0;
    }
    require(end == v->size() && end > 0, what_, "option '" + std::string(key) + "'", "be an integer",
            [&] { return "'" + *v + "'"; });
  }
}

void TextKeys::operator()(const char* key, double& field) {
  if (const std::string* v = find(key)) {
    size_t end = 0;
    try {
      field = std::stod(*v, &end);
    } catch (const std::exception&) {
      end = 0;
    }
    require(end == v->size() && end > 0, what_, "option '" + std::string(key) + "'", "be a number",
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
    size_t end = 0;
    double x = 0;
    try {
      x = std::stod(item, &end);
    } catch (const std::exception&) {
      end = 0;
    }
    require(end == item.size() && end > 0, what_, "option '" + std::string(key) + "'",
            "be a comma-separated list of numbers", [&] { return "'" + *v + "'"; });
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
  std::ostringstream s;
  s.precision(17);
  s << value;
  // Prefer the shortest text that reads back to the same double.
  for (int digits = 1; digits <= 17; ++digits) {
    std::ostringstream t;
    t.precision(digits);
    t << value;
    if (std::stod(t.str()) == value) return t.str();
  }
  return s.str();
}

}  // namespace boundseg
