#pragma once
// A C-arm run (XA or RF; legacy single/multi-frame or Enhanced XA/XRF with
// functional groups): per frame its timing, C-arm geometry and exposure, as
// the file states them. A value the file does not carry stays empty and is
// listed as missing: nothing is invented here (calibrated defaults belong to
// imaging/projection, marked as such).
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "imaging/dicom/dicom_file.h"

namespace fluoroplan {

struct CArmPositioner {
  std::optional<double> primaryAngleDeg;                     // (0018,1510), LAO positive
  std::optional<double> secondaryAngleDeg;                   // (0018,1511), CRA positive
  std::optional<double> sourceToDetectorMm;                  // (0018,1110)
  std::optional<double> sourceToPatientMm;                   // (0018,1111)
  std::optional<double> sourceToIsocenterMm;                 // (0018,9402), enhanced only
  std::optional<std::array<double, 2>> imagerPixelSpacingMm; // (0018,1164) row\column spacing
  std::optional<double> magnificationFactor;                 // (0018,1114)
  std::optional<double> intensifierSizeMm;                   // (0018,1162)
  std::optional<double> tableHeightMm;                       // (0018,1130)
  std::optional<double> tableTraverseMm;                     // (0018,1131)
  std::optional<double> tableTopVerticalMm, tableTopLongitudinalMm,
      tableTopLateralMm;                                  // (300A,0128-012A)
  std::optional<std::array<double, 2>> fieldOfViewOrigin; // (0018,7030)
  std::optional<double> fieldOfViewRotationDeg;           // (0018,7032)
  std::string fieldOfViewHorizontalFlip;                  // (0018,7034) "YES"/"NO"
  std::string fieldOfViewShape;                           // (0018,1147)
  // Where the collimator lets the beam through, in stored pixels, 1-based
  // as DICOM numbers them: X-Ray Collimator (0018,1700-1712), else the
  // Display Shutter (0018,1600-1612) that some C-arms write instead. The
  // shape names the parts present ("RECTANGULAR", "CIRCULAR", "POLYGONAL",
  // joined by '\'); outside any of them is blade, not image.
  std::string collimatorShape;
  std::optional<double> collimatorLeftColumn, collimatorRightColumn; // vertical edges
  std::optional<double> collimatorUpperRow, collimatorLowerRow;      // horizontal edges
  std::optional<std::array<double, 2>> collimatorCircleCentre;       // row\column
  std::optional<double> collimatorCircleRadius;                      // pixels
  // The polygon's vertices in order, each row\column (0018,1720 or 1620).
  std::vector<std::array<double, 2>> collimatorPolygon;
};

// Exposure as stored with the image. Units as DICOM defines them: the area
// dose product here is in dGy*cm2 and includes the fluoroscopy since the
// previous stored image; entrance dose is a skin-entrance value in mGy, not
// the reference air kerma.
struct XRayExposure {
  std::optional<double> areaDoseProductDGyCm2; // (0018,115E)
  std::optional<double> entranceDoseMGy;       // (0040,8302)
  std::optional<double> exposureTimeMs;        // (0018,1150) or (0018,9328)
  std::optional<double> kvp;                   // (0018,0060)
  std::optional<double> tubeCurrentMA;         // (0018,1151) or (0018,9330)
  std::optional<double> pulseWidthMs;          // (0018,1154)
  std::optional<double> exposureMAs;           // (0018,1152)
  std::string radiationSetting;                // (0018,1155) SC or GR
};

struct XRayFrameInfo {
  uint32_t index = 0;
  std::optional<double> timeFromStartMs;
  std::string irradiationEventUid; // (0008,3010) in the frame's functional groups, if any
  std::string acquisitionDateTime; // (0018,9074) Frame Acquisition DateTime, if any
  // The frame's own functional groups state its area dose product (else
  // the value above is the run's, shared by every frame).
  bool ownAreaDoseProduct = false;
  CArmPositioner positioner;
  XRayExposure exposure; // per frame for enhanced runs; the image's for legacy ones
};

struct XRayRun {
  DicomHeader header;
  std::string patientPosition;       // (0018,5100), e.g. HFP for prone
  std::string patientOrientation;    // (0020,0020), row\column directions
  std::optional<double> frameTimeMs; // (0018,1063) or from (0018,0040) cine rate
  std::optional<double> cineRateHz;
  // When the run was acquired (DT): Acquisition DateTime, else Acquisition
  // Date + Time, else Content Date + Time; empty when none is stored.
  std::string acquisitionDateTime;
  std::string irradiationEventUid; // (0008,3010) of the image, if any
  CArmPositioner positioner;       // the run's (first frame for enhanced)
  XRayExposure exposure;           // the image's, as stored
  std::vector<XRayFrameInfo> frames;
  std::vector<std::string> missingGeometry; // names of geometry attributes not in the file
  bool rotational = false;                  // per-frame angle increments present
  std::vector<double> primaryAngleIncrementsDeg, secondaryAngleIncrementsDeg;
  bool geometryComplete() const { return missingGeometry.empty(); }
};

// Reads the run's attributes. Throws DicomFileError when the file is not an
// XA/RF image.
XRayRun readXRayRun(const DicomFile& file);

} // namespace fluoroplan
