// Permutohedral lattice: golden parity with the official rloss filter, exact transpose, semantics against the exact
// Gaussian (brute force), and the structural invariants of rloss.md §7.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "boundseg/io/safetensors.h"
#include "boundseg/ops/permutohedral.h"
#include "support/golden.h"
#include "support/scene_tensors.h"

namespace {

using boundseg::ops::BilateralFilterOptions;
using boundseg::ops::LatticeMode;
using boundseg::ops::PermutohedralLattice;
using boundseg::testing::scene_image_rgb;

double max_rel(const at::Tensor& actual, const at::Tensor& expected) {
  return (actual - expected).abs().max().item<double>() / expected.abs().max().item<double>();
}

TEST(GoldenPermutohedral, ReferenceModeMatchesTheOfficialFilter) {
  boundseg::testing::CaseCount cases("filter/*.safetensors cases");
  for (const auto& file : boundseg::testing::golden_files("rloss", "filter", ".safetensors")) {
    const auto st = boundseg::io::read_safetensors(file.path);
    const at::Tensor& image = st.tensors.at("image");
    const at::Tensor& values = st.tensors.at("values");
    const at::Tensor& expected = st.tensors.at("output");
    const auto options = BilateralFilterOptions()
                             .sigma_rgb(std::stod(st.metadata.at("sigma_rgb")))
                             .sigma_xy(std::stod(st.metadata.at("sigma_xy")))
                             .mode(LatticeMode::kReference);
    const at::Tensor out = boundseg::ops::bilateral_filter(image, values, options);
    EXPECT_LE(max_rel(out, expected), 1e-5) << file.stem;  // MANIFEST.md: max|diff| / max|ref| <= 1e-5
    cases.add();
  }
}

TEST(Permutohedral, CleanAndReferenceModesAgreeExactlyWhenThePointCountIsAMultipleOfFour) {
  const at::Tensor image = scene_image_rgb(3, 24, 30);
  const at::Tensor features = boundseg::ops::bilateral_features(image, 15, 10);
  const PermutohedralLattice clean(features), reference(features, LatticeMode::kReference);
  EXPECT_EQ(clean.num_vertices(), reference.num_vertices());
  const at::Tensor values = at::rand({24 * 30, 3}, at::kFloat);
  EXPECT_TRUE(at::equal(clean.filter(values), reference.filter(values)));
}

TEST(Permutohedral, ReferenceModeAddsThePhantomZeroFeatureVertices) {
  // 5 x 5 = 25 points: three phantom lanes with zero features. A black image near the origin shares the phantoms'
  // simplex; a bright one far from it gets extra vertices.
  const at::Tensor bright = at::full({3, 5, 5}, 250.0f);
  const at::Tensor features = boundseg::ops::bilateral_features(bright, 5, 1);
  const PermutohedralLattice clean(features), reference(features, LatticeMode::kReference);
  EXPECT_EQ(reference.num_vertices(), clean.num_vertices() + 6);  // the zero point's own d + 1 vertices
  const at::Tensor dark = at::zeros({3, 5, 5});
  const at::Tensor dark_features = boundseg::ops::bilateral_features(dark, 5, 1);  // pixel 0 is the zero point
  EXPECT_EQ(PermutohedralLattice(dark_features, LatticeMode::kReference).num_vertices(),
            PermutohedralLattice(dark_features).num_vertices());
}

TEST(Permutohedral, TransposeIsTheExactAdjoint) {
  for (const LatticeMode mode : {LatticeMode::kClean, LatticeMode::kReference}) {
    const at::Tensor image = scene_image_rgb(5, 31, 37);  // 1147 points: not a multiple of 4
    const PermutohedralLattice lattice(boundseg::ops::bilateral_features(image, 13, 8), mode);
    const at::Tensor x = at::randn({31 * 37, 4}, at::kFloat), y = at::randn({31 * 37, 4}, at::kFloat);
    const at::Tensor ax = lattice.filter(x).to(at::kDouble);
    const double ax_y = (ax * y.to(at::kDouble)).sum().item<double>();
    const double x_aty = (x.to(at::kDouble) * lattice.filter(y, true).to(at::kDouble)).sum().item<double>();
    // Float precision, relative to the Cauchy-Schwarz bound |<Ax, y>| <= |Ax| |y|.
    const double bound = ax.norm().item<double>() * y.to(at::kDouble).norm().item<double>();
    EXPECT_NEAR(ax_y, x_aty, 1e-6 * bound);
    // ... while A itself is not symmetric (rloss.md §2.8: about 10 % in Frobenius norm).
    const double ay_x = (lattice.filter(y).to(at::kDouble) * x.to(at::kDouble)).sum().item<double>();
    EXPECT_GT(std::fabs(ay_x - x_aty), 10 * 1e-6 * bound);
  }
}

TEST(Permutohedral, DenseTransposeEqualsTheReverseOrderBlur) {
  const int64_t h = 18, w = 20, P = h * w;
  const PermutohedralLattice lattice(boundseg::ops::bilateral_features(scene_image_rgb(9, h, w), 15, 6));
  const at::Tensor identity = at::eye(P, at::kFloat);
  const at::Tensor A = lattice.filter(identity);  // column j = A e_j
  const at::Tensor At = lattice.filter(identity, true);
  EXPECT_LE((At - A.t()).norm().item<double>() / A.norm().item<double>(), 1e-6);
  const double asymmetry = (A - A.t()).norm().item<double>() / A.norm().item<double>();
  EXPECT_GT(asymmetry, 0.02);
  EXPECT_LT(asymmetry, 0.3);
}

TEST(Permutohedral, AllChannelsInOnePassEqualOneChannelAtATime) {
  const at::Tensor image = scene_image_rgb(1, 33, 29);
  const PermutohedralLattice lattice(boundseg::ops::bilateral_features(image, 15, 12), LatticeMode::kReference);
  const at::Tensor values = at::rand({33 * 29, 5}, at::kFloat);
  const at::Tensor together = lattice.filter(values);
  for (int64_t c = 0; c < 5; ++c) {
    EXPECT_TRUE(at::equal(together.select(1, c), lattice.filter(values.slice(1, c, c + 1)).select(1, 0))) << c;
  }
}

TEST(Permutohedral, BatchEqualsSingleImagesBitForBit) {
  const at::Tensor images = at::stack({scene_image_rgb(1, 20, 27), scene_image_rgb(2, 20, 27)});
  const at::Tensor values = at::rand({2, 3, 20, 27}, at::kFloat);
  const auto options = BilateralFilterOptions().sigma_xy(9).mode(LatticeMode::kReference);
  const at::Tensor batch = boundseg::ops::bilateral_filter(images, values, options);
  for (int64_t n = 0; n < 2; ++n) {
    EXPECT_TRUE(at::equal(batch[n], boundseg::ops::bilateral_filter(images[n], values[n], options)));
  }
}

// Brute-force O(P^2) Gaussian in double: W_ab = exp(-|f_a - f_b|^2 / 2), self term included.
at::Tensor exact_gaussian(const at::Tensor& features, const at::Tensor& values) {
  const at::Tensor f = features.to(at::kDouble);
  const at::Tensor W = at::exp(-0.5 * at::cdist(f, f).pow(2));
  return at::matmul(W, values.to(at::kDouble));
}

TEST(Permutohedral, ApproximatesTheExactGaussianAsTheReferenceDoes) {
  // rloss.md §7.3: amplitude 0.4-0.75 of the exact sum; after the best global scale rel-L2 <= 0.08 on natural
  // images with sigma_xy >= 20 px and sigma_rgb >= 10.
  const int64_t h = 60, w = 72;
  const at::Tensor image = scene_image_rgb(4, h, w);
  const at::Tensor features = boundseg::ops::bilateral_features(image, 15, 25);
  const at::Tensor values = at::softmax(at::randn({h * w, 3}, at::kFloat) * 2, 1);
  const at::Tensor lattice = PermutohedralLattice(features).filter(values).to(at::kDouble);
  const at::Tensor exact = exact_gaussian(features, values);
  const double ratio = lattice.sum().item<double>() / exact.sum().item<double>();
  EXPECT_GT(ratio, 0.4);
  EXPECT_LT(ratio, 0.75);
  const double best_scale = (lattice * exact).sum().item<double>() / (lattice * lattice).sum().item<double>();
  const double rel_l2 = (lattice * best_scale - exact).norm().item<double>() / exact.norm().item<double>();
  EXPECT_LE(rel_l2, 0.08) << "ratio " << ratio << ", best scale " << best_scale;
  // The DenseCRF gradient direction −(A + Aᵀ)S against the exact −2WS: cosine >= 0.99 on natural images.
  const PermutohedralLattice lattice_op(features);
  const at::Tensor direction = (lattice_op.filter(values) + lattice_op.filter(values, true)).to(at::kDouble);
  const double cosine =
      (direction * exact).sum().item<double>() / (direction.norm().item<double>() * exact.norm().item<double>());
  EXPECT_GE(cosine, 0.99);
}

TEST(Permutohedral, FeaturesFollowTheReferenceOrder) {
  at::Tensor image = at::zeros({3, 2, 3});
  image[1][1][2] = 30.0f;
  const at::Tensor f = boundseg::ops::bilateral_features(image, 15, 2);
  ASSERT_EQ(f.sizes(), (at::IntArrayRef{6, 5}));
  // pixel (row 1, column 2) = point 5: (x / sxy, y / sxy, r, g, b / srgb)
  EXPECT_FLOAT_EQ(f[5][0].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(f[5][1].item<float>(), 0.5f);
  EXPECT_FLOAT_EQ(f[5][3].item<float>(), 2.0f);
  EXPECT_FLOAT_EQ(f[5][2].item<float>(), 0.0f);
}

TEST(Permutohedral, BadInputGetsAClearError) {
  const at::Tensor image = scene_image_rgb(1, 8, 8);
  BOUNDSEG_EXPECT_THROWS_WITH(PermutohedralLattice(boundseg::ops::bilateral_features(image, 15, 1e-4)),
                              "overflows the 16-bit lattice keys");
  BOUNDSEG_EXPECT_THROWS_WITH(boundseg::ops::bilateral_features(image, 0, 5), "must be positive");
  BOUNDSEG_EXPECT_THROWS_WITH(boundseg::ops::bilateral_filter(image, at::zeros({2, 8, 9})),
                              "must have the image's batch size and H x W");
  const PermutohedralLattice lattice(boundseg::ops::bilateral_features(image, 15, 5));
  BOUNDSEG_EXPECT_THROWS_WITH(lattice.filter(at::zeros({63, 2})), "must be a 2-D (64, channels) tensor");
  BOUNDSEG_EXPECT_THROWS_WITH(PermutohedralLattice(at::zeros({4, 17})), "feature dimension must be in [1, 16]");
}

}  // namespace
