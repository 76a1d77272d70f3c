// Test entry point: CUDA cases (suffix _CUDA) are filtered out on CPU-only builds; every test starts from one seed.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace {

// Every test draws its random tensors from the same seed, whatever ran before it: results do not depend on order.
class SeedEachTest : public ::testing::EmptyTestEventListener {
  void OnTestStart(const ::testing::TestInfo&) override { at::manual_seed(20261121); }
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
#ifndef BOUNDSEG_WITH_CUDA
  std::string filter = ::testing::GTEST_FLAG(filter);
  filter += (filter.find('-') == std::string::npos ? "-" : ":");
  filter += "*_CUDA";
  ::testing::GTEST_FLAG(filter) = filter;
#endif
  ::testing::UnitTest::GetInstance()->listeners().Append(new SeedEachTest);
  return RUN_ALL_TESTS();
}
