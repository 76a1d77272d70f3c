// Tensor entry checks.
#include "boundseg/core/check.h"

#include <c10/core/Device.h>

#include <sstream>

#include "boundseg/core/error.h"

namespace boundseg {

std::string describe(const at::Tensor& t) {
  std::string s = std::to_string(t.dim()) + "-D " + std::string(c10::toString(t.scalar_type())) + " tensor [";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

std::string describe_or_undefined(const at::Tensor& t) {
  return t.defined() ? "a " + describe(t) : std::string("an undefined tensor");
}

void check_cpu(const at::Tensor& t, const char* where, const char* arg) {
  require(t.device().is_cpu(), where, std::string("'") + arg + "'",
          "be a CPU tensor (boundseg was built without CUDA kernels for this op)", [&] {
            std::ostringstream s;
            s << "one on " << t.device();
            return s.str();
          });
}

void check_image_tensor(const at::Tensor& t, const char* where, const char* arg,
                        std::initializer_list<at::ScalarType> types, const char* types_text) {
  const std::string name = std::string("'") + arg + "'";
  require(t.defined(), where, name, "be a defined tensor", [] { return "an undefined one"; });
  require(t.dim() == 2 || t.dim() == 3, where, name, "be a 2-D (H, W) or 3-D (N, H, W) tensor",
          [&] { return "a " + describe(t); });
  bool ok = false;
  for (auto type : types) ok = ok || t.scalar_type() == type;
  require(ok, where, name, std::string("be ") + types_text, [&] { return "a " + describe(t); });
  check_cpu(t, where, arg);
}

}  // namespace boundseg
