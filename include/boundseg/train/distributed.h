// Data-parallel training on torch.distributed's c10d: TCPStore rendezvous with torchrun's environment variables,
// Gloo collectives on CPU; and `--nproc N` local worker processes.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "boundseg/models/hrnet.h"

namespace boundseg::train {

/// torchrun's variables: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK.
struct DistributedEnv {
  int64_t rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  /// Reads the variables; WORLD_SIZE absent = a single process. Malformed values are errors naming the variable.
  static DistributedEnv from_environment();
};

/// One c10d process group (Gloo) over a TCPStore hosted by rank 0.
class ProcessGroup : public models::CrossProcessSum {
 public:
  explicit ProcessGroup(const DistributedEnv& env);
  ~ProcessGroup() override;

  int64_t rank() const { return rank_; }
  int64_t world_size() const { return world_size_; }
  /// Sum over processes, in place (CPU tensors).
  void sum_(at::Tensor& tensor) const override;
  /// Every process gets rank `root`'s values, in place.
  void broadcast_(at::Tensor& tensor, int64_t root = 0) const;
  void barrier() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
  int64_t rank_ = 0, world_size_ = 1;
};

/// Replaces every gradient by its mean over the processes (one flat all-reduce).
void average_gradients(const std::vector<at::Tensor>& parameters, const ProcessGroup& group);
/// Copies rank 0's values of `tensors` to every process.
void broadcast_tensors(const std::vector<at::Tensor>& tensors, const ProcessGroup& group);

/// Runs `nproc` copies of this executable (/proc/self/exe) with `args` and torchrun's variables set (rank 0 hosts
/// the store on 127.0.0.1 and a free port); returns the first non-zero exit code, after stopping the others.
int spawn_local_workers(int64_t nproc, const std::vector<std::string>& args);

}  // namespace boundseg::train
