// NaN-aware comparison of scores with JSON golden values (null = NaN).
#pragma once

#include <cmath>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace boundseg::testing {

inline ::testing::AssertionResult matches_golden(double actual, const nlohmann::json& expected, double tolerance) {
  if (expected.is_null()) {
    if (std::isnan(actual)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "expected null (NaN), got " << actual;
  }
  const double e = expected.get<double>();
  if (std::isnan(actual)) return ::testing::AssertionFailure() << "expected " << e << ", got NaN";
  if (std::fabs(actual - e) <= tolerance) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected " << e << ", got " << actual << " (diff " << actual - e << ")";
}

}  // namespace boundseg::testing
