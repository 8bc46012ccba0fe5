#include "imaging/dicom/segmentation_writer.h"

#include <cmath>
#include <cstdio>
#include <memory>
#include <set>
#include <stdexcept>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmfg/fgderimg.h"
#include "dcmtk/dcmfg/fgfracon.h"
#include "dcmtk/dcmfg/fgpixmsr.h"
#include "dcmtk/dcmfg/fgplanor.h"
#include "dcmtk/dcmfg/fgplanpo.h"
#include "dcmtk/dcmiod/cielabutil.h"
#include "dcmtk/dcmiod/iodmacro.h"
#include "dcmtk/dcmiod/iodreferences.h"
#include "dcmtk/dcmseg/segdoc.h"
#include "dcmtk/dcmseg/segment.h"

#include "imaging/core/atomic_file.h"
#include "imaging/core/spine_levels.h"

namespace fluoroplan {

namespace {

// DICOM CID 7603 "Vertebra" (SNOMED CT), C1..L5 in VerSe order.
const char* const kVertebraCodes[24] = {"14806007", "39976000", "113205007", "5329002",  "36978003",
                                        "36054005", "87391001", "64864005",  "53733008", "1626008",
                                        "73071006", "56401006", "45296009",  "62487009", "11068009",
                                        "82687006", "7610001",  "12989004",  "23215003", "66794005",
                                        "14293000", "36470004", "11994002",  "49668003"};

SegmentCode codeFor(int label) {
  if (label >= 1 && label <= 24)
    return {kVertebraCodes[label - 1], "SCT", verseLevelName(label) + " vertebra"};
  if (label == spine_label::kSacrum) return {"54735007", "SCT", "Sacrum"};
  if (label == spine_label::kSpinalCanal) return {"61853006", "SCT", "Spinal canal"};
  if (label == spine_label::kNeuralForamen)
    // No generic SNOMED CT concept was found in DICOM's context groups: a
    // local code (private coding scheme designators start with 99).
    return {"FORAMEN", "99FLUOROPLAN", "Intervertebral foramen"};
  return {"51282000", "SCT", "Vertebra"}; // T13, L6
}

std::string ds(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  std::string s = buf;
  if (s.size() > 16) {
    std::snprintf(buf, sizeof buf, "%.8g", v);
    s = buf;
  }
  return s;
}

void check(const OFCondition& c, const std::filesystem::path& file, const std::string& what) {
  if (c.bad()) throw std::runtime_error(file.string() + ": " + what + ": " + c.text());
}

} // namespace

std::vector<SegmentDescription> spineSegments(const Volume& labels) {
  std::set<int> present;
  for (int16_t v : labels.hu)
    if (v > 0) present.insert(v);
  std::vector<SegmentDescription> out;
  for (int l : present) {
    const bool vertebra = spine_label::isVertebra(l);
    if (!vertebra && l != spine_label::kSpinalCanal && l != spine_label::kNeuralForamen) continue;
    SegmentDescription d;
    d.labelValue = l;
    d.label = vertebra ? verseLevelName(l)
                       : (l == spine_label::kSpinalCanal ? "spinal canal" : "neural foramina");
    d.propertyType = codeFor(l);
    // Alternating warm and cool colours so neighbours differ.
    static const std::array<uint8_t, 3> palette[] = {{230, 90, 70},   {70, 150, 230},
                                                     {240, 200, 60},  {120, 200, 90},
                                                     {200, 100, 220}, {90, 210, 210}};
    d.rgb = vertebra ? palette[std::size_t(l) % 6]
                     : (l == spine_label::kSpinalCanal ? std::array<uint8_t, 3>{250, 250, 180}
                                                       : std::array<uint8_t, 3>{255, 160, 0});
    out.push_back(d);
  }
  return out;
}

void writeSegmentation(const Volume& labels, const SegmentationSource& src,
                       const std::vector<SegmentDescription>& segments,
                       const SegmentationSeries& series, const std::filesystem::path& file) {
  const std::size_t nk = labels.size[2];
  if (src.sliceFiles.size() != nk || src.sopInstanceUids.size() != nk ||
      src.sopClassUids.size() != nk)
    throw std::runtime_error(file.string() + ": the segmentation has " + std::to_string(nk) +
                             " slices but the source CT " + std::to_string(src.sliceFiles.size()));
  if (labels.size[0] > 65535 || labels.size[1] > 65535)
    throw std::runtime_error(file.string() + ": slices too large for DICOM");
  const auto rows = Uint16(labels.size[1]), cols = Uint16(labels.size[0]);
  for (std::size_t k = 0; k < nk; ++k)
    if (src.sopInstanceUids[k].empty() || src.sopClassUids[k].empty())
      throw std::runtime_error(
          src.sliceFiles[k].string() +
          ": the CT slice has no SOP Class/Instance UID, so a DICOM SEG cannot "
          "reference it");

  DcmFileFormat source;
  check(source.loadFile(src.sliceFiles.front().c_str()), src.sliceFiles.front(),
        "cannot read the source CT slice");
  DcmDataset& ct0 = *source.getDataset();

  IODGeneralEquipmentModule::EquipmentInfo equipment("FluoroPlan", "FluoroPlan", "0",
                                                     series.algorithmVersion.c_str());
  ContentIdentificationMacro content("1", "SPINE_SEG", "Vertebrae, spinal canal and foramina",
                                     "FLUOROPLAN^SEGMENTER");
  DcmSegmentation* raw = nullptr;
  check(DcmSegmentation::createBinarySegmentation(raw, rows, cols, equipment, content), file,
        "cannot create the segmentation");
  std::unique_ptr<DcmSegmentation> seg(raw);
  // Patient, study and frame of reference from the CT; the import also
  // takes the CT's equipment, so ours is set again after it.
  check(seg->importFromSourceImage(ct0, OFTrue), file, "cannot take the CT's patient and study");
  check(seg->setEquipmentInfo(equipment), file, "equipment");
  check(seg->getSeries().setSeriesNumber(std::to_string(series.seriesNumber).c_str()), file,
        "series number");
  check(seg->getSeries().setSeriesDescription(series.seriesDescription.c_str()), file,
        "series description");
  check(seg->getGeneralImage().setInstanceNumber("1"), file, "instance number");
  OFString studyInstance;
  seg->getStudy().getStudyInstanceUID(studyInstance);
  if (studyInstance.empty())
    throw std::runtime_error(src.sliceFiles.front().string() +
                             ": the CT has no Study Instance UID (anonymised?), so a DICOM SEG "
                             "cannot belong to its study");
  OFString frameOfReference;
  seg->getFrameOfReference().getFrameOfReferenceUID(frameOfReference);
  if (frameOfReference.empty())
    throw std::runtime_error(src.sliceFiles.front().string() +
                             ": the CT has no Frame of Reference UID");

  char dimUid[100];
  dcmGenerateUniqueIdentifier(dimUid, SITE_INSTANCE_UID_ROOT);
  IODMultiframeDimensionModule& dims = seg->getDimensions();
  check(dims.addDimensionIndex(DCM_ReferencedSegmentNumber, dimUid,
                               DCM_SegmentIdentificationSequence, "ReferencedSegmentNumber"),
        file, "dimension index");
  check(dims.addDimensionIndex(DCM_ImagePositionPatient, dimUid, DCM_PlanePositionSequence,
                               "ImagePositionPatient"),
        file, "dimension index");

  const Vec3 rowDir = labels.directionLps.column(0), colDir = labels.directionLps.column(1);
  FGPlaneOrientationPatient orientation;
  check(orientation.setImageOrientationPatient(ds(rowDir.x).c_str(), ds(rowDir.y).c_str(),
                                               ds(rowDir.z).c_str(), ds(colDir.x).c_str(),
                                               ds(colDir.y).c_str(), ds(colDir.z).c_str()),
        file, "orientation");
  check(seg->addForAllFrames(orientation), file, "orientation");
  FGPixelMeasures measures;
  check(measures.setPixelSpacing((ds(labels.spacingMm.y) + "\\" + ds(labels.spacingMm.x)).c_str()),
        file, "pixel spacing");
  check(measures.setSliceThickness(ds(labels.spacingMm.z).c_str()), file, "slice thickness");
  check(measures.setSpacingBetweenSlices(ds(labels.spacingMm.z).c_str()), file, "slice spacing");
  check(seg->addForAllFrames(measures), file, "pixel measures");

  OFString patientId, studyUid, seriesUid;
  ct0.findAndGetOFString(DCM_PatientID, patientId);
  ct0.findAndGetOFString(DCM_StudyInstanceUID, studyUid);
  ct0.findAndGetOFString(DCM_SeriesInstanceUID, seriesUid);
  std::vector<std::unique_ptr<FGDerivationImage>> derivation(nk);
  IODReferences references;
  for (std::size_t k = 0; k < nk; ++k) {
    ImageSOPInstanceReferenceMacro ref;
    check(ref.setReferencedSOPClassUID(src.sopClassUids[k].c_str()), file, "reference");
    check(ref.setReferencedSOPInstanceUID(src.sopInstanceUids[k].c_str()), file, "reference");
    OFVector<ImageSOPInstanceReferenceMacro> refs(1, ref);
    derivation[k].reset(DcmSegmentation::createDerivationImageFG(refs, "Automatic segmentation"));
    if (!derivation[k])
      throw std::runtime_error(file.string() + ": cannot reference CT slice " + std::to_string(k));
    auto* r = new IODImageReference(patientId, studyUid, seriesUid, src.sopInstanceUids[k].c_str(),
                                    src.sopClassUids[k].c_str());
    if (!references.add(r)) delete r;
  }
  seg->getCommonInstanceReference().addReferences(references);

  const std::size_t px = std::size_t(rows) * cols;
  std::vector<Uint8> frame(px);
  FGPlanePosPatient position;
  FGFrameContent frameContent;
  for (const SegmentDescription& d : segments) {
    std::vector<std::size_t> slices;
    for (std::size_t k = 0; k < nk; ++k)
      for (std::size_t i = 0; i < px; ++i)
        if (labels.hu[k * px + i] == d.labelValue) {
          slices.push_back(k);
          break;
        }
    if (slices.empty()) continue; // no segment without frames
    DcmSegment* segment = nullptr;
    check(DcmSegment::create(segment, d.label.c_str(),
                             CodeSequenceMacro("91723000", "SCT", "Anatomical Structure"),
                             CodeSequenceMacro(d.propertyType.value.c_str(),
                                               d.propertyType.scheme.c_str(),
                                               d.propertyType.meaning.c_str()),
                             DcmSegTypes::SAT_AUTOMATIC, "FluoroPlan spine segmenter"),
          file, "segment " + d.label);
    double L = 0, a = 0, b = 0;
    IODCIELabUtil::rgb2DicomLab(L, a, b, d.rgb[0] / 255.0, d.rgb[1] / 255.0, d.rgb[2] / 255.0);
    segment->setRecommendedDisplayCIELabValue(Uint16(std::lround(L)), Uint16(std::lround(a)),
                                              Uint16(std::lround(b)));
    Uint16 number = 0;
    const OFCondition added = seg->addSegment(segment, number);
    if (added.bad()) delete segment;
    check(added, file, "segment " + d.label);
    if (number == 0) throw std::runtime_error(file.string() + ": segment numbering failed");
    for (std::size_t k : slices) {
      for (std::size_t i = 0; i < px; ++i)
        frame[i] = labels.hu[k * px + i] == d.labelValue ? 1 : 0;
      const Vec3 ipp = labels.indexToLps({0, 0, double(k)});
      check(
          position.setImagePositionPatient(ds(ipp.x).c_str(), ds(ipp.y).c_str(), ds(ipp.z).c_str()),
          file, "position");
      check(frameContent.setDimensionIndexValues(number, 0), file, "dimension value");
      check(frameContent.setDimensionIndexValues(Uint32(k + 1), 1), file, "dimension value");
      OFVector<FGBase*> perFrame{&position, &frameContent, derivation[k].get()};
      check(seg->addFrame(frame.data(), number, perFrame), file, "frame");
    }
  }
  seg->setCheckFGOnWrite(
      OFFalse); // the functional groups are uniform by construction; the check is slow
  DcmFileFormat out;
  check(seg->writeDataset(*out.getDataset()), file, "cannot build the segmentation");
  seg.reset();
  out.getDataset()->putAndInsertString(DCM_SegmentsOverlap, "NO"); // one label map: exclusive
  writeFileAtomicallyVia(file, [&](const std::filesystem::path& tmp) {
    check(out.saveFile(tmp.c_str(), EXS_LittleEndianExplicit), file, "cannot write");
  });
}

} // namespace fluoroplan
