// Entry checks for tensors, in the house message form (core/error.h): one error type for the whole library.
#pragma once

#include <ATen/core/Tensor.h>

#include <initializer_list>
#include <string>

namespace boundseg {

/// "4-D Float tensor [1, 3, 8, 8]".
std::string describe(const at::Tensor& t);

/// "a 4-D Float tensor [1, 3, 8, 8]" or "an undefined tensor": the `actual` part of an error message.
std::string describe_or_undefined(const at::Tensor& t);

/// Requires a defined CPU (H, W) or (N, H, W) tensor of one of `types`; errors read
/// "boundseg <where>: '<arg>' must be <types_text>, but got a 2-D Float tensor [4, 4]."
void check_image_tensor(const at::Tensor& t, const char* where, const char* arg,
                        std::initializer_list<at::ScalarType> types, const char* types_text);

/// Requires a CPU tensor: boundseg's kernels are CPU kernels.
void check_cpu(const at::Tensor& t, const char* where, const char* arg);

}  // namespace boundseg
