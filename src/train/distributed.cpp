// c10d process group set-up, gradient averaging, and local worker processes.
#include "boundseg/train/distributed.h"

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "boundseg/core/error.h"

namespace boundseg::train {
namespace {

int64_t env_int(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  if (!value || !*value) return fallback;
  char* end = nullptr;
  const long long v = std::strtoll(value, &end, 10);
  require(*end == '\0' && v >= 0, "train", std::string("the environment variable ") + name,
          "be a non-negative integer", [&] { return "'" + std::string(value) + "'"; });
  return v;
}

// A port the kernel considers free right now (the store binds it a moment later).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    fail("train", "a local port", "be available for the rendezvous", "none");
  }
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

}  // namespace

DistributedEnv DistributedEnv::from_environment() {
  DistributedEnv env;
  env.world_size = std::max<int64_t>(1, env_int("WORLD_SIZE", 1));
  env.rank = env_int("RANK", 0);
  env.local_rank = env_int("LOCAL_RANK", env.rank);
  env.master_port = env_int("MASTER_PORT", 29500);
  if (const char* addr = std::getenv("MASTER_ADDR")) env.master_addr = addr;
  require(env.rank < env.world_size, "train", "RANK", "be < WORLD_SIZE = " + std::to_string(env.world_size),
          [&] { return std::to_string(env.rank); });
  require(env.master_port > 0 && env.master_port < 65536, "train", "MASTER_PORT", "be a TCP port",
          [&] { return std::to_string(env.master_port); });
  return env;
}

struct ProcessGroup::State {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
};

ProcessGroup::ProcessGroup(const DistributedEnv& env)
    : state_(std::make_unique<State>()), rank_(env.rank), world_size_(env.world_size) {
  c10d::TCPStoreOptions store_options;
  store_options.port = uint16_t(env.master_port);
  store_options.isServer = env.rank == 0;
  store_options.numWorkers = size_t(env.world_size);
  store_options.timeout = std::chrono::minutes(5);
  try {
    state_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
    auto options = c10d::ProcessGroupGloo::Options::create(std::chrono::minutes(30));
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(env.master_addr == "localhost"
                                                                                     ? "127.0.0.1"
                                                                                     : env.master_addr));
    state_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(state_->store, int(env.rank), int(env.world_size),
                                                                 options);
  } catch (const c10::Error& e) {
    fail("train", "the rendezvous at " + env.master_addr + ":" + std::to_string(env.master_port),
         "succeed for rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size),
         e.what_without_backtrace());
  }
}

ProcessGroup::~ProcessGroup() = default;

void ProcessGroup::sum_(at::Tensor& tensor) const {
  if (world_size_ == 1) return;
  std::vector<at::Tensor> tensors{tensor};
  state_->group->allreduce(tensors)->wait();
}

void ProcessGroup::broadcast_(at::Tensor& tensor, int64_t root) const {
  if (world_size_ == 1) return;
  std::vector<at::Tensor> tensors{tensor};
  c10d::BroadcastOptions options;
  options.rootRank = root;
  state_->group->broadcast(tensors, options)->wait();
}

void ProcessGroup::barrier() const {
  if (world_size_ > 1) state_->group->barrier()->wait();
}

void average_gradients(const std::vector<at::Tensor>& parameters, const ProcessGroup& group) {
  if (group.world_size() == 1) return;
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  for (const at::Tensor& p : parameters) {
    // A parameter unused in this step still takes part, with a zero gradient, so every rank sends the same layout.
    if (!p.grad().defined()) const_cast<at::Tensor&>(p).mutable_grad() = at::zeros_like(p);
    grads.push_back(p.grad());
  }
  std::vector<at::Tensor> views;
  for (const at::Tensor& g : grads) views.push_back(g.reshape({-1}));
  at::Tensor flat = at::cat(views);
  group.sum_(flat);
  flat.div_(double(group.world_size()));
  int64_t offset = 0;
  for (at::Tensor& g : grads) {
    g.copy_(flat.slice(0, offset, offset + g.numel()).view_as(g));
    offset += g.numel();
  }
}

void broadcast_tensors(const std::vector<at::Tensor>& tensors, const ProcessGroup& group) {
  at::NoGradGuard no_grad;
  for (at::Tensor t : tensors) group.broadcast_(t, 0);
}

int spawn_local_workers(int64_t nproc, const std::vector<std::string>& args) {
  require(nproc >= 1, "train", "--nproc", "be >= 1", [&] { return std::to_string(nproc); });
  const std::string port = std::to_string(free_port());
  std::vector<pid_t> children;
  for (int64_t rank = 0; rank < nproc; ++rank) {
    const pid_t pid = ::fork();
    require(pid >= 0, "train", "fork()", "succeed", [] { return "an error"; });
    if (pid == 0) {
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", port.c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("RANK", std::to_string(rank).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
      std::vector<char*> argv;
      std::string self = "/proc/self/exe";
      argv.push_back(self.data());
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv("/proc/self/exe", argv.data());
      ::_exit(127);
    }
    children.push_back(pid);
  }
  int result = 0;
  for (size_t remaining = children.size(); remaining > 0; --remaining) {
    int status = 0;
    const pid_t done = ::wait(&status);
    if (done < 0) break;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != 0 && result == 0) {
      result = code;
      for (pid_t other : children) {
        if (other != done) ::kill(other, SIGTERM);
      }
    }
  }
  return result;
}

}  // namespace boundseg::train
