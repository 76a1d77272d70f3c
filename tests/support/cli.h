// Runs the boundseg binary (BOUNDSEG_CLI, else the build's) and captures its output.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace boundseg {

inline std::string cli_path() {
  const char* env = std::getenv("BOUNDSEG_CLI");
#ifdef BOUNDSEG_CLI_PATH
  return env && *env ? env : BOUNDSEG_CLI_PATH;
#else
  return env && *env ? env : "boundseg";
#endif
}

struct CliRun {
  int exit_code;
  std::string output;  // stdout and stderr
};

inline CliRun run_cli(const std::string& args) {
  const std::string command = cli_path() + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  std::array<char, 4096> buffer;
  while (size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) output.append(buffer.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

}  // namespace boundseg
