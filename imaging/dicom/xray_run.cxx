#include "imaging/dicom/xray_run.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcsequen.h>

#include "imaging/dicom/dicom_internal.h"

namespace fluoroplan {
using namespace dicom;

namespace {

// Tags not in every DCMTK dictionary version are spelled out.
const DcmTagKey kTableTopVertical(0x300A, 0x0128);
const DcmTagKey kTableTopLongitudinal(0x300A, 0x0129);
const DcmTagKey kTableTopLateral(0x300A, 0x012A);

// Value i of a numeric element, binary or as text (DS, IS).
std::optional<double> valueAt(DcmElement& el, unsigned long i) {
  Float64 f;
  if (el.getFloat64(f, i).good()) return f;
  OFString s;
  if (el.getOFString(s, i).good() && !s.empty()) return std::strtod(s.c_str(), nullptr);
  return std::nullopt;
}

// Looks a value up the way functional groups nest it: in the given items in
// order (per-frame group, shared group, top-level data set), searching each
// item's sequences.
struct Lookup {
  std::vector<DcmItem*> items;
  std::optional<double> number(const DcmTagKey& tag) const {
    for (DcmItem* it : items)
      if (it)
        if (auto v = numberValueDeep(*it, tag)) return v;
    return std::nullopt;
  }
  std::optional<std::array<double, 2>> pair(const DcmTagKey& tag) const {
    for (DcmItem* it : items) {
      if (!it) continue;
      DcmElement* el = nullptr;
      if (it->findAndGetElement(tag, el, OFTrue).good() && el && el->getVM() >= 2) {
        const auto a = valueAt(*el, 0), b = valueAt(*el, 1);
        if (a && b) return std::array<double, 2>{*a, *b};
      }
    }
    return std::nullopt;
  }
  // Every value of a multi-valued numeric attribute (empty when absent).
  std::vector<double> numbers(const DcmTagKey& tag) const {
    for (DcmItem* it : items) {
      if (!it) continue;
      DcmElement* el = nullptr;
      if (it->findAndGetElement(tag, el, OFTrue).bad() || !el || el->getVM() == 0) continue;
      std::vector<double> out;
      for (unsigned long i = 0; i < el->getVM(); ++i)
        if (const auto v = valueAt(*el, i)) out.push_back(*v);
      return out;
    }
    return {};
  }
  std::string string(const DcmTagKey& tag) const {
    for (DcmItem* it : items)
      if (it) {
        auto s = stringValueDeep(*it, tag);
        if (!s.empty()) return s;
      }
    return {};
  }
};

// A polygon's vertices from row\column pairs; `what` names the attribute
// for the error.
std::vector<std::array<double, 2>> polygonFrom(const std::vector<double>& v,
                                               const std::string& path, const std::string& what) {
  if (v.empty()) return {};
  if (v.size() % 2 != 0 || v.size() < 6)
    throw DicomFileError(path, what + " holds " + std::to_string(v.size()) +
                                   " values: not the row\\column pairs of 3 or more vertices");
  std::vector<std::array<double, 2>> out;
  for (std::size_t i = 0; i + 1 < v.size(); i += 2)
    out.push_back({v[i], v[i + 1]});
  return out;
}

CArmPositioner readPositioner(const Lookup& l, const std::string& path) {
  CArmPositioner p;
  p.primaryAngleDeg = l.number(DCM_PositionerPrimaryAngle);
  p.secondaryAngleDeg = l.number(DCM_PositionerSecondaryAngle);
  p.sourceToDetectorMm = l.number(DCM_DistanceSourceToDetector);
  p.sourceToPatientMm = l.number(DCM_DistanceSourceToPatient);
  p.sourceToIsocenterMm = l.number(DCM_DistanceSourceToIsocenter);
  p.imagerPixelSpacingMm = l.pair(DCM_ImagerPixelSpacing);
  p.magnificationFactor = l.number(DCM_EstimatedRadiographicMagnificationFactor);
  p.intensifierSizeMm = l.number(DCM_IntensifierSize);
  p.tableHeightMm = l.number(DCM_TableHeight);
  p.tableTraverseMm = l.number(DCM_TableTraverse);
  p.tableTopVerticalMm = l.number(kTableTopVertical);
  p.tableTopLongitudinalMm = l.number(kTableTopLongitudinal);
  p.tableTopLateralMm = l.number(kTableTopLateral);
  p.fieldOfViewOrigin = l.pair(DCM_FieldOfViewOrigin);
  p.fieldOfViewRotationDeg = l.number(DCM_FieldOfViewRotation);
  p.fieldOfViewHorizontalFlip = l.string(DCM_FieldOfViewHorizontalFlip);
  p.fieldOfViewShape = l.string(DCM_FieldOfViewShape);
  // The collimator as acquired, else the shutter a C-arm put in its place.
  p.collimatorShape = l.string(DCM_CollimatorShape);
  if (!p.collimatorShape.empty()) {
    p.collimatorLeftColumn = l.number(DCM_CollimatorLeftVerticalEdge);
    p.collimatorRightColumn = l.number(DCM_CollimatorRightVerticalEdge);
    p.collimatorUpperRow = l.number(DCM_CollimatorUpperHorizontalEdge);
    p.collimatorLowerRow = l.number(DCM_CollimatorLowerHorizontalEdge);
    p.collimatorCircleCentre = l.pair(DCM_CenterOfCircularCollimator);
    p.collimatorCircleRadius = l.number(DCM_RadiusOfCircularCollimator);
    p.collimatorPolygon = polygonFrom(l.numbers(DCM_VerticesOfThePolygonalCollimator), path,
                                      "Vertices of the Polygonal Collimator (0018,1720)");
  } else {
    p.collimatorShape = l.string(DCM_ShutterShape);
    p.collimatorLeftColumn = l.number(DCM_ShutterLeftVerticalEdge);
    p.collimatorRightColumn = l.number(DCM_ShutterRightVerticalEdge);
    p.collimatorUpperRow = l.number(DCM_ShutterUpperHorizontalEdge);
    p.collimatorLowerRow = l.number(DCM_ShutterLowerHorizontalEdge);
    p.collimatorCircleCentre = l.pair(DCM_CenterOfCircularShutter);
    p.collimatorCircleRadius = l.number(DCM_RadiusOfCircularShutter);
    p.collimatorPolygon = polygonFrom(l.numbers(DCM_VerticesOfThePolygonalShutter), path,
                                      "Vertices of the Polygonal Shutter (0018,1620)");
  }
  return p;
}

XRayExposure readExposure(const Lookup& l) {
  XRayExposure e;
  e.areaDoseProductDGyCm2 = l.number(DCM_ImageAndFluoroscopyAreaDoseProduct);
  e.entranceDoseMGy = l.number(DCM_EntranceDoseInmGy);
  e.exposureTimeMs = l.number(DCM_ExposureTimeInms);
  if (!e.exposureTimeMs) e.exposureTimeMs = l.number(DCM_ExposureTime);
  e.kvp = l.number(DCM_KVP);
  e.tubeCurrentMA = l.number(DCM_XRayTubeCurrentInmA);
  if (!e.tubeCurrentMA) e.tubeCurrentMA = l.number(DCM_XRayTubeCurrent);
  e.pulseWidthMs = l.number(DCM_AveragePulseWidth);
  e.exposureMAs = l.number(DCM_Exposure);
  e.radiationSetting = l.string(DCM_RadiationSetting);
  return e;
}

DcmItem* groupItem(DcmDataset& ds, const DcmTagKey& seqTag, unsigned long index) {
  DcmItem* item = nullptr;
  if (ds.findAndGetSequenceItem(seqTag, item, static_cast<signed long>(index)).bad())
    return nullptr;
  return item;
}

} // namespace

XRayRun readXRayRun(const DicomFile& file) {
  const DicomHeader& h = file.header();
  if (h.kind != DicomObjectKind::XRayRun && h.kind != DicomObjectKind::EnhancedXRayRun)
    throw DicomFileError(h.path, "not an XA or RF image (SOP Class " + h.sopClassUid +
                                     ", modality " + h.modality + ")");
  DcmDataset& ds = *file.impl().dataset();
  XRayRun run;
  run.header = h;
  run.patientPosition = stringValue(ds, DCM_PatientPosition);
  run.acquisitionDateTime = stringValue(ds, DCM_AcquisitionDateTime);
  if (run.acquisitionDateTime.empty()) {
    const std::string date = stringValue(ds, DCM_AcquisitionDate),
                      time = stringValue(ds, DCM_AcquisitionTime);
    if (!date.empty() && !time.empty()) run.acquisitionDateTime = date + time;
  }
  if (run.acquisitionDateTime.empty()) {
    const std::string date = stringValue(ds, DCM_ContentDate),
                      time = stringValue(ds, DCM_ContentTime);
    if (!date.empty() && !time.empty()) run.acquisitionDateTime = date + time;
  }
  run.irradiationEventUid = stringValue(ds, DCM_IrradiationEventUID);
  OFString orient;
  if (ds.findAndGetOFStringArray(DCM_PatientOrientation, orient).good())
    run.patientOrientation = orient.c_str();
  run.frameTimeMs = numberValue(ds, DCM_FrameTime);
  run.cineRateHz = numberValue(ds, DCM_CineRate);
  if (!run.frameTimeMs && run.cineRateHz && *run.cineRateHz > 0)
    run.frameTimeMs = 1000.0 / *run.cineRateHz;
  const std::vector<double> frameTimeVector = numberValues(ds, DCM_FrameTimeVector);
  run.primaryAngleIncrementsDeg = numberValues(ds, DCM_PositionerPrimaryAngleIncrement);
  run.secondaryAngleIncrementsDeg = numberValues(ds, DCM_PositionerSecondaryAngleIncrement);
  run.rotational =
      run.primaryAngleIncrementsDeg.size() > 1 || run.secondaryAngleIncrementsDeg.size() > 1;

  DcmItem* shared = groupItem(ds, DCM_SharedFunctionalGroupsSequence, 0);
  const Lookup top{{&ds}};
  const bool enhanced = h.kind == DicomObjectKind::EnhancedXRayRun;
  DcmItem* firstPerFrame =
      enhanced ? groupItem(ds, DCM_PerFrameFunctionalGroupsSequence, 0) : nullptr;
  const Lookup runLookup{{firstPerFrame, shared, &ds}};
  run.positioner = readPositioner(runLookup, h.path);
  run.exposure = readExposure(enhanced ? runLookup : top);

  double elapsed = 0;
  for (uint32_t f = 0; f < h.numberOfFrames; ++f) {
    XRayFrameInfo info;
    info.index = f;
    if (enhanced) {
      DcmItem* perFrame = groupItem(ds, DCM_PerFrameFunctionalGroupsSequence, f);
      const Lookup l{{perFrame, shared, &ds}};
      info.positioner = readPositioner(l, h.path);
      info.exposure = readExposure(l);
      if (perFrame) {
        info.irradiationEventUid = stringValueDeep(*perFrame, DCM_IrradiationEventUID);
        info.acquisitionDateTime = stringValueDeep(*perFrame, DCM_FrameAcquisitionDateTime);
        info.ownAreaDoseProduct =
            numberValueDeep(*perFrame, DCM_ImageAndFluoroscopyAreaDoseProduct).has_value();
      }
    } else {
      info.positioner = run.positioner;
      info.exposure = run.exposure;
    }
    // Frame Time Vector holds the time since the previous frame (first is 0).
    if (frameTimeVector.size() == h.numberOfFrames) {
      elapsed += frameTimeVector[f];
      info.timeFromStartMs = elapsed;
    } else if (run.frameTimeMs) {
      info.timeFromStartMs = f * *run.frameTimeMs;
    }
    run.frames.push_back(std::move(info));
  }

  const CArmPositioner& p = run.positioner;
  auto need = [&](bool present, const char* name) {
    if (!present) run.missingGeometry.emplace_back(name);
  };
  need(p.primaryAngleDeg.has_value(), "Positioner Primary Angle (0018,1510)");
  need(p.secondaryAngleDeg.has_value(), "Positioner Secondary Angle (0018,1511)");
  need(p.sourceToDetectorMm.has_value(), "Distance Source to Detector (0018,1110)");
  need(p.sourceToPatientMm.has_value() || p.sourceToIsocenterMm.has_value(),
       "Distance Source to Patient (0018,1111)");
  need(p.imagerPixelSpacingMm.has_value(), "Imager Pixel Spacing (0018,1164)");
  need(!run.patientPosition.empty(), "Patient Position (0018,5100)");
  return run;
}

} // namespace fluoroplan
