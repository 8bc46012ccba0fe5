#include "dicom_samples/sample_runs.h"

#include <cmath>
#include <numbers>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "dicom_samples/xray_simulator.h"
#include "imaging/core/atomic_file.h"
#include "imaging/core/reslice.h"
#include "imaging/dicom/dose_report_writer.h"

namespace fluoroplan::samples {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct PlannedNeedle {
  std::string nerve;
  Vec3 tipLps, hubLps;
};

const NerveTarget& findNerve(const PhantomTruth& t, const std::string& nerve,
                             const std::string& side) {
  for (const auto& n : t.nerves)
    if (n.nerve == nerve && n.side == side) return n;
  throw std::runtime_error("sample runs: phantom has no " + nerve + " " + side);
}

// Parallel RF placement: the tip lies on the nerve's course over the bone,
// the shaft comes from caudal, lateral and posterior (prone patient) so that
// the active tip runs along the nerve (DESIGN.md section 3).
PlannedNeedle planNeedle(const Volume& ct, const NerveTarget& n, int side) {
  PlannedNeedle p;
  p.nerve = n.nerve + ", " + n.side;
  p.tipLps = n.startLps + 0.35 * (n.endLps - n.startLps);
  const Vec3 out = normalized(Vec3{side * 0.35, 0.75, -0.55});
  double t = 10;
  for (; t < 250; t += 1.0) {
    const Vec3 q = p.tipLps + t * out;
    if (sampleTrilinear(ct, ct.lpsToIndex(q), -1000) < -600) break; // past the skin
  }
  p.hubLps = p.tipLps + (t + 15) * out; // the hub stays outside the skin
  return p;
}

json vec(Vec3 v) {
  return json::array({v.x, v.y, v.z});
}

struct RunSpec {
  std::string name;
  bool enhanced = false;
  std::vector<double> primary, secondary; // per frame
  std::vector<double> depth;              // fraction of the path inserted, per frame
  double kvp = 75, mA = 3.0;
};

} // namespace

RunsSummary writeSampleRuns(const Phantom& prone, const SeriesIdentity& patient,
                            const fs::path& out, unsigned threads,
                            const ProgressCallback& progress) {
  const Volume& ct = prone.ct;
  const PhantomTruth& truth = prone.truth;
  const int side = +1; // left
  std::vector<PlannedNeedle> needles = {
      planNeedle(ct, findNerve(truth, "L3 medial branch", "left"), side),
      planNeedle(ct, findNerve(truth, "L4 medial branch", "left"), side),
      planNeedle(ct, findNerve(truth, "L5 dorsal ramus", "left"), side),
  };
  // Isocentre between the L4 and L5 laminae: what the operator centres on.
  Vec3 iso;
  int found = 0;
  for (const auto& m : truth.levels)
    if (m.level == "L4" || m.level == "L5") {
      iso = iso + m.laminaLps;
      ++found;
    }
  if (found != 2) throw std::runtime_error("sample runs: L4/L5 not in the phantom");
  iso = 0.5 * iso;

  // Prone patient: the tube is under the table, the detector on the back,
  // so a table-AP view has primary 180. Ipsilateral (left) oblique of 20
  // degrees with 35 degrees caudal tilt: detector behind, left, caudal.
  const std::vector<RunSpec> specs = {
      {"run1_ap",
       false,
       {180, 180, 180, 180, 180},
       {0, 0, 0, 0, 0},
       {0.15, 0.3, 0.45, 0.6, 0.7},
       72,
       2.5},
      {"run2_oblique",
       false,
       std::vector<double>(6, 160),
       std::vector<double>(6, -35),
       {0.7, 0.78, 0.85, 0.92, 0.97, 1.0},
       75,
       3.0},
      {"run3_lateral",
       false,
       std::vector<double>(4, 90),
       std::vector<double>(4, 0),
       {1.0, 1.0, 1.0, 1.0},
       85,
       4.0},
      {"run4_enhanced_ap_to_oblique",
       true,
       {180, 175, 170, 165},
       {0, -10, -20, -30},
       {1.0, 1.0, 1.0, 1.0},
       74,
       2.8},
  };
  Detector det;
  const double sid = 1000, sod = 650;
  const double frameTimeMs = 125, pulseMs = 10;
  // Reference air kerma per frame at 15 cm toward the source from the
  // isocentre, proportional to mA x pulse width and (kVp)^2: ~0.03 mGy per
  // pulse at 75 kV, 3 mA, 10 ms (lumbar fluoroscopy ~0.25 mGy/s at 8 p/s).
  auto kermaPerFrameMGy = [&](double kvp, double mA) {
    return 0.03 * (mA / 3.0) * (kvp / 75.0) * (kvp / 75.0);
  };
  // Field at the reference point: the 23 cm circular field scaled from the
  // detector (SID) to the reference point (SOD - 150 mm).
  const double fieldDiameterCm = 2 * det.fieldRadiusPx * det.pixelMm / 10.0 * (sod - 150) / sid;
  const double fieldAreaCm2 = std::numbers::pi * fieldDiameterCm * fieldDiameterCm / 4;

  fs::create_directories(out / "runs");
  json runsTruth;
  runsTruth["format"] = "fluoroplan-runs-truth/1";
  runsTruth["coordinates"] = "DICOM patient LPS, millimetres; pixels (column, row), (0,0) the "
                             "centre of the top-left pixel";
  runsTruth["dose_rule"] =
      "per frame: Ka,r [mGy] = 0.03 * (mA/3) * (kVp/75)^2; DAP [Gy cm2] = Ka,r [Gy] * field area "
      "at the reference point "
      "[cm2]; a legacy instance's (0018,115E) [dGy cm2] = 10 * sum of its frames' DAP [Gy cm2]; "
      "Entrance Dose (0040,8302) "
      "[mGy] = Ka,r * 1.35 * (reference distance / source-to-skin distance)^2; RDSR: one "
      "irradiation event per instance "
      "(enhanced: per frame), DAP [Gy m2] = DAP [Gy cm2] * 1e-4, Dose (RP) [Gy] = Ka,r * 1e-3";
  runsTruth["needles"] = json::array();
  for (const auto& n : needles)
    runsTruth["needles"].push_back(
        {{"nerve", n.nerve}, {"tip", vec(n.tipLps)}, {"hub", vec(n.hubLps)}});
  runsTruth["detector"] = {{"columns", det.columns},
                           {"rows", det.rows},
                           {"pixel_mm", det.pixelMm},
                           {"principal_point", {det.principalColumn, det.principalRow}},
                           {"field_radius_px", det.fieldRadiusPx},
                           {"pincushion_k", det.pincushionK},
                           {"focal_spot_mm", det.focalSpotMm}};
  runsTruth["runs"] = json::array();

  RunsSummary summary;
  DoseReportContent report;
  report.identity = patient;
  // The runs and their dose report are one procedure: one study.
  report.identity.studyInstanceUid = deterministicUid(patient.seed + "/runs/study");
  int instance = 0;
  std::size_t step = 0, steps = 0;
  for (const auto& s : specs)
    steps += s.primary.size();
  for (const RunSpec& spec : specs) {
    ++instance;
    XRayRunSpec x;
    x.identity = patient;
    x.identity.seed = patient.seed + "/runs";
    x.identity.studyInstanceUid = report.identity.studyInstanceUid;
    x.identity.seriesNumber = 10 + instance;
    x.identity.seriesDescription = spec.name;
    x.identity.manufacturer = "FluoroPlan";
    x.identity.modelName = "sample C-arm simulator";
    x.instanceNumber = instance;
    // The images and the dose report agree on when each run started, so a
    // ledger can match legacy images (no event UID) to report events.
    x.acquisitionDateTime = patient.studyDate + "0930" + std::to_string(10 + instance);
    x.enhanced = spec.enhanced;
    x.rows = static_cast<uint16_t>(det.rows);
    x.columns = static_cast<uint16_t>(det.columns);
    x.bitsStored = 10;
    x.frameTimeMs = frameTimeMs;
    x.patientPosition = "HFP";
    json runJson = {{"file", "runs/" + spec.name + ".dcm"},
                    {"name", spec.name},
                    {"enhanced", spec.enhanced},
                    {"frames", json::array()}};
    double dapInstanceGyCm2 = 0, kermaInstanceMGy = 0, entranceInstanceMGy = 0;
    std::unique_ptr<XRaySimulator> sim;
    double lastPrimary = 1e9, lastSecondary = 1e9;
    for (std::size_t f = 0; f < spec.primary.size(); ++f) {
      CArmPose pose;
      pose.primaryDeg = spec.primary[f];
      pose.secondaryDeg = spec.secondary[f];
      pose.sourceToDetectorMm = sid;
      pose.sourceToIsocenterMm = sod;
      pose.isocenterLps = iso;
      if (!sim || pose.primaryDeg != lastPrimary || pose.secondaryDeg != lastSecondary)
        sim = std::make_unique<XRaySimulator>(ct, pose, det, threads);
      lastPrimary = pose.primaryDeg;
      lastSecondary = pose.secondaryDeg;
      std::vector<Needle> shafts;
      json frameNeedles = json::array();
      for (const auto& n : needles) {
        // The hub stays put at the skin; the tip advances along the path.
        const Vec3 tip = n.hubLps + spec.depth[f] * (n.tipLps - n.hubLps);
        shafts.push_back({n.hubLps, tip, 0.9});
        const Vec3 px = projectIdeal(pose, det, tip);
        frameNeedles.push_back(
            {{"nerve", n.nerve}, {"tip", vec(tip)}, {"tip_pixel_ideal", {px.x, px.y}}});
      }
      Exposure ex;
      ex.kvp = spec.kvp;
      ex.mAs = spec.mA * pulseMs / 1000.0 * 10; // scaled to the simulator's quanta
      ex.noiseSeed = 1000 * instance + f;
      x.frames.push_back(sim->render(shafts, ex));
      // Dose of this frame.
      const double kerma = kermaPerFrameMGy(spec.kvp, spec.mA);
      const double dapGyCm2 = kerma * 1e-3 * fieldAreaCm2;
      // Source-to-skin distance along the central ray.
      const Vec3 src = pose.sourceLps(), dirc = pose.detectorDirection();
      double skin = sod;
      for (double t = 0; t < sod; t += 1.0)
        if (sampleTrilinear(ct, ct.lpsToIndex(src + t * dirc), -1000) > -500) {
          skin = t;
          break;
        }
      const double entrance = kerma * 1.35 * ((sod - 150) / skin) * ((sod - 150) / skin);
      dapInstanceGyCm2 += dapGyCm2;
      kermaInstanceMGy += kerma;
      entranceInstanceMGy += entrance;
      CArmPositioner pos;
      pos.primaryAngleDeg = pose.primaryDeg;
      pos.secondaryAngleDeg = pose.secondaryDeg;
      pos.sourceToDetectorMm = sid;
      pos.sourceToPatientMm = sod; // (0018,1111) is source to isocentre in XA
      pos.sourceToIsocenterMm = sod;
      pos.imagerPixelSpacingMm = std::array<double, 2>{det.pixelMm, det.pixelMm};
      pos.intensifierSizeMm = 2 * det.fieldRadiusPx * det.pixelMm;
      pos.fieldOfViewShape = "ROUND";
      pos.tableTopVerticalMm = 0;
      pos.tableTopLongitudinalMm = 0;
      pos.tableTopLateralMm = 0;
      XRayExposure xe;
      xe.kvp = spec.kvp;
      xe.tubeCurrentMA = spec.mA;
      xe.exposureTimeMs = pulseMs;
      xe.pulseWidthMs = pulseMs;
      xe.areaDoseProductDGyCm2 = dapGyCm2 * 10.0;
      xe.entranceDoseMGy = entrance;
      xe.radiationSetting = "SC";
      if (spec.enhanced) {
        x.framePositioners.push_back(pos);
        x.frameExposures.push_back(xe);
        DoseReportEvent ev;
        ev.irradiationEventUid = deterministicUid(
            x.identity.seed + "/run/" + std::to_string(instance) + "/event/" + std::to_string(f));
        ev.startDateTime = x.acquisitionDateTime;
        ev.doseAreaProductGyM2 = dapGyCm2 * 1e-4;
        ev.doseRpGy = kerma * 1e-3;
        ev.exposureTimeS = pulseMs / 1000.0;
        ev.primaryAngleDeg = pose.primaryDeg;
        ev.secondaryAngleDeg = pose.secondaryDeg;
        ev.kvp = spec.kvp;
        ev.tubeCurrentMA = spec.mA;
        ev.pulseWidthMs = pulseMs;
        ev.numberOfPulses = 1;
        report.events.push_back(ev);
      } else {
        x.positioner = pos;
      }
      // The ideal (undistorted) projection matrix LPS -> pixel.
      const Vec3 u = pose.columnDirection(), v = pose.rowDirection(), d = pose.detectorDirection();
      const double fpx = sid / det.pixelMm;
      json P = json::array();
      const Vec3 rowsOfK[3] = {fpx * u + det.principalColumn * d, fpx * v + det.principalRow * d,
                               d};
      for (int r = 0; r < 3; ++r)
        P.push_back({rowsOfK[r].x, rowsOfK[r].y, rowsOfK[r].z, -dot(rowsOfK[r], src)});
      runJson["frames"].push_back({{"index", f},
                                   {"primary_deg", pose.primaryDeg},
                                   {"secondary_deg", pose.secondaryDeg},
                                   {"source_to_detector_mm", sid},
                                   {"source_to_isocenter_mm", sod},
                                   {"isocenter", vec(iso)},
                                   {"source", vec(src)},
                                   {"projection_matrix_ideal", P},
                                   {"needles", frameNeedles},
                                   {"kerma_rp_mGy", kerma},
                                   {"dap_Gy_cm2", dapGyCm2},
                                   {"entrance_dose_mGy", entrance}});
      reportProgress(progress, double(++step) / double(steps), "rendering C-arm runs");
    }
    if (!spec.enhanced) {
      XRayExposure xe;
      xe.kvp = spec.kvp;
      xe.tubeCurrentMA = spec.mA;
      xe.exposureTimeMs = pulseMs * double(spec.primary.size());
      xe.pulseWidthMs = pulseMs;
      xe.areaDoseProductDGyCm2 = dapInstanceGyCm2 * 10.0;
      xe.entranceDoseMGy = entranceInstanceMGy;
      xe.radiationSetting = "SC";
      x.exposure = xe;
      DoseReportEvent ev;
      ev.irradiationEventUid =
          deterministicUid(x.identity.seed + "/run/" + std::to_string(instance) + "/event");
      ev.startDateTime = x.acquisitionDateTime;
      ev.doseAreaProductGyM2 = dapInstanceGyCm2 * 1e-4;
      ev.doseRpGy = kermaInstanceMGy * 1e-3;
      ev.exposureTimeS = pulseMs * double(spec.primary.size()) / 1000.0;
      ev.primaryAngleDeg = spec.primary[0];
      ev.secondaryAngleDeg = spec.secondary[0];
      ev.kvp = spec.kvp;
      ev.tubeCurrentMA = spec.mA;
      ev.pulseWidthMs = pulseMs;
      ev.numberOfPulses = static_cast<int>(spec.primary.size());
      report.events.push_back(ev);
    }
    writeXRayRun(x, out / "runs" / (spec.name + ".dcm"));
    runJson["dap_dGy_cm2"] = dapInstanceGyCm2 * 10.0;
    runJson["kerma_rp_mGy"] = kermaInstanceMGy;
    runsTruth["runs"].push_back(runJson);
    summary.instances++;
    summary.frames += int(spec.primary.size());
    summary.totalDapDGyCm2 += dapInstanceGyCm2 * 10.0;
    summary.totalKermaRpMGy += kermaInstanceMGy;
    summary.totalFluoroTimeS += pulseMs * double(spec.primary.size()) / 1000.0;
  }
  writeDoseReport(report, out / "runs" / "dose_report.dcm");
  runsTruth["totals"] = {{"dap_dGy_cm2", summary.totalDapDGyCm2},
                         {"kerma_rp_mGy", summary.totalKermaRpMGy},
                         {"fluoro_time_s", summary.totalFluoroTimeS},
                         {"frames", summary.frames}};
  fs::create_directories(out / "truth");
  writeFileAtomically(out / "truth" / "runs_truth.json", runsTruth.dump(2));
  return summary;
}

} // namespace fluoroplan::samples
