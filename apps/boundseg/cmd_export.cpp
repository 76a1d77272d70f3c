// `boundseg export`: a model with its weights as a TorchScript file, servable without boundseg.
#include <ATen/ATen.h>

#include <cstdio>

#include "boundseg/core/error.h"
#include "boundseg/io/safetensors.h"
#include "boundseg/models/bpr_net.h"
#include "boundseg/models/export.h"
#include "boundseg/models/zoo.h"
#include "commands.h"

namespace boundseg::cli {
namespace {

struct ExportArgs {
  std::string model, weights, out, example = "512x1024";
  std::string naming = "auto";
  int64_t num_classes = 0;
  bool quiet = false, train = false;
};

int run_export(const ExportArgs& a) {
  models::ModelConfig config = models::model_config(a.model);
  if (a.num_classes > 0) config.num_classes = a.num_classes;
  if (a.naming != "auto") config.bn_naming = a.naming == "torch" ? models::BnNaming::kTorch : models::BnNaming::kAbn;
  auto [h, w] = parse_hw(a.example, "export", "--example");
  require_usage(h > 0, "export", "--example", "be HxW with positive sides", "''");
  models::Network net = models::load_network(config, io::read_safetensors(a.weights).tensors);
  if (config.arch.rfind("bpr_", 0) == 0) h = w = models::bpr_input_size(config.arch);  // BPR runs at a fixed size
  const at::Tensor example = at::zeros({1, net.input_channels, h, w});
  if (a.train) {
    // The logits outputs (out, and aux for OCR), in name order.
    const auto logits = [&net](const at::Tensor& x) { return net.forward_outputs(x, net.logits); };
    models::export_torchscript_for_training(*net.module, logits, example, a.out, net.type_name);
    if (!a.quiet) {
      std::fprintf(stderr, "wrote %s (%s, training mode): torch.jit.load(path)(x) returns (aux, out) for OCR models\n",
                   a.out.c_str(), config.arch.c_str());
    }
  } else {
    models::export_torchscript(*net.module, net.forward, example, a.out, net.type_name);
    if (!a.quiet) {
      std::fprintf(stderr, "wrote %s (%s, %lld classes): torch.jit.load(path)(x), x = (N, %lld, H, W) float\n",
                   a.out.c_str(), config.arch.c_str(), static_cast<long long>(net.num_classes),
                   static_cast<long long>(net.input_channels));
    }
  }
  return 0;
}

}  // namespace

Command add_export(CLI::App& app) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand("export", "Write a model and its weights as a TorchScript module (.pt)");
  cmd->add_option("--model", args->model, "A model name (see `infer --help`, also bpr_hrnet18s, bpr_hrnet48) or a "
                                          "JSON config")
      ->required();
  cmd->add_option("--weights", args->weights, "Weights (.safetensors)")->required();
  cmd->add_option("--out", args->out, "TorchScript file to write (e.g. model.pt)")->required();
  cmd->add_option("--example", args->example,
                  "Example input size HxW used for tracing; the module accepts other sizes too")
      ->capture_default_str();
  cmd->add_option("--num-classes", args->num_classes, "Classes (default: from the config or weights)")
      ->check(CLI::Range(1, 255));
  cmd->add_option("--naming", args->naming, "BN naming: abn, torch or auto")
      ->check(CLI::IsMember({"auto", "abn", "torch"}))
      ->capture_default_str();
  cmd->add_flag("--train", args->train,
                "Trace in training mode (batch statistics, dropout on; every output, e.g. (aux, out)) for training "
                "in PyTorch");
  cmd->add_flag("--quiet", args->quiet, "No summary line");
  return {cmd, [args] { return run_export(*args); }};
}

}  // namespace boundseg::cli
