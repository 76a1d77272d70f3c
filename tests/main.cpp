// Test entry point: CUDA cases (suffix _CUDA) are filtered out on CPU-only builds.
#include <gtest/gtest.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
#ifndef BOUNDSEG_WITH_CUDA
  std::string filter = ::testing::GTEST_FLAG(filter);
  filter += (filter.find('-') == std::string::npos ? "-" : ":");
  filter += "*_CUDA";
  ::testing::GTEST_FLAG(filter) = filter;
#endif
  return RUN_ALL_TESTS();
}
