// TorchScript export of boundseg networks: a module that Python or C++ can serve without boundseg.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <filesystem>
#include <functional>
#include <map>
#include <string>

namespace boundseg::models {

/// Traces `forward` (run on `example` under NoGradGuard, `module` in eval mode) into a TorchScript module whose
/// attributes mirror `module`'s children, parameters and buffers by name (so `state_dict()` in Python gives the
/// reference keys), and saves it to `path` atomically. Spatial sizes are recorded from tensor shapes, so the module
/// runs at other input sizes too; the batch size is free. `type_name` names the TorchScript class (an identifier,
/// e.g. "HrnetOcr", saved as __torch__.boundseg.HrnetOcr). Load it with `torch.jit.load(path)` / `torch::jit::load(path)`; forward(x) then returns
/// what `forward` returns for x.
void export_torchscript(torch::nn::Module& module, const std::function<at::Tensor(const at::Tensor&)>& forward,
                        const at::Tensor& example, const std::filesystem::path& path, const std::string& type_name);

/// The same in training mode, for training the network elsewhere (e.g. in PyTorch): traced with `module` in train
/// mode and grad enabled, so batch norm uses batch statistics (and updates the exported running statistics when
/// run) and dropout is active; forward(x) returns the outputs of `forward_outputs` in name order, a tuple when there
/// are several (HRNet+OCR: (aux, out), the reference's order). The module's own buffers are left as they were.
void export_torchscript_for_training(
    torch::nn::Module& module,
    const std::function<std::map<std::string, at::Tensor>(const at::Tensor&)>& forward_outputs,
    const at::Tensor& example, const std::filesystem::path& path, const std::string& type_name);

}  // namespace boundseg::models
