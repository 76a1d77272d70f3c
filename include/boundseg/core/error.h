// Errors raised by boundseg for bad input: one exception type, one message form.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace boundseg {

/// User-facing error. The message reads
/// "boundseg <what>: <argument> must <requirement>, but got <actual>."
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Builds the house message form (see STYLE.md §2.5).
std::string error_message(std::string_view what, std::string_view argument,
                          std::string_view requirement,
                          std::string_view actual);

/// Throws boundseg::Error with error_message(...).
[[noreturn]] void fail(std::string_view what, std::string_view argument,
                       std::string_view requirement, std::string_view actual);

/// Throws unless `condition` holds; `actual` is only formatted on failure.
template <typename ActualFn>
inline void require(bool condition, std::string_view what,
                    std::string_view argument, std::string_view requirement,
                    ActualFn&& actual) {
  if (!condition) fail(what, argument, requirement, actual());
}

}  // namespace boundseg
