// The phantom generator itself, on small fast volumes.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "dicom_samples/spine_phantom.h"
#include "tests/support/test_data.h"

using namespace fluoroplan;
using namespace fluoroplan::samples;

namespace {
PhantomOptions small() {
  PhantomOptions o;
  o.columns = 160;
  o.rows = 160;
  o.pixelMm = 2.4;
  o.sliceMm = 2.0;
  o.topLevel = "T10";
  return o;
}
std::set<int> labelsIn(const Volume& v) {
  return {v.hu.begin(), v.hu.end()};
}
} // namespace

TEST(Phantom, IsDeterministic) {
  const Phantom a = makeSpinePhantom(small());
  const Phantom b = makeSpinePhantom(small());
  EXPECT_EQ(a.ct.hu, b.ct.hu);
  EXPECT_EQ(a.labels.hu, b.labels.hu);
}

TEST(Phantom, LevelNamesAndVerseLabels) {
  EXPECT_EQ(verseLabelOf("T12"), 19);
  EXPECT_EQ(verseLabelOf("L1"), 20);
  EXPECT_EQ(verseLabelOf("L6"), 25);
  EXPECT_EQ(verseLabelOf("T13"), 28);
  EXPECT_EQ(verseLabelOf("C7"), 7);
  EXPECT_EQ(verseLevelName(26), "sacrum");
  const Phantom p = makeSpinePhantom(small());
  const auto l = labelsIn(p.labels);
  for (int v : {17, 18, 19, 20, 21, 22, 23, 24, 26})
    EXPECT_TRUE(l.count(v)) << v;
  EXPECT_FALSE(l.count(25));
  EXPECT_TRUE(l.count(label::kSpinalCanal));
  EXPECT_TRUE(l.count(label::kKidney));
  EXPECT_TRUE(l.count(label::kRib));
  EXPECT_TRUE(l.count(label::kDiscBase + 23)); // L4-L5 disc
}

TEST(Phantom, VariantsForLevelNaming) {
  PhantomOptions o = small();
  o.lumbarSixth = true;
  EXPECT_TRUE(labelsIn(makeSpinePhantom(o).labels).count(25));
  o = small();
  o.thirteenRibs = true;
  const Phantom t13 = makeSpinePhantom(o);
  EXPECT_TRUE(labelsIn(t13.labels).count(28));
  bool t13HasRibs = false;
  for (const auto& m : t13.truth.levels)
    t13HasRibs |= m.level == "T13" && m.ribs;
  EXPECT_TRUE(t13HasRibs);
  o = small();
  o.cropTop = "L3";
  o.cropBottom = "S1";
  const Phantom crop = makeSpinePhantom(o);
  EXPECT_FALSE(labelsIn(crop.labels).count(19)); // no T12 in an L3-S1 crop
  EXPECT_TRUE(labelsIn(crop.labels).count(22));
}

TEST(Phantom, NerveCoursesLieOnTheBoneTheyName) {
  PhantomOptions o = small();
  o.columns = o.rows = 384; // 1 mm voxels: the courses are placed 1 mm off the bone
  o.pixelMm = o.sliceMm = 1.0;
  const Phantom p = makeSpinePhantom(o);
  ASSERT_FALSE(p.truth.nerves.empty());
  for (const auto& n : p.truth.nerves) {
    // Within 6 mm of the course's midpoint there is bone of the vertebra the
    // course is said to lie on (sacrum for the L5 dorsal ramus).
    const Vec3 mid = 0.5 * (n.startLps + n.endLps);
    std::string boneLevel = n.bone.find("sacral") != std::string::npos ? "sacrum" : "";
    for (const char* lv : {"T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5"})
      if (n.bone.find(std::string(" ") + lv + " ") != std::string::npos) boneLevel = lv;
    ASSERT_FALSE(boneLevel.empty()) << n.bone;
    const int want = boneLevel == "sacrum" ? 26 : verseLabelOf(boneLevel);
    bool near = false;
    const Vec3 c = p.labels.lpsToIndex(mid);
    for (int dz = -3; dz <= 3 && !near; ++dz)
      for (int dy = -3; dy <= 3 && !near; ++dy)
        for (int dx = -3; dx <= 3 && !near; ++dx) {
          const Vec3 q{c.x + dx, c.y + dy, c.z + dz};
          if (!p.labels.containsIndex(q)) continue;
          const Vec3 mm = p.labels.indexToLps(q) - mid;
          if (norm(mm) > 6.0) continue;
          near |= p.labels.at(std::lround(q.x), std::lround(q.y), std::lround(q.z)) == want;
        }
    EXPECT_TRUE(near) << n.nerve << " " << n.side << " on " << n.bone;
    // A nerve lies on the bone, not in it: both ends of the course are off
    // the bone, with bone of that vertebra within 3.5 mm (1 mm off the
    // surface, plus the grid's rounding).
    for (const Vec3 end : {n.startLps, n.endLps}) {
      const Vec3 e = p.labels.lpsToIndex(end);
      ASSERT_TRUE(p.labels.containsIndex(e)) << n.nerve;
      EXPECT_NE(p.labels.at(std::lround(e.x), std::lround(e.y), std::lround(e.z)), want)
          << n.nerve << " " << n.side << ": inside the bone";
      double nearest = 1e9;
      for (int dz = -3; dz <= 3; ++dz)
        for (int dy = -3; dy <= 3; ++dy)
          for (int dx = -3; dx <= 3; ++dx) {
            const Vec3 q{std::round(e.x) + dx, std::round(e.y) + dy, std::round(e.z) + dz};
            if (p.labels.containsIndex(q) &&
                p.labels.at(std::lround(q.x), std::lround(q.y), std::lround(q.z)) == want)
              nearest = std::min(nearest, norm(p.labels.indexToLps(q) - end));
          }
      EXPECT_LT(nearest, 3.5) << n.nerve << " " << n.side;
    }
    // Left is +x in LPS.
    EXPECT_EQ(n.side == "left", mid.x > 0) << n.nerve;
  }
}

// Every part of a vertebra is joined to the rest of it by bone (a pedicle
// joins the body, a pillar joins the lamina): a piece that floats free is
// anatomy that does not exist, and a segmenter that floods bone from the
// body and the lamina could never reach it. The neck's pedicles are the
// case that broke this: its canal is wider than its bodies.
TEST(Phantom, EveryVertebraIsOnePieceOfBone) {
  PhantomOptions neck;
  neck.cervical = true;
  neck.columns = 200;
  neck.rows = 200;
  neck.pixelMm = 0.8;
  neck.sliceMm = 1.0;
  for (const PhantomOptions& o : {small(), neck}) {
    const Phantom p = makeSpinePhantom(o);
    const Volume& l = p.labels;
    const std::size_t w = l.size[0], h = l.size[1], d = l.size[2];
    std::vector<uint8_t> seen(l.voxelCount(), 0);
    std::map<int, std::vector<std::size_t>> pieces; // label -> piece sizes
    for (std::size_t s = 0; s < l.voxelCount(); ++s) {
      const int16_t lab = l.hu[s];
      if (seen[s] || lab <= 0 || lab >= label::kDiscBase) continue;
      std::vector<std::size_t> stack{s};
      seen[s] = 1;
      std::size_t size = 0;
      while (!stack.empty()) {
        const std::size_t q = stack.back();
        stack.pop_back();
        ++size;
        const std::size_t i = q % w, j = (q / w) % h, k = q / (w * h);
        for (const auto& [ok, n] : {std::pair{i > 0, q - 1}, std::pair{i + 1 < w, q + 1},
                                    std::pair{j > 0, q - w}, std::pair{j + 1 < h, q + w},
                                    std::pair{k > 0, q - w * h}, std::pair{k + 1 < d, q + w * h}})
          if (ok && !seen[n] && l.hu[n] == lab) {
            seen[n] = 1;
            stack.push_back(n);
          }
      }
      pieces[lab].push_back(size);
    }
    ASSERT_FALSE(pieces.empty());
    for (auto& [lab, sizes] : pieces) {
      std::sort(sizes.rbegin(), sizes.rend());
      // A few voxels of partial surface on a coarse grid may touch only
      // diagonally; a real piece is a sizeable share of the vertebra.
      for (std::size_t n = 1; n < sizes.size(); ++n)
        EXPECT_LT(sizes[n], std::max<std::size_t>(8, sizes[0] / 200))
            << verseLevelName(lab) << (o.cervical ? " (neck)" : "") << ": piece " << n << " of "
            << sizes[n] << " voxels beside " << sizes[0];
    }
  }
}

// Every voxel keeps its LPS place when stored as sagittal slices; the
// slices run to the patient's left and the rows down.
TEST(Phantom, StoredAsSagittalKeepsEveryVoxelWhereItIs) {
  const Volume v = test::indexCodedVolume(3, 2, 4, {1, 2, 3}, {10, 20, 30}, Mat3{});
  const Volume s = storedAsSagittal(v);
  EXPECT_EQ(s.size, (std::array<std::size_t, 3>{2, 4, 3}));
  EXPECT_EQ(slicePlaneName(s.directionLps), "sagittal");
  EXPECT_EQ(s.directionLps.column(2), (Vec3{1, 0, 0}));
  EXPECT_EQ(s.directionLps.column(1), (Vec3{0, 0, -1}));
  EXPECT_EQ(s.originLps, (Vec3{10, 20, 39})); // the top slice's first row
  for (std::size_t k = 0; k < 4; ++k)
    for (std::size_t j = 0; j < 2; ++j)
      for (std::size_t i = 0; i < 3; ++i) {
        const Vec3 q = s.lpsToIndex(v.indexToLps({double(i), double(j), double(k)}));
        EXPECT_EQ(s.at(std::size_t(std::lround(q.x)), std::size_t(std::lround(q.y)),
                       std::size_t(std::lround(q.z))),
                  v.at(i, j, k));
      }
}
