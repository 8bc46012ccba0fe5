// Plans on the sample case, checked against the phantom's truth by a test
// that ray-marches the TRUE label map itself (canal, foramen, exiting root,
// lung, kidney, great vessels, bone), independently of the planner's check.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "imaging/dicom/study_inventory.h"
#include "imaging/io/volume_io.h"
#include "imaging/segmentation/spine_segmenter.h"
#include "planning/plan.h"

using namespace fluoroplan;
namespace fs = std::filesystem;

namespace {
const fs::path kCase = FLUOROPLAN_SAMPLE_CASE;

struct Case {
  Volume ct, truthLabels;
  SpineModel spine;
  nlohmann::json truth;
};

const Case& sampleCase(const std::string& which) { // "supine", "prone" or "cervical"
  static std::map<std::string, Case> cache;
  auto it = cache.find(which);
  if (it != cache.end()) return it->second;
  Case c;
  c.ct = *loadVolume(buildInventory(kCase / ("ct_" + which)), 0).volume;
  c.truthLabels = readVolumeFile(kCase / "truth" / (which + "_labels.nrrd"));
  c.spine = segmentSpine(c.ct);
  std::ifstream in(kCase / "truth" / (which + "_landmarks.json"));
  c.truth = nlohmann::json::parse(in);
  return cache.emplace(which, std::move(c)).first->second;
}

Vec3 vec(const nlohmann::json& j) {
  return {j[0].get<double>(), j[1].get<double>(), j[2].get<double>()};
}

// The independent check: march the true label map from skin to target.
std::vector<std::string> truthViolations(const Volume& truth, Vec3 entry, Vec3 target,
                                         double boneAllowanceMm, double canalAllowanceMm) {
  std::vector<std::string> v;
  const double len = norm(target - entry);
  for (double s = 0; s <= len; s += 0.25) {
    const Vec3 p = entry + (s / len) * (target - entry);
    const Vec3 idx = truth.lpsToIndex(p);
    if (!truth.containsIndex(idx)) continue;
    const int l = truth.at(std::lround(idx.x), std::lround(idx.y), std::lround(idx.z));
    const double toTarget = len - s;
    if (l >= 1 && l <= 28 && toTarget > boneAllowanceMm) v.push_back("bone " + std::to_string(l));
    if (l == 200 && toTarget > canalAllowanceMm) v.push_back("canal");
    if (l == 201) v.push_back("foramen");
    if (l == 202) v.push_back("exiting root");
    if (l >= 210 && l <= 214) v.push_back("danger " + std::to_string(l));
  }
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

std::pair<Vec3, Vec3> truthCourse(const Case& c, const std::string& nerve,
                                  const std::string& side) {
  for (const auto& t : c.truth["nerves"])
    if (t["nerve"] == nerve && t["side"] == side) return {vec(t["course"][0]), vec(t["course"][1])};
  ADD_FAILURE() << "no truth for " << nerve << " " << side;
  return {};
}

ProcedureRequest facetRf(const std::string& joints, Side side) {
  ProcedureRequest r;
  r.procedure = Procedure::FacetRf;
  r.joints = parseJoints(joints);
  r.side = side;
  r.needle.lengthMm = 150; // the phantom's back is deep; 100 mm needles are checked below
  return r;
}

// Every suggestion of a facet plan: safe on the true labels, on the true
// nerve, and on its own side.
void checkFacetPlan(const Case& c, const Plan& plan, std::size_t expectedNeedles, bool rf) {
  ASSERT_EQ(plan.needles.size(), expectedNeedles);
  for (const auto& n : plan.needles) {
    ASSERT_TRUE(n.best.has_value()) << n.nerve << " " << n.side << ": " << n.whyNone;
    const Trajectory& t = *n.best;
    const auto viol = truthViolations(c.truthLabels, t.entryLps, t.targetLps, 3.0, 0.0);
    EXPECT_TRUE(viol.empty()) << n.nerve << " " << n.side << ": " << viol.front() << " on "
                              << t.reasons << "; entry " << t.entryLps.x << " " << t.entryLps.y
                              << " " << t.entryLps.z << " target " << t.targetLps.x << " "
                              << t.targetLps.y << " " << t.targetLps.z;
    const auto [a, b] = truthCourse(c, n.nerve, n.side);
    const double toNerve = distanceToSegment(t.targetLps, a, b);
    EXPECT_LT(toNerve, 2.0) << n.nerve << " " << n.side;
    // Left is +x in LPS for entry and target alike.
    EXPECT_EQ(t.entryLps.x > 0, n.side == "left") << n.nerve << " " << n.side;
    EXPECT_EQ(t.targetLps.x > 0, n.side == "left") << n.nerve << " " << n.side;
    if (rf) {
      const Vec3 out = normalized(t.entryLps - t.targetLps);
      double on = 0;
      for (double s = 0.125; s < 10; s += 0.25)
        if (distanceToSegment(t.targetLps + s * out, a, b) <= 2.0) on += 0.25;
      // The issue asks for 8 of 10 mm. The courses cross the TP's root or
      // the ala's superior border caudally and dorsally, as a parallel
      // needle lies.
      EXPECT_GE(on, 8.0) << n.nerve << " " << n.side << ": active tip on the true nerve";
      std::cout << n.nerve << " " << n.side << ": target " << toNerve
                << " mm from the true course, " << on << " mm of the active tip on it, caudal "
                << t.caudalAngleDeg << ", lateral " << t.lateralAngleDeg << ", "
                << t.downTheNeedle.words << "\n";
    }
  }
}
// The plan's nerves, sorted ("L4 medial branch", or with its side).
std::vector<std::string> sortedNerves(const Plan& p, bool withSide = false) {
  std::vector<std::string> out;
  for (const auto& n : p.needles)
    out.push_back(withSide ? n.nerve + " " + n.side : n.nerve);
  std::sort(out.begin(), out.end());
  return out;
}
} // namespace

TEST(PlanSample, SingleJointLeftIsTwoNeedles) {
  const Case& c = sampleCase("supine");
  const Plan p = planProcedure(c.ct, c.spine, facetRf("L4-L5", Side::Left));
  checkFacetPlan(c, p, 2, true);
  EXPECT_EQ(sortedNerves(p), (std::vector<std::string>{"L3 medial branch", "L4 medial branch"}));
}

TEST(PlanSample, TwoJointsLeftIsThreeNeedles) {
  const Case& c = sampleCase("supine");
  checkFacetPlan(c, planProcedure(c.ct, c.spine, facetRf("L4-L5,L5-S1", Side::Left)), 3, true);
}

TEST(PlanSample, BilateralTwoJointsIsSixNeedles) {
  const Case& c = sampleCase("supine");
  checkFacetPlan(c, planProcedure(c.ct, c.spine, facetRf("L4-L5,L5-S1", Side::Both)), 6, true);
}

TEST(PlanSample, L5S1IsL4MedialBranchAndL5DorsalRamus) {
  const Case& c = sampleCase("supine");
  const Plan p = planProcedure(c.ct, c.spine, facetRf("L5-S1", Side::Right));
  checkFacetPlan(c, p, 2, true);
  EXPECT_EQ(sortedNerves(p), (std::vector<std::string>{"L4 medial branch", "L5 dorsal ramus"}));
}

TEST(PlanSample, ThoracicJointBlock) {
  const Case& c = sampleCase("supine");
  ProcedureRequest r = facetRf("T11-T12", Side::Left);
  r.procedure = Procedure::FacetBlock;
  checkFacetPlan(c, planProcedure(c.ct, c.spine, r), 2, false);
}

// A neck request as DESIGN.md section 3 has it done: supine, 100 mm needle.
ProcedureRequest neckRequest(const std::string& joints, Side side, Procedure procedure) {
  ProcedureRequest r = facetRf(joints, side);
  r.procedure = procedure;
  r.prone = false;
  r.needle.lengthMm = 100;
  return r;
}

// The neck, supine, lateral approach (DESIGN.md section 3): joint C4-C5
// is the C4 and C5 medial branches, on the waists of their own pillars;
// every path safe on the true labels (vertebral artery included), on its
// own side, to within 2 mm of the true nerve.
TEST(PlanSample, CervicalBilateralBlockIsFourLateralNeedles) {
  const Case& c = sampleCase("cervical");
  const Plan p =
      planProcedure(c.ct, c.spine, neckRequest("C4-C5", Side::Both, Procedure::FacetBlock));
  checkFacetPlan(c, p, 4, false);
  for (const auto& n : p.needles) {
    ASSERT_TRUE(n.best.has_value());
    // From the side: the needle runs within 45 degrees of the patient's
    // left-right axis, and its down-the-needle view is a lateral one.
    const Vec3 d = normalized(n.best->entryLps - n.best->targetLps);
    EXPECT_GT(std::abs(d.x), std::cos(45 * 3.14159265358979 / 180)) << n.nerve;
    EXPECT_TRUE(n.best->downTheNeedle.reachable) << n.best->downTheNeedle.whyNot;
    EXPECT_GT(n.best->downTheNeedle.obliqueDeg, 60) << n.best->downTheNeedle.words;
  }
  EXPECT_EQ(sortedNerves(p, true),
            (std::vector<std::string>{"C4 medial branch left", "C4 medial branch right",
                                      "C5 medial branch left", "C5 medial branch right"}));
}

// RF by the lateral approach crosses the nerve: planned, and says so.
// C2-C3 is the third occipital nerve alone.
TEST(PlanSample, CervicalRfSaysTheLateralApproachCrossesTheNerve) {
  const Case& c = sampleCase("cervical");
  const Plan p =
      planProcedure(c.ct, c.spine, neckRequest("C2-C3,C3-C4", Side::Right, Procedure::FacetRf));
  checkFacetPlan(c, p, 3, false);
  for (const auto& n : p.needles) {
    ASSERT_TRUE(n.best.has_value());
    EXPECT_NE(n.best->reasons.find("lateral approach"), std::string::npos) << n.best->reasons;
    EXPECT_NE(n.best->reasons.find("NOTE"), std::string::npos) << n.best->reasons;
  }
  EXPECT_EQ(sortedNerves(p), (std::vector<std::string>{"C3 medial branch", "C4 medial branch",
                                                       "third occipital nerve"}));
}

TEST(PlanSample, ProneBothSidesNeverSwapped) {
  const Case& c = sampleCase("prone");
  checkFacetPlan(c, planProcedure(c.ct, c.spine, facetRf("L3-L4", Side::Both)), 4, true);
}

// A user moves a planned target into the canal, then the entry onto the
// wrong side: the same checks say what each edit breaks.
TEST(PlanSample, EditedPathIsRecheckedAndWhatItBreaksIsSaid) {
  const Case& c = sampleCase("supine");
  const ProcedureRequest req = facetRf("L4-L5", Side::Left);
  const Plan p = planProcedure(c.ct, c.spine, req);
  ASSERT_TRUE(p.needles.at(0).best.has_value());
  const Trajectory& t = *p.needles[0].best;
  const PathScene scene(c.ct, c.spine.labels, {t.targetLps});
  const Trajectory same =
      evaluatePath(scene, c.spine, req, &*p.needles[0].course, "left", t.entryLps, t.targetLps);
  EXPECT_TRUE(same.check.safe);
  EXPECT_NEAR(same.depthMm, t.depthMm, 1e-9);
  // Target dragged 20 mm toward the midline: into the canal.
  const Vec3 intoCanal = t.targetLps - Vec3{20, 0, 0};
  const Trajectory moved =
      evaluatePath(scene, c.spine, req, &*p.needles[0].course, "left", t.entryLps, intoCanal);
  EXPECT_FALSE(moved.check.safe);
  bool saysCanal = false;
  for (const auto& v : moved.check.violations)
    saysCanal |= v.find("spinal canal") != std::string::npos || v.find("bone") != std::string::npos;
  EXPECT_TRUE(saysCanal) << moved.check.violations.front();
  // Entry dragged 60 mm across the midline: the path crosses bone.
  const Trajectory crossed = evaluatePath(scene, c.spine, req, &*p.needles[0].course, "left",
                                          t.entryLps - Vec3{2 * t.entryLps.x, 0, 0}, t.targetLps);
  EXPECT_FALSE(crossed.check.safe);
}

TEST(PlanSample, ShortNeedleIsRefusedWithTheReason) {
  const Case& c = sampleCase("supine");
  ProcedureRequest r = facetRf("L4-L5", Side::Left);
  r.needle.lengthMm = 40; // the phantom's targets lie ~60-90 mm deep
  const Plan p = planProcedure(c.ct, c.spine, r);
  for (const auto& n : p.needles) {
    EXPECT_FALSE(n.best.has_value()) << n.nerve;
    EXPECT_NE(n.whyNone.find("needs"), std::string::npos) << n.whyNone;
  }
}

// SCS from T12-L1 to T8 on the prone case: one Tuohy needle, checked on the
// TRUE labels: no bone at all on the way, at most ~6 mm inside the canal
// (2 mm under its dorsal edge at 20 degrees or more), the target no deeper
// than 3.5 mm under the canal's dorsal edge, on the requested side; the
// lead runs up inside the true canal to the middle of the true T8 body.
TEST(PlanSample, ScsFromT12L1ToT8EntersTheDorsalEpiduralSpaceOnly) {
  const Case& c = sampleCase("prone");
  for (Side side : {Side::Left, Side::Right}) {
    ProcedureRequest r;
    r.procedure = Procedure::Scs;
    r.scsEntry = "T12-L1";
    r.scsTip = "T8";
    r.side = side;
    r.prone = true;
    r.needle = {14, 150, 0};
    const Plan p = planProcedure(c.ct, c.spine, r);
    ASSERT_EQ(p.needles.size(), 1u);
    const NervePlan& n = p.needles[0];
    ASSERT_TRUE(n.best.has_value()) << n.whyNone;
    const Trajectory& t = *n.best;
    const auto viol = truthViolations(c.truthLabels, t.entryLps, t.targetLps, 0.0, 6.5);
    EXPECT_TRUE(viol.empty()) << viol.front() << " on " << t.reasons;
    // Depth under the canal's dorsal edge, marching backward (+y prone).
    const Volume& L = c.truthLabels;
    auto label = [&](Vec3 q) {
      const Vec3 i = L.lpsToIndex(q);
      return L.containsIndex(i) ? L.at(std::lround(i.x), std::lround(i.y), std::lround(i.z)) : 0;
    };
    ASSERT_EQ(label(t.targetLps), 200) << "the target is not in the canal";
    double depth = 0;
    while (label(t.targetLps + Vec3{0, depth, 0}) == 200 && depth < 30)
      depth += 0.25;
    EXPECT_LE(depth, 3.5) << "the needle tip is deeper than the dorsal epidural space";
    EXPECT_EQ(t.entryLps.x > 0, side == Side::Left);
    // At most 45 degrees to the skin, 1-2.5 cm off the midline (DESIGN.md 3).
    EXPECT_NE(t.reasons.find("paramedian from caudal"), std::string::npos) << t.reasons;
    EXPECT_LT(t.entryLps.z, t.targetLps.z) << "the needle comes from caudal";
    ASSERT_FALSE(p.leadPathLps.empty());
    std::size_t inside = 0;
    for (const Vec3& q : p.leadPathLps)
      inside += label(q) == 200;
    EXPECT_GE(double(inside), 0.9 * double(p.leadPathLps.size()));
    double t8z = 0;
    for (const auto& lv : c.truth["levels"])
      if (lv["level"] == "T8") t8z = vec(lv["body_centroid"]).z;
    EXPECT_NEAR(p.leadPathLps.back().z, t8z, 15.0);
    std::cout << n.side << ": " << t.reasons << "\n  " << p.leadSummary << "\n";
  }
}

// The same request with a 100 mm needle: the phantom's epidural space lies
// deeper than that along a path at 45 degrees or less to the skin; the plan
// says the needle is too short instead of steepening the path.
TEST(PlanSample, ScsWithTooShortANeedleSaysSo) {
  const Case& c = sampleCase("prone");
  ProcedureRequest r;
  r.procedure = Procedure::Scs;
  r.scsEntry = "T12-L1";
  r.scsTip = "T8";
  r.prone = true;
  r.needle = {14, 100, 0};
  const Plan p = planProcedure(c.ct, c.spine, r);
  ASSERT_EQ(p.needles.size(), 1u);
  EXPECT_FALSE(p.needles[0].best.has_value());
  EXPECT_NE(p.needles[0].whyNone.find("mm of needle"), std::string::npos) << p.needles[0].whyNone;
}

// SCS: an entry window outside the scan is refused with the reason, never
// invented.
TEST(PlanSample, ScsEntryOutsideTheScanIsRefused) {
  const Case& c = sampleCase("supine");
  ProcedureRequest r;
  r.procedure = Procedure::Scs;
  r.scsTip = "C5"; // entry C7-T1, above this T6-S1 scan
  r.needle = {14, 150, 0};
  const Plan p = planProcedure(c.ct, c.spine, r);
  ASSERT_EQ(p.needles.size(), 1u);
  EXPECT_FALSE(p.needles[0].best.has_value());
  EXPECT_NE(p.needles[0].whyNone.find("C7-T1 interlaminar window is not in the scan"),
            std::string::npos)
      << p.needles[0].whyNone;
  EXPECT_TRUE(p.leadPathLps.empty());
}
