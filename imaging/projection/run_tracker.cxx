#include "imaging/projection/run_tracker.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace fluoroplan {

namespace {
// How far around a needle the registration looks away (8 px, about 2.3 mm
// at the isocentre on a 0.45 mm detector).
constexpr double kNeedleMaskPx = 8;
} // namespace

Drr needleDrr(const Registration2D3D& registration, const CArmGeometry& pose,
              const std::vector<uint8_t>& field) {
  return registration.drrAt(pose, &field, 0, 2);
}

std::vector<NeedleToPlan> needlesOnFrame(const Registration2D3D& registration,
                                         const TrackedFrame& frame,
                                         const std::vector<OverlayTrajectory>& plan,
                                         std::optional<FieldDrr>* cache) {
  const RegistrationResult& r = frame.registration;
  if (!r.accepted) return {};
  std::optional<FieldDrr> local;
  std::optional<FieldDrr>& d = cache ? *cache : local;
  if (!d || d->pose != r.geometry || d->field != frame.image.mask)
    d = FieldDrr{r.geometry, frame.image.mask,
                 needleDrr(registration, r.geometry, frame.image.mask)};
  std::vector<std::array<double, 2>> targets;
  for (const auto& t : plan)
    targets.push_back(r.geometry.project(t.targetLps));
  return compareNeedlesToPlan(
      detectNeedles(frame.image.value, frame.image.mask, d->drr.lineIntegral, r.geometry, targets),
      r.geometry, plan);
}

std::vector<NeedlePlacement> needlePlacements(std::vector<FrameNeedles> frames, double advanceMm) {
  std::stable_sort(frames.begin(), frames.end(), [](const FrameNeedles& a, const FrameNeedles& b) {
    return a.timeSeconds < b.timeSeconds;
  });
  std::map<int, NeedlePlacement> byPath;
  std::map<int, double> lastAdvance; // the tip's distance when it last advanced
  for (const FrameNeedles& f : frames)
    for (const NeedleToPlan& n : f.needles) {
      if (n.trajectory < 0) continue;
      auto [it, fresh] = byPath.try_emplace(n.trajectory);
      NeedlePlacement& p = it->second;
      if (fresh) {
        p.trajectory = n.trajectory;
        p.startSeconds = p.endSeconds = f.timeSeconds;
        p.closestTipToTargetMm = lastAdvance[n.trajectory] = n.tipToTargetMm;
      } else if (n.tipToTargetMm < lastAdvance[n.trajectory] - advanceMm) {
        p.endSeconds = f.timeSeconds;
        lastAdvance[n.trajectory] = n.tipToTargetMm;
      }
      p.closestTipToTargetMm = std::min(p.closestTipToTargetMm, n.tipToTargetMm);
      ++p.frames;
    }
  std::vector<NeedlePlacement> out;
  for (const auto& [path, p] : byPath)
    out.push_back(p);
  return out;
}

double frameSimilarity(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || a.empty()) return 0;
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  const double n = double(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    sa += a[i];
    sb += b[i];
    saa += double(a[i]) * a[i];
    sbb += double(b[i]) * b[i];
    sab += double(a[i]) * b[i];
  }
  const double va = saa - sa * sa / n, vb = sbb - sb * sb / n;
  return va > 0 && vb > 0 ? (sab - sa * sb / n) / std::sqrt(va * vb) : 0;
}

RunTracker::RunTracker(const Registration2D3D& registration, IntensifierDistortion distortion,
                       Vec3 guess, RegistrationOptions options, std::vector<OverlayTrajectory> plan)
    : reg_(registration), distortion_(distortion), guess_(guess), options_(options),
      plan_(std::move(plan)) {}

bool RunTracker::guardLevel(TrackedFrame& t, const RegistrationImage& compared,
                            const CArmGeometry& start) {
  if (!names_) return t.registration.accepted;
  LevelCheckOptions lo;
  lo.registration = options_;
  LevelCheck c = checkLevel(reg_, compared, t.registration, start, *names_, lo);
  if (c.betterStart) {
    const RegistrationResult moved = reg_.run(compared, *c.betterStart, false, options_);
    LevelCheck again = checkLevel(reg_, compared, moved, *c.betterStart, *names_, lo);
    if (moved.accepted && again.confirmed) {
      t.registration = moved;
      t.how += "; moved a level by the level check";
      again.reason = c.reason + "; moved there: " + again.reason;
      c = again;
    } else {
      t.registration.accepted = false;
      t.registration.reason =
          c.reason + "; from there: " + (moved.accepted ? again.reason : moved.reason);
    }
  } else if (!c.confirmed && t.registration.accepted) {
    t.registration.accepted = false;
    t.registration.reason = c.reason;
  }
  t.levelCheck = c;
  return t.registration.accepted;
}

TrackedFrame RunTracker::next(const DicomFile& file, const XRayRun& run, std::size_t frame) {
  if (run.header.sopInstanceUid != runUid_) {
    runUid_ = run.header.sopInstanceUid;
    previous_.reset();
    previousDicom_.reset();
    previousSamples_.clear();
    previousNeedles_.clear();
    previousCheck_.reset();
    previousDrr_.reset();
  }
  TrackedFrame t;
  t.index = frame;
  const FrameSamples s = file.frame(uint32_t(frame));
  t.columns = s.columns;
  t.rows = s.rows;
  t.samples.assign(s.values.begin(), s.values.end());
  IntensifierDistortion d = distortion_;
  d.centreColumn = (s.columns - 1) / 2.0;
  d.centreRow = (s.rows - 1) / 2.0;
  const std::vector<float> ideal =
      d.k != 0 ? correctDistortion(t.samples, s.columns, s.rows, d) : t.samples;
  t.image = registrationImageFromFrame(ideal, s.columns, s.rows);
  // What the collimator blocked, as the C-arm recorded it (the blades'
  // shadows on the image are also found without it).
  maskOutsideCollimator(t.image, framePositioner(run, frame), d);
  // The needles move little from frame to frame: where they were is left
  // out.
  RegistrationImage compared = t.image;
  t.needlePixelsMasked =
      maskNeedles(compared.mask, s.columns, s.rows, previousNeedles_, kNeedleMaskPx);
  const FrameGeometry fg =
      frameGeometry(run, frame, previous_ ? previous_->geometry.isocentreLps : guess_);
  t.defaultsUsed = fg.defaultsUsed;
  const bool sameAngles = previousDicom_ && fg.geometry.primaryDeg == previousDicom_->primaryDeg &&
                          fg.geometry.secondaryDeg == previousDicom_->secondaryDeg;
  auto search = [&](const std::string& how) {
    t.registration = reg_.run(compared, fg.geometry, true, options_);
    t.how = how;
    guardLevel(t, compared, fg.geometry);
  };
  if (previous_ && sameAngles && frameSimilarity(t.samples, previousSamples_) > 0.98) {
    t.registration = *previous_;
    t.levelCheck = previousCheck_;
    t.how = std::string("C-arm and image unchanged: the previous frame's ") +
            (previous_->accepted ? "pose" : "result");
  } else if (previous_ && previous_->accepted) {
    CArmGeometry start = fg.geometry;
    start.isocentreLps = previous_->geometry.isocentreLps;
    start.primaryDeg += previous_->geometry.primaryDeg - previousDicom_->primaryDeg;
    start.secondaryDeg += previous_->geometry.secondaryDeg - previousDicom_->secondaryDeg;
    start.inPlaneDeg = previous_->geometry.inPlaneDeg;
    RegistrationOptions tracking = options_;
    tracking.tracking = TrackingPrior{previous_->correlation, previous_->inPlaneErrorMm,
                                      previous_->alongBeamErrorMm};
    t.registration = reg_.run(compared, start, false, tracking);
    t.how = "refined from the previous frame's pose (the C-arm moved)";
    // Tracked (same anatomy, nearly the same view): the last check holds.
    const bool tracked = t.registration.reason.rfind("tracked", 0) == 0;
    if (t.registration.accepted && tracked)
      t.levelCheck = previousCheck_;
    else if (t.registration.accepted)
      guardLevel(t, compared, start);
    if (!t.registration.accepted) search("searched again");
  } else if (!landmarks_.empty()) {
    std::vector<LandmarkPair> ideal = landmarks_;
    for (LandmarkPair& l : ideal)
      l.framePx = d.k != 0 ? d.undistort(l.framePx[0], l.framePx[1]) : l.framePx;
    double rms = 0;
    const CArmGeometry start = startFromLandmarks(fg.geometry, ideal, &rms);
    t.landmarkStart = start;
    t.registration = reg_.run(compared, start, false, options_);
    t.how = "started from " + std::to_string(ideal.size()) + " landmark(s) (" +
            std::to_string(int(std::lround(rms))) + " px apart before refining)";
    // Landmarks a level off (counted from the sacrum on an L6 spine) often
    // do not register at all: the guard looks a level each way first.
    if (!guardLevel(t, compared, start)) search("searched (the landmarks' start did not register)");
    landmarks_.clear();
  } else {
    search("searched");
  }
  // A frame kept at the previous pose reuses its DRR.
  t.needles = needlesOnFrame(reg_, t, plan_, &previousDrr_);
  previousNeedles_.clear();
  for (const NeedleToPlan& n : t.needles)
    previousNeedles_.push_back(n.needle);
  previous_ = t.registration;
  previousCheck_ = t.levelCheck;
  previousDicom_ = fg.geometry;
  previousSamples_ = t.samples;
  return t;
}

LevelTracker::LevelTracker(const Registration2D3D& registration,
                           std::map<std::string, std::vector<Vec3>> boneByLevel,
                           RegistrationOptions options)
    : reg_(registration), bone_(std::move(boneByLevel)), options_(options) {}

std::map<std::string, RegistrationResult> LevelTracker::next(const TrackedFrame& frame,
                                                             bool sameRun) {
  std::map<std::string, RegistrationResult> out;
  const RegistrationResult& whole = frame.registration;
  if (!sameRun) {
    previous_.clear();
    previousFrame_.reset();
  }
  // Where a level starts when it has no pose of its own to follow.
  std::optional<RegistrationResult> base;
  if (whole.accepted) {
    base = whole;
  } else if (frame.landmarkStart) {
    base = RegistrationResult{};
    base->geometry = *frame.landmarkStart;
  }
  const bool kept = frame.how.rfind("C-arm and image unchanged", 0) == 0;
  // The needles the frame's pose found are left out, as RunTracker leaves
  // out the previous frame's: the CT does not hold them.
  RegistrationImage image = frame.image;
  {
    std::vector<DetectedNeedle> found;
    for (const NeedleToPlan& n : frame.needles)
      found.push_back(n.needle);
    maskNeedles(image.mask, image.columns, image.rows, found, kNeedleMaskPx);
  }
  // Levels started from the user's landmarks (the frame did not register
  // as a whole and the level had no pose of its own to follow).
  std::vector<std::string> fromLandmarks;
  for (const auto& [level, bone] : bone_) {
    const auto before = previous_.find(level);
    const bool havePrevious = before != previous_.end() && before->second.accepted;
    if (kept && havePrevious) {
      out[level] = before->second;
      continue;
    }
    RegistrationResult r;
    r.reason = "no pose to start this level from (the frame did not register)";
    if (havePrevious) {
      // The level's previous pose, moved as the frame's pose moved (when
      // both frames registered whole).
      RegistrationResult start = before->second;
      CArmGeometry& g = start.geometry;
      if (whole.accepted && previousFrame_) {
        g.isocentreLps =
            g.isocentreLps + (whole.geometry.isocentreLps - previousFrame_->isocentreLps);
        g.primaryDeg += whole.geometry.primaryDeg - previousFrame_->primaryDeg;
        g.secondaryDeg += whole.geometry.secondaryDeg - previousFrame_->secondaryDeg;
        g.inPlaneDeg += whole.geometry.inPlaneDeg - previousFrame_->inPlaneDeg;
      }
      RegistrationOptions tracking = options_;
      tracking.tracking = TrackingPrior{before->second.correlation, before->second.inPlaneErrorMm,
                                        before->second.alongBeamErrorMm};
      r = reg_.runLevel(image, start, bone, 2, tracking);
    }
    if (!r.accepted && base) {
      r = reg_.runLevel(image, *base, bone, 2, options_);
      if (!whole.accepted) {
        fromLandmarks.push_back(level);
        // Started from landmarks, whose fit leaves depth where the DICOM
        // pose's guess put it: a single level started 20-40 mm off in depth
        // can settle on a wrong pose. When it does not register, try 25 mm
        // nearer and farther, and keep the best that registers.
        if (!r.accepted)
          for (double d : {-25.0, 25.0}) {
            RegistrationResult start = *base;
            start.geometry.isocentreLps =
                start.geometry.isocentreLps + d * start.geometry.detectorDirection();
            RegistrationResult t = reg_.runLevel(image, start, bone, 2, options_);
            if (t.accepted && (!r.accepted || t.correlation > r.correlation)) r = t;
          }
      }
    }
    out[level] = r;
  }
  // Another level that registered from the landmarks is a far better start
  // than their depth guess: each such level is also started from the
  // others' poses, and keeps the best that registers (the sample's prone
  // L4, 11 degrees more tilted in the supine CT than the patient on the
  // table, registered 1.2 mm off at correlation 0.75 from the landmarks'
  // depth; from the sacrum's pose 0.4 mm off at 0.91).
  for (const std::string& level : fromLandmarks)
    for (const std::string& other : fromLandmarks) {
      if (other == level || !out[other].accepted) continue;
      RegistrationResult t = reg_.runLevel(image, out[other], bone_.at(level), 2, options_);
      if (t.accepted && (!out[level].accepted || t.correlation > out[level].correlation)) {
        t.reason += " (started from the " + other + "'s pose)";
        out[level] = t;
      }
    }
  previous_ = out;
  if (whole.accepted)
    previousFrame_ = whole.geometry;
  else
    previousFrame_.reset();
  return out;
}

} // namespace fluoroplan
