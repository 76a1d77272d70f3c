// TorchScript export by tracing boundseg's own forward (the C++ counterpart of torch.jit.trace).
#include "boundseg/models/export.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/utils.h>

#include <sstream>
#include <utility>
#include <vector>

#include "boundseg/core/error.h"
#include "boundseg/io/atomic_file.h"

namespace boundseg::models {
namespace {

// "boundseg::models::HrnetImpl" -> "Hrnet": a class name that is a valid identifier in the saved TorchScript code.
std::string class_name(const torch::nn::Module& module) {
  std::string name = module.name();
  name = name.substr(name.rfind(':') == std::string::npos ? 0 : name.rfind(':') + 1);
  if (name.size() > 4 && name.compare(name.size() - 4, 4, "Impl") == 0) name.resize(name.size() - 4);
  return name.empty() ? "Module" : name;
}

// A TorchScript module holding the same tensors as `module` (not copies) under the same names, so the tracer maps
// every parameter read by the forward to an attribute of the exported module. Classes share one compilation unit
// and are name-mangled, since modules of one C++ type differ in attributes (a conv with or without bias).
torch::jit::Module mirror(const torch::nn::Module& module, const std::string& type_name,
                          const std::shared_ptr<torch::jit::CompilationUnit>& unit) {
  torch::jit::Module out(c10::QualifiedName("__torch__.boundseg." + type_name), unit, /*shouldMangle=*/true);
  for (const auto& p : module.named_parameters(/*recurse=*/false)) {
    if (p.value().defined()) out.register_parameter(p.key(), p.value(), /*is_buffer=*/false);
  }
  for (const auto& b : module.named_buffers(/*recurse=*/false)) {
    if (b.value().defined()) out.register_buffer(b.key(), b.value());
  }
  for (const auto& child : module.named_children()) {
    out.register_module(child.key(), mirror(*child.value(), class_name(*child.value()), unit));
  }
  return out;
}

// Traces `traced` on `example` with `module` in train or eval mode and saves the TorchScript module atomically.
void trace_and_save(torch::nn::Module& module, const std::function<c10::IValue(const at::Tensor&)>& traced,
                    const at::Tensor& example, const std::filesystem::path& path, const std::string& type_name,
                    bool training) {
  require(example.defined() && example.dim() == 4, "export", "the example input", "be a (N, C, H, W) tensor",
          [&] { return example.defined() ? std::to_string(example.dim()) + "-D" : std::string("undefined"); });
  const bool was_training = module.is_training();
  module.train(training);
  // A training-mode trace runs batch norm on the example, which moves the running statistics: keep the originals.
  std::vector<std::pair<at::Tensor, at::Tensor>> buffers;
  if (training) {
    for (const at::Tensor& b : module.buffers()) buffers.emplace_back(b, b.clone());
  }
  torch::AutoGradMode grad_mode(training);
  torch::jit::Module scripted = mirror(module, type_name, std::make_shared<torch::jit::CompilationUnit>());

  namespace tracer = torch::jit::tracer;
  auto traced_fn = [&](torch::jit::Stack inputs) -> torch::jit::Stack { return {traced(inputs.at(0).toTensor())}; };
  auto name_of = [](const at::Tensor&) { return std::string(); };
  auto [state, outputs] = tracer::trace({example}, traced_fn, name_of, /*strict=*/true,
                                        /*force_outplace=*/false, &scripted, {"x"});
  std::shared_ptr<torch::jit::Graph> graph = state->graph;
  torch::jit::EliminateDeadCode(graph);
  auto method = scripted._ivalue()->compilation_unit()->create_function(
      c10::QualifiedName(*scripted.type()->name(), "forward"), graph);
  scripted.type()->addMethod(method);
  {
    torch::NoGradGuard no_grad;
    for (auto& [buffer, original] : buffers) buffer.copy_(original);
  }
  module.train(was_training);

  std::ostringstream bytes;
  scripted.save(bytes);
  io::write_file_atomic(path, bytes.str());
}

}  // namespace

void export_torchscript(torch::nn::Module& module, const std::function<at::Tensor(const at::Tensor&)>& forward,
                        const at::Tensor& example, const std::filesystem::path& path, const std::string& type_name) {
  trace_and_save(
      module, [&](const at::Tensor& x) { return c10::IValue(forward(x)); }, example, path, type_name,
      /*training=*/false);
}

void export_torchscript_for_training(
    torch::nn::Module& module,
    const std::function<std::map<std::string, at::Tensor>(const at::Tensor&)>& forward_outputs,
    const at::Tensor& example, const std::filesystem::path& path, const std::string& type_name) {
  trace_and_save(
      module,
      [&](const at::Tensor& x) {
        std::vector<c10::IValue> outputs;
        for (const auto& [name, tensor] : forward_outputs(x)) outputs.emplace_back(tensor);
        return outputs.size() == 1 ? outputs.front() : c10::IValue(c10::ivalue::Tuple::create(std::move(outputs)));
      },
      example, path, type_name, /*training=*/true);
}

}  // namespace boundseg::models
