// Needle detection against known answers: a synthetic anatomy (what the
// DRR predicts, shown through a monotone map with noise), with needles
// drawn at known places; and an anatomy with an edge but no needle.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "imaging/projection/frame_overlay.h"
#include "imaging/projection/needle_detection.h"
#include "imaging/projection/run_tracker.h"

using namespace fluoroplan;

namespace {
constexpr unsigned kSize = 256;

CArmGeometry geometry() {
  CArmGeometry g;
  g.columns = g.rows = kSize;
  g.pixelMm = 0.45;
  g.principalColumn = g.principalRow = (kSize - 1) / 2.0;
  g.sourceToDetectorMm = 1000;
  g.sourceToIsocentreMm = 650;
  return g;
}

// The anatomy as the DRR shows it: smooth, with a bone-like step.
std::vector<float> anatomy() {
  std::vector<float> d(kSize * kSize);
  for (unsigned r = 0; r < kSize; ++r)
    for (unsigned c = 0; c < kSize; ++c)
      d[r * kSize + c] =
          float(2 + std::sin(c * 0.02) + 0.5 * std::cos(r * 0.03) + (c > 150 ? 0.8 : 0.0));
  return d;
}

// The frame: a monotone map of the anatomy plus noise, and each needle
// (a 3-pixel-wide dense line) added along a -> b.
std::vector<float> frameOf(const std::vector<float>& drr,
                           const std::vector<std::array<std::array<double, 2>, 2>>& needles) {
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.f, 0.02f);
  std::vector<float> f(drr.size());
  for (std::size_t i = 0; i < f.size(); ++i)
    f[i] = std::sqrt(drr[i]) * 3 + noise(rng);
  for (const auto& n : needles) {
    const double dx = n[1][0] - n[0][0], dy = n[1][1] - n[0][1], len = std::hypot(dx, dy);
    for (unsigned r = 0; r < kSize; ++r)
      for (unsigned c = 0; c < kSize; ++c) {
        const double t = ((c - n[0][0]) * dx + (r - n[0][1]) * dy) / (len * len);
        if (t < 0 || t > 1) continue;
        const double off = std::abs((c - n[0][0]) * dy - (r - n[0][1]) * dx) / len;
        if (off <= 1.0) f[r * kSize + c] += 0.6f;
      }
  }
  return f;
}
} // namespace

TEST(NeedleDetection, FindsEachNeedleAndItsTip) {
  const auto drr = anatomy();
  const std::vector<std::array<std::array<double, 2>, 2>> truth{
      {{{100, 90}, {30, 200}}}, // tip first: toward the centre
      {{{140, 140}, {220, 230}}},
      {{{170, 60}, {240, 20}}}};
  const auto frame = frameOf(drr, truth);
  const std::vector<uint8_t> mask(frame.size(), 1);
  const auto found = detectNeedles(frame, mask, drr, geometry());
  ASSERT_EQ(found.size(), truth.size());
  for (const auto& t : truth) {
    double best = 1e9;
    const DetectedNeedle* match = nullptr;
    for (const auto& n : found) {
      const double d = std::hypot(n.tipPx[0] - t[0][0], n.tipPx[1] - t[0][1]);
      if (d < best) {
        best = d;
        match = &n;
      }
    }
    EXPECT_LT(best, 2.0) << "tip " << t[0][0] << ", " << t[0][1];
    ASSERT_NE(match, nullptr);
    EXPECT_LT(std::hypot(match->shaftEndPx[0] - t[1][0], match->shaftEndPx[1] - t[1][1]), 2.5);
  }
}

TEST(NeedleDetection, ThePlanDecidesWhichEndIsTheTip) {
  // A needle whose tip lies farther from the image centre than its other
  // end: the planned target says which end is the tip.
  const auto drr = anatomy();
  const std::array<double, 2> tip{230, 128}, hub{160, 128};
  const auto frame = frameOf(drr, {{{tip, hub}}});
  const std::vector<uint8_t> mask(frame.size(), 1);
  const auto alone = detectNeedles(frame, mask, drr, geometry());
  ASSERT_EQ(alone.size(), 1u);
  EXPECT_LT(std::hypot(alone[0].tipPx[0] - hub[0], alone[0].tipPx[1] - hub[1]), 2.0);
  const auto planned = detectNeedles(frame, mask, drr, geometry(), {{235, 130}});
  ASSERT_EQ(planned.size(), 1u);
  EXPECT_LT(std::hypot(planned[0].tipPx[0] - tip[0], planned[0].tipPx[1] - tip[1]), 2.0);
}

TEST(NeedleDetection, AnatomyAloneHasNoNeedle) {
  const auto drr = anatomy();
  const auto frame = frameOf(drr, {});
  const std::vector<uint8_t> mask(frame.size(), 1);
  EXPECT_TRUE(detectNeedles(frame, mask, drr, geometry()).empty());
  // Mismatched sizes: nothing, not a crash.
  EXPECT_TRUE(detectNeedles(frame, mask, std::vector<float>(10), geometry()).empty());
}

TEST(NeedleToPlan, DistancesInMmAtTheTargetAndOneNeedlePerPath) {
  CArmGeometry g; // AP, isocentre at the origin
  g.pixelMm = 0.5;
  g.sourceToDetectorMm = 1000;
  g.sourceToIsocentreMm = 500; // at the isocentre 1 px = 0.25 mm
  const OverlayTrajectory path{"L4 medial branch, left", {40, 0, 0}, {0, 0, 0}, 10, "L5"};
  const auto target = g.project(path.targetLps), entry = g.project(path.entryLps);
  auto along = [&](double f) {
    return std::array<double, 2>{target[0] + f * (entry[0] - target[0]),
                                 target[1] + f * (entry[1] - target[1])};
  };
  // On the path, 20 px short of the target (5 mm); a second needle on the
  // same path but 8 px to the side; a third far from any path.
  DetectedNeedle onPath{along(20 / (entry[0] - target[0])), along(0.8), 0, 10};
  DetectedNeedle beside = onPath;
  beside.tipPx[1] += 8;
  beside.shaftEndPx[1] += 8;
  DetectedNeedle far{{target[0], target[1] + 200}, {target[0] + 50, target[1] + 220}, 0, 10};
  const auto m = compareNeedlesToPlan({beside, onPath, far}, g, {path});
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[1].trajectory, 0);
  EXPECT_NEAR(m[1].tipToTargetMm, 5.0, 1e-6);
  EXPECT_NEAR(m[1].tipOffPathMm, 0.0, 1e-6);
  EXPECT_EQ(m[0].trajectory, -1); // the path went to the closer needle
  EXPECT_EQ(m[2].trajectory, -1);
  // Alone, the needle beside the path is matched: 2 mm off it.
  const auto alone = compareNeedlesToPlan({beside}, g, {path});
  EXPECT_EQ(alone[0].trajectory, 0);
  EXPECT_NEAR(alone[0].tipOffPathMm, 2.0, 1e-6);
}

TEST(NeedlePlacement, FromFirstSeenToTheLastFrameThatBroughtTheTipCloser) {
  auto seen = [](int path, double mm) {
    NeedleToPlan n;
    n.trajectory = path;
    n.tipToTargetMm = mm;
    return n;
  };
  // Path 0 advances 30 -> 12 -> 3 mm, then sits (3.4, 2.5: within 1 mm);
  // path 1 appears at t = 20 and does not move; an unmatched needle counts
  // for nothing. Frames arrive out of order.
  const std::vector<FrameNeedles> frames{{30, {seen(0, 3.4), seen(1, 8)}},
                                         {0, {seen(0, 30)}},
                                         {10, {seen(0, 12), seen(-1, 0)}},
                                         {20, {seen(0, 3), seen(1, 8.2)}},
                                         {40, {seen(0, 2.5)}}};
  const auto p = needlePlacements(frames);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].trajectory, 0);
  EXPECT_DOUBLE_EQ(p[0].startSeconds, 0);
  EXPECT_DOUBLE_EQ(p[0].endSeconds, 20);
  EXPECT_EQ(p[0].frames, 5);
  EXPECT_DOUBLE_EQ(p[0].closestTipToTargetMm, 2.5); // came closer, by less than 1 mm
  EXPECT_EQ(p[1].trajectory, 1);
  EXPECT_DOUBLE_EQ(p[1].startSeconds, 20);
  EXPECT_DOUBLE_EQ(p[1].endSeconds, 20);
  EXPECT_EQ(p[1].frames, 2);
}
