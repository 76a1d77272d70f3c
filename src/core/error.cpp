// Error message formatting.
#include "boundseg/core/error.h"

namespace boundseg {

std::string error_message(std::string_view what, std::string_view argument,
                          std::string_view requirement,
                          std::string_view actual) {
  std::string m = "boundseg ";
  m.append(what).append(": ").append(argument).append(" must ");
  m.append(requirement).append(", but got ").append(actual).append(".");
  return m;
}

void fail(std::string_view what, std::string_view argument,
          std::string_view requirement, std::string_view actual) {
  throw Error(error_message(what, argument, requirement, actual));
}

}  // namespace boundseg
