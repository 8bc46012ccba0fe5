#include "imaging/dicom/dicom_writer.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcvrfd.h>
#include <dcmtk/dcmdata/dcvrfl.h>
#include <dcmtk/dcmjpeg/djencode.h>
#include <dcmtk/dcmjpeg/djrplol.h>
#include <dcmtk/dcmjpls/djencode.h>
#include <dcmtk/dcmjpls/djrparam.h>
#include <openjpeg.h>

#include <cstring>
#include <ctime>
#include <iomanip>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include "imaging/core/atomic_file.h"
#include "imaging/dicom/dicom_internal.h"

namespace fluoroplan {
namespace fs = std::filesystem;

namespace {

void check(OFCondition c, const std::string& what) {
  if (c.bad()) throw std::runtime_error(what + ": " + c.text());
}

void ensureEncodersRegistered() {
  static std::once_flag once;
  std::call_once(once, [] {
    DJEncoderRegistration::registerCodecs();
    DJLSEncoderRegistration::registerCodecs();
    DcmRLEEncoderRegistration::registerCodecs();
  });
}

std::string ds(double v) {
  // DS holds at most 16 characters.
  std::ostringstream s;
  s << std::setprecision(10) << v;
  std::string r = s.str();
  if (r.size() > 16) {
    s.str("");
    s << std::setprecision(6) << v;
    r = s.str();
  }
  return r;
}

void put(DcmItem& item, const DcmTagKey& tag, const std::string& value) {
  check(item.putAndInsertString(tag, value.c_str()),
        "cannot set " + DcmTag(tag).toString().substr(0));
}

void putIdentity(DcmDataset& d, const SeriesIdentity& id, const std::string& modality,
                 const std::string& sopClass, const std::string& sopInstance) {
  const std::string study =
      id.studyInstanceUid.empty() ? deterministicUid(id.seed + "/study") : id.studyInstanceUid;
  const std::string series =
      id.seriesInstanceUid.empty() ? deterministicUid(id.seed + "/series") : id.seriesInstanceUid;
  put(d, DCM_SpecificCharacterSet, "ISO_IR 100");
  put(d, DCM_SOPClassUID, sopClass);
  put(d, DCM_SOPInstanceUID, sopInstance);
  put(d, DCM_StudyDate, id.studyDate);
  put(d, DCM_StudyTime, id.studyTime);
  put(d, DCM_SeriesDate, id.studyDate);
  put(d, DCM_SeriesTime, id.studyTime);
  put(d, DCM_ContentDate, id.studyDate);
  put(d, DCM_ContentTime, id.studyTime);
  put(d, DCM_AccessionNumber, id.accessionNumber);
  put(d, DCM_Modality, modality);
  put(d, DCM_Manufacturer, id.manufacturer);
  put(d, DCM_ManufacturerModelName, id.modelName);
  put(d, DCM_ReferringPhysicianName, "");
  put(d, DCM_SeriesDescription, id.seriesDescription);
  put(d, DCM_Laterality, ""); // type 2C: the spine is not a paired body part
  put(d, DCM_PatientName, id.patient.name);
  put(d, DCM_PatientID, id.patient.id);
  put(d, DCM_PatientBirthDate, id.patient.birthDate);
  put(d, DCM_PatientSex, id.patientSex);
  put(d, DCM_StudyInstanceUID, study);
  put(d, DCM_SeriesInstanceUID, series);
  put(d, DCM_StudyID, id.studyId);
  put(d, DCM_SeriesNumber, std::to_string(id.seriesNumber));
}

E_TransferSyntax transferSyntaxFor(DicomCompression c) {
  switch (c) {
  case DicomCompression::None:
    return EXS_LittleEndianExplicit;
  case DicomCompression::RleLossless:
    return EXS_RLELossless;
  case DicomCompression::JpegLossless:
    return EXS_JPEGProcess14SV1;
  case DicomCompression::JpegLsLossless:
    return EXS_JPEGLSLossless;
  case DicomCompression::Jpeg2000Lossless:
    return EXS_JPEG2000LosslessOnly;
  case DicomCompression::Jpeg2000Lossy:
    return EXS_JPEG2000;
  }
  return EXS_LittleEndianExplicit;
}

// DCMTK has no JPEG 2000 encoder: encode the codestream with OpenJPEG.
std::vector<uint8_t> encodeJpeg2000(const int16_t* pixels, uint16_t columns, uint16_t rows,
                                    bool lossy) {
  opj_cparameters_t params;
  opj_set_default_encoder_parameters(&params);
  params.tcp_numlayers = 1;
  params.tcp_rates[0] = lossy ? 8.0f : 0.0f; // compression ratio; 0 is lossless
  params.cp_disto_alloc = 1;
  params.irreversible = lossy ? 1 : 0;
  // Each resolution level halves the image: small images allow fewer.
  int levels = 1;
  while (levels < 6 && (1 << levels) <= std::min(columns, rows))
    ++levels;
  params.numresolution = levels;
  opj_image_cmptparm_t cmpt{};
  cmpt.dx = cmpt.dy = 1;
  cmpt.w = columns;
  cmpt.h = rows;
  cmpt.prec = 16;
  cmpt.sgnd = 1;
  opj_image_t* image = opj_image_create(1, &cmpt, OPJ_CLRSPC_GRAY);
  image->x1 = columns;
  image->y1 = rows;
  for (std::size_t i = 0; i < std::size_t(columns) * rows; ++i)
    image->comps[0].data[i] = pixels[i];
  opj_codec_t* codec = opj_create_compress(OPJ_CODEC_J2K);
  struct Out {
    std::vector<uint8_t> bytes;
    std::size_t pos = 0;
  } out;
  opj_stream_t* stream = opj_stream_create(1 << 16, OPJ_FALSE);
  opj_stream_set_user_data(stream, &out, nullptr);
  opj_stream_set_write_function(stream, [](void* buf, OPJ_SIZE_T n, void* u) -> OPJ_SIZE_T {
    auto* o = static_cast<Out*>(u);
    if (o->pos + n > o->bytes.size()) o->bytes.resize(o->pos + n);
    std::memcpy(o->bytes.data() + o->pos, buf, n);
    o->pos += n;
    return n;
  });
  opj_stream_set_skip_function(stream, [](OPJ_OFF_T n, void* u) -> OPJ_OFF_T {
    auto* o = static_cast<Out*>(u);
    o->pos += static_cast<std::size_t>(n);
    if (o->pos > o->bytes.size()) o->bytes.resize(o->pos);
    return n;
  });
  opj_stream_set_seek_function(stream, [](OPJ_OFF_T n, void* u) -> OPJ_BOOL {
    static_cast<Out*>(u)->pos = static_cast<std::size_t>(n);
    return OPJ_TRUE;
  });
  const bool ok = opj_setup_encoder(codec, &params, image) &&
                  opj_start_compress(codec, image, stream) && opj_encode(codec, stream) &&
                  opj_end_compress(codec, stream);
  opj_stream_destroy(stream);
  opj_destroy_codec(codec);
  opj_image_destroy(image);
  if (!ok) throw std::runtime_error("OpenJPEG could not encode the slice");
  if (out.bytes.size() % 2) out.bytes.push_back(0); // fragments have even length
  return out.bytes;
}

void putEncapsulated(DcmDataset& d, std::vector<uint8_t> codestream, E_TransferSyntax xfer) {
  auto* pixel = new DcmPixelData(DCM_PixelData);
  auto* seq = new DcmPixelSequence(DcmTag(DCM_PixelData, EVR_OB));
  seq->insert(new DcmPixelItem(DcmTag(DCM_Item, EVR_OB))); // empty offset table
  auto* frag = new DcmPixelItem(DcmTag(DCM_Item, EVR_OB));
  check(frag->putUint8Array(codestream.data(), static_cast<Uint32>(codestream.size())), "fragment");
  seq->insert(frag);
  pixel->putOriginalRepresentation(xfer, nullptr, seq);
  check(d.insert(pixel, OFTrue), "insert encapsulated pixel data");
}

void saveAtomically(DcmFileFormat& ff, const fs::path& path, E_TransferSyntax xfer) {
  writeFileAtomicallyVia(path, [&](const fs::path& tmp) {
    check(ff.saveFile(tmp.string().c_str(), xfer, EET_ExplicitLength, EGL_recalcGL, EPD_noChange),
          path.string() + ": cannot write DICOM");
  });
}

} // namespace

std::string deterministicUid(std::string_view seed) {
  // Two FNV-1a 64-bit hashes with different offsets make a 128-bit number,
  // written in decimal under 2.25 as PS3.5 B.2 allows.
  auto fnv = [&](uint64_t h) {
    for (unsigned char c : seed)
      h = (h ^ c) * 1099511628211ull;
    return h;
  };
  const unsigned __int128 v = (static_cast<unsigned __int128>(fnv(14695981039346656037ull)) << 64) |
                              fnv(0x84222325cbf29ce4ull);
  std::string digits;
  unsigned __int128 x = v >> 1; // keep below 2^127 so the UID stays within 64 characters
  do {
    digits.insert(digits.begin(), char('0' + int(x % 10)));
    x /= 10;
  } while (x != 0);
  return "2.25." + digits;
}

const char* compressionName(DicomCompression c) {
  switch (c) {
  case DicomCompression::None:
    return "uncompressed";
  case DicomCompression::RleLossless:
    return "RLE lossless";
  case DicomCompression::JpegLossless:
    return "JPEG lossless";
  case DicomCompression::JpegLsLossless:
    return "JPEG-LS lossless";
  case DicomCompression::Jpeg2000Lossless:
    return "JPEG 2000 lossless";
  case DicomCompression::Jpeg2000Lossy:
    return "JPEG 2000 lossy";
  }
  return "?";
}

std::vector<fs::path> writeCtSeries(const Volume& v, const fs::path& folder,
                                    const SeriesIdentity& id, const CtWriteOptions& options) {
  ensureEncodersRegistered();
  fs::create_directories(folder);
  std::vector<fs::path> paths;
  const Vec3 rowDir = v.directionLps.column(0), colDir = v.directionLps.column(1);
  const std::string frameOfReference =
      id.frameOfReferenceUid.empty() ? deterministicUid(id.seed + "/for") : id.frameOfReferenceUid;
  const std::size_t sliceVoxels = v.size[0] * v.size[1];
  for (std::size_t k = 0; k < v.size[2]; ++k) {
    DcmFileFormat ff;
    DcmDataset& d = *ff.getDataset();
    const std::string sop = deterministicUid(id.seed + "/ct/" + std::to_string(k));
    putIdentity(d, id, "CT", UID_CTImageStorage, sop);
    put(d, DCM_ImageType, "ORIGINAL\\PRIMARY\\AXIAL");
    put(d, DCM_FrameOfReferenceUID, frameOfReference);
    put(d, DCM_PositionReferenceIndicator, "");
    put(d, DCM_InstanceNumber, std::to_string(k + 1));
    put(d, DCM_AcquisitionNumber, "1");
    put(d, DCM_KVP, "120");
    put(d, DCM_PatientPosition, "HFS");
    const Vec3 ipp = v.indexToLps({0, 0, double(k)});
    put(d, DCM_ImagePositionPatient, ds(ipp.x) + "\\" + ds(ipp.y) + "\\" + ds(ipp.z));
    put(d, DCM_ImageOrientationPatient,
        ds(rowDir.x) + "\\" + ds(rowDir.y) + "\\" + ds(rowDir.z) + "\\" + ds(colDir.x) + "\\" +
            ds(colDir.y) + "\\" + ds(colDir.z));
    put(d, DCM_PixelSpacing, ds(v.spacingMm.y) + "\\" + ds(v.spacingMm.x));
    put(d, DCM_SliceThickness,
        ds(options.sliceThicknessMm > 0 ? options.sliceThicknessMm : v.spacingMm.z));
    put(d, DCM_SliceLocation, ds(dot(ipp, v.directionLps.column(2))));
    check(d.putAndInsertUint16(DCM_SamplesPerPixel, 1), "spp");
    put(d, DCM_PhotometricInterpretation, "MONOCHROME2");
    check(d.putAndInsertUint16(DCM_Rows, static_cast<Uint16>(v.size[1])), "rows");
    check(d.putAndInsertUint16(DCM_Columns, static_cast<Uint16>(v.size[0])), "cols");
    check(d.putAndInsertUint16(DCM_BitsAllocated, 16), "ba");
    check(d.putAndInsertUint16(DCM_BitsStored, 16), "bs");
    check(d.putAndInsertUint16(DCM_HighBit, 15), "hb");
    check(d.putAndInsertUint16(DCM_PixelRepresentation, 1), "pr");
    put(d, DCM_RescaleIntercept, "0");
    put(d, DCM_RescaleSlope, "1");
    put(d, DCM_RescaleType, "HU");
    put(d, DCM_WindowCenter, "400");
    put(d, DCM_WindowWidth, "2000");
    const int16_t* slice = v.hu.data() + k * sliceVoxels;
    const fs::path path =
        folder / (options.filePrefix + std::to_string(100000 + k).substr(1) + ".dcm");
    E_TransferSyntax xfer = transferSyntaxFor(options.compression);
    const bool j2k = options.compression == DicomCompression::Jpeg2000Lossless ||
                     options.compression == DicomCompression::Jpeg2000Lossy;
    if (j2k) {
      const bool lossy = options.compression == DicomCompression::Jpeg2000Lossy;
      putEncapsulated(d,
                      encodeJpeg2000(slice, static_cast<uint16_t>(v.size[0]),
                                     static_cast<uint16_t>(v.size[1]), lossy),
                      xfer);
    } else {
      check(d.putAndInsertUint16Array(DCM_PixelData, reinterpret_cast<const Uint16*>(slice),
                                      static_cast<unsigned long>(sliceVoxels)),
            "pixel data");
      if (options.compression == DicomCompression::JpegLsLossless) {
        DJLSRepresentationParameter rp(2, OFTrue);
        check(d.chooseRepresentation(xfer, &rp), path.string() + ": JPEG-LS encoding");
      } else if (options.compression == DicomCompression::JpegLossless) {
        DJ_RPLossless rp;
        check(d.chooseRepresentation(xfer, &rp), path.string() + ": JPEG encoding");
      } else if (options.compression != DicomCompression::None) {
        check(d.chooseRepresentation(xfer, nullptr), path.string() + ": encoding");
      }
    }
    if (options.compression != DicomCompression::None && !j2k && !d.canWriteXfer(xfer))
      throw std::runtime_error(path.string() + ": encoder for " +
                               compressionName(options.compression) + " did not produce data");
    if (options.compression == DicomCompression::Jpeg2000Lossy) {
      put(d, DCM_LossyImageCompression, "01");
      put(d, DCM_LossyImageCompressionMethod, "ISO_15444_1");
    } else if (options.compression != DicomCompression::None) {
      put(d, DCM_LossyImageCompression, "00");
    }
    saveAtomically(ff, path, xfer);
    paths.push_back(path);
  }
  return paths;
}

namespace {

void putOptional(DcmItem& item, const DcmTagKey& tag, const std::optional<double>& v) {
  if (v) put(item, tag, ds(*v));
}

// X-Ray Collimator attributes (1-based pixel edges, as DICOM numbers them).
void putCollimator(DcmItem& d, const CArmPositioner& p) {
  put(d, DCM_CollimatorShape, p.collimatorShape);
  auto integer = [&](const DcmTagKey& tag, const std::optional<double>& v) {
    if (v) put(d, tag, std::to_string(std::lround(*v)));
  };
  integer(DCM_CollimatorLeftVerticalEdge, p.collimatorLeftColumn);
  integer(DCM_CollimatorRightVerticalEdge, p.collimatorRightColumn);
  integer(DCM_CollimatorUpperHorizontalEdge, p.collimatorUpperRow);
  integer(DCM_CollimatorLowerHorizontalEdge, p.collimatorLowerRow);
  if (p.collimatorCircleCentre)
    put(d, DCM_CenterOfCircularCollimator,
        std::to_string(std::lround((*p.collimatorCircleCentre)[0])) + "\\" +
            std::to_string(std::lround((*p.collimatorCircleCentre)[1])));
  integer(DCM_RadiusOfCircularCollimator, p.collimatorCircleRadius);
  if (!p.collimatorPolygon.empty()) {
    std::string v;
    for (const auto& rc : p.collimatorPolygon)
      v += (v.empty() ? "" : "\\") + std::to_string(std::lround(rc[0])) + "\\" +
           std::to_string(std::lround(rc[1]));
    put(d, DCM_VerticesOfThePolygonalCollimator, v);
  }
}

void putPositionerLegacy(DcmItem& d, const CArmPositioner& p) {
  putOptional(d, DCM_PositionerPrimaryAngle, p.primaryAngleDeg);
  putOptional(d, DCM_PositionerSecondaryAngle, p.secondaryAngleDeg);
  putOptional(d, DCM_DistanceSourceToDetector, p.sourceToDetectorMm);
  putOptional(d, DCM_DistanceSourceToPatient, p.sourceToPatientMm);
  if (p.imagerPixelSpacingMm)
    put(d, DCM_ImagerPixelSpacing,
        ds((*p.imagerPixelSpacingMm)[0]) + "\\" + ds((*p.imagerPixelSpacingMm)[1]));
  putOptional(d, DCM_EstimatedRadiographicMagnificationFactor, p.magnificationFactor);
  putOptional(d, DCM_IntensifierSize, p.intensifierSizeMm);
  putOptional(d, DCM_TableHeight, p.tableHeightMm);
  putOptional(d, DCM_TableTraverse, p.tableTraverseMm);
  if (!p.fieldOfViewShape.empty()) put(d, DCM_FieldOfViewShape, p.fieldOfViewShape);
  if (!p.collimatorShape.empty()) putCollimator(d, p);
}

void putExposureLegacy(DcmItem& d, const XRayExposure& e) {
  putOptional(d, DCM_ImageAndFluoroscopyAreaDoseProduct, e.areaDoseProductDGyCm2);
  putOptional(d, DCM_EntranceDoseInmGy, e.entranceDoseMGy);
  if (e.exposureTimeMs) put(d, DCM_ExposureTime, std::to_string(std::lround(*e.exposureTimeMs)));
  if (e.tubeCurrentMA) put(d, DCM_XRayTubeCurrent, std::to_string(std::lround(*e.tubeCurrentMA)));
  putOptional(d, DCM_KVP, e.kvp);
  putOptional(d, DCM_AveragePulseWidth, e.pulseWidthMs);
  if (!e.radiationSetting.empty()) put(d, DCM_RadiationSetting, e.radiationSetting);
}

DcmItem* newSequenceItem(DcmItem& parent, const DcmTagKey& seq) {
  DcmItem* item = nullptr;
  check(parent.findOrCreateSequenceItem(seq, item, -2 /* append */), "create sequence item");
  return item;
}

void putFD(DcmItem& item, const DcmTagKey& tag, double v) {
  check(item.putAndInsertFloat64(tag, v), "FD");
}
void putFL(DcmItem& item, const DcmTagKey& tag, double v) {
  check(item.putAndInsertFloat32(tag, static_cast<Float32>(v)), "FL");
}

// Enhanced XA: the modules and per-frame functional groups that PS3.3
// requires (checked by dciodvfy in the tests). Values the spec leaves open
// are written as "unknown" where the standard allows (type 2), never made up.
void writeEnhancedXRayModules(DcmDataset& d, const XRayRunSpec& spec) {
  const DcmTagKey kFramePixelDataProperties(0x0028, 0x9443);
  const std::string acquisitionDateTime = spec.acquisitionDateTime.empty()
                                              ? spec.identity.studyDate + spec.identity.studyTime
                                              : spec.acquisitionDateTime;
  put(d, DCM_ImageType, "ORIGINAL\\PRIMARY\\SINGLE PLANE\\NONE");
  put(d, DCM_ContentQualification, "PRODUCT");
  put(d, DCM_DeviceSerialNumber, "0");
  put(d, DCM_SoftwareVersions, "FluoroPlan");
  put(d, DCM_AcquisitionDateTime, acquisitionDateTime);
  put(d, DCM_PlanesInAcquisition, "SINGLE PLANE");
  put(d, DCM_PlaneIdentification, "MONOPLANE");
  put(d, DCM_PresentationLUTShape, "IDENTITY");
  put(d, DCM_LossyImageCompression, "00");
  put(d, DCM_BurnedInAnnotation, "NO");
  check(d.insertEmptyElement(DCM_AcquisitionContextSequence), "acquisition context");
  // XA/XRF Acquisition module: the run's settings (first frame's exposure).
  const XRayExposure& first =
      spec.frameExposures.empty() ? spec.exposure : spec.frameExposures.front();
  const bool fluoro = first.radiationSetting != "GR";
  put(d, DCM_KVP, first.kvp ? ds(*first.kvp) : "");
  put(d, DCM_RadiationSetting, fluoro ? "SC" : "GR");
  put(d, DCM_RadiationMode, first.pulseWidthMs ? "PULSED" : "CONTINUOUS");
  put(d, DCM_PositionerType, "CARM");
  put(d, DCM_CArmPositionerTabletopRelationship, "NO"); // angles are patient-relative (DESIGN.md 4)
  d.findAndDeleteElement(DCM_Laterality); // enhanced images carry Frame Laterality instead
  check(d.insertEmptyElement(DCM_DistanceReceptorPlaneToDetectorHousing), "receptor distance");
  double dapTotal = 0;
  bool dapKnown = false;
  for (std::size_t f = 0; f < spec.frames.size(); ++f) {
    const XRayExposure& e = f < spec.frameExposures.size() ? spec.frameExposures[f] : spec.exposure;
    if (e.areaDoseProductDGyCm2) {
      dapTotal += *e.areaDoseProductDGyCm2;
      dapKnown = true;
    }
  }
  if (dapKnown)
    putFL(d, DCM_AcquiredImageAreaDoseProduct, dapTotal);
  else
    check(d.insertEmptyElement(DCM_AcquiredImageAreaDoseProduct), "DAP");
  // The run's values; each frame carries its own in the Frame Acquisition Sequence.
  const double tubeCurrent = first.tubeCurrentMA.value_or(0);
  const double exposureMs = first.exposureTimeMs.value_or(0);
  putFD(d, DCM_XRayTubeCurrentInmA, tubeCurrent);
  putFD(d, DCM_ExposureTimeInms, exposureMs);
  putFD(d, DCM_ExposureInmAs, tubeCurrent * exposureMs / 1000.0);
  put(d, DCM_AveragePulseWidth, ds(first.pulseWidthMs.value_or(exposureMs)));
  putFD(d, DCM_AcquisitionDuration, spec.frameTimeMs * double(spec.frames.size()) / 1000.0);

  DcmItem* shared = newSequenceItem(d, DCM_SharedFunctionalGroupsSequence);
  DcmItem* anatomy = newSequenceItem(*shared, DCM_FrameAnatomySequence);
  put(*anatomy, DCM_FrameLaterality, "U");
  DcmItem* region = newSequenceItem(*anatomy, DCM_AnatomicRegionSequence);
  put(*region, DCM_CodeValue, "421060004");
  put(*region, DCM_CodingSchemeDesignator, "SCT");
  put(*region, DCM_CodeMeaning, "Spine");
  DcmItem* voi = newSequenceItem(*shared, DCM_FrameVOILUTSequence);
  const double maxValue = double((1u << (spec.bitsStored <= 8 ? 8 : spec.bitsStored)) - 1);
  put(*voi, DCM_WindowCenter, ds(maxValue / 2));
  put(*voi, DCM_WindowWidth, ds(maxValue + 1));
  DcmItem* props = newSequenceItem(*shared, kFramePixelDataProperties);
  put(*props, DCM_FrameType, "ORIGINAL\\PRIMARY\\SINGLE PLANE\\NONE");
  put(*props, DCM_PixelIntensityRelationship, "LIN");
  check(props->putAndInsertSint16(DCM_PixelIntensityRelationshipSign, 1), "sign");
  // An image intensifier distorts (pincushion); a flat panel does not.
  put(*props, DCM_GeometricalProperties,
      spec.positioner.intensifierSizeMm ? "NON UNIFORM" : "UNIFORM");
  put(*props, DCM_ImageProcessingApplied, "NONE");
  const auto& spacing = spec.framePositioners.empty()
                            ? spec.positioner.imagerPixelSpacingMm
                            : spec.framePositioners.front().imagerPixelSpacingMm;
  if (spacing) put(*props, DCM_ImagerPixelSpacing, ds((*spacing)[0]) + "\\" + ds((*spacing)[1]));
  // The collimator (required here): the first frame's, else the whole
  // image (pixel edges 1-based, as DICOM numbers them).
  DcmItem* collimator = newSequenceItem(*shared, DCM_CollimatorShapeSequence);
  CArmPositioner blades =
      spec.framePositioners.empty() ? spec.positioner : spec.framePositioners.front();
  if (blades.collimatorShape.empty()) {
    blades.collimatorShape = "RECTANGULAR";
    blades.collimatorLeftColumn = 1;
    blades.collimatorRightColumn = spec.columns;
    blades.collimatorUpperRow = 1;
    blades.collimatorLowerRow = spec.rows;
  }
  putCollimator(*collimator, blades);

  for (std::size_t f = 0; f < spec.frames.size(); ++f) {
    DcmItem* pf = newSequenceItem(d, DCM_PerFrameFunctionalGroupsSequence);
    const CArmPositioner& p =
        f < spec.framePositioners.size() ? spec.framePositioners[f] : spec.positioner;
    const XRayExposure& e = f < spec.frameExposures.size() ? spec.frameExposures[f] : spec.exposure;
    DcmItem* content = newSequenceItem(*pf, DCM_FrameContentSequence);
    put(*content, DCM_FrameAcquisitionNumber, std::to_string(f + 1));
    put(*content, DCM_FrameReferenceDateTime, acquisitionDateTime);
    put(*content, DCM_FrameAcquisitionDateTime, acquisitionDateTime);
    putFD(*content, DCM_FrameAcquisitionDuration, spec.frameTimeMs);
    DcmItem* event = newSequenceItem(*pf, DCM_IrradiationEventIdentificationSequence);
    put(*event, DCM_IrradiationEventUID,
        deterministicUid(spec.identity.seed + "/run/" + std::to_string(spec.instanceNumber) +
                         "/event/" + std::to_string(f)));
    DcmItem* pos = newSequenceItem(*pf, DCM_PositionerPositionSequence);
    put(*pos, DCM_PositionerPrimaryAngle, p.primaryAngleDeg ? ds(*p.primaryAngleDeg) : "");
    put(*pos, DCM_PositionerSecondaryAngle, p.secondaryAngleDeg ? ds(*p.secondaryAngleDeg) : "");
    DcmItem* table = newSequenceItem(*pf, DCM_TablePositionSequence);
    put(*table, DCM_TableTopVerticalPosition,
        p.tableTopVerticalMm ? ds(*p.tableTopVerticalMm) : "");
    put(*table, DCM_TableTopLongitudinalPosition,
        p.tableTopLongitudinalMm ? ds(*p.tableTopLongitudinalMm) : "");
    put(*table, DCM_TableTopLateralPosition, p.tableTopLateralMm ? ds(*p.tableTopLateralMm) : "");
    // A level table: the generator's tables do not tilt or rotate.
    putFL(*table, DCM_TableHorizontalRotationAngle, 0);
    putFL(*table, DCM_TableHeadTiltAngle, 0);
    putFL(*table, DCM_TableCradleTiltAngle, 0);
    DcmItem* geo = newSequenceItem(*pf, DCM_XRayGeometrySequence);
    if (p.sourceToIsocenterMm) putFL(*geo, DCM_DistanceSourceToIsocenter, *p.sourceToIsocenterMm);
    if (p.sourceToDetectorMm) put(*geo, DCM_DistanceSourceToDetector, ds(*p.sourceToDetectorMm));
    DcmItem* det = newSequenceItem(*pf, DCM_FrameDetectorParametersSequence);
    if (p.sourceToPatientMm) put(*det, DCM_DistanceSourceToPatient, ds(*p.sourceToPatientMm));
    DcmItem* acq = newSequenceItem(*pf, DCM_FrameAcquisitionSequence);
    if (e.kvp) put(*acq, DCM_KVP, ds(*e.kvp));
    if (e.tubeCurrentMA) putFD(*acq, DCM_XRayTubeCurrentInmA, *e.tubeCurrentMA);
    if (e.exposureTimeMs) putFD(*acq, DCM_ExposureTimeInms, *e.exposureTimeMs);
    if (e.areaDoseProductDGyCm2)
      put(*acq, DCM_ImageAndFluoroscopyAreaDoseProduct, ds(*e.areaDoseProductDGyCm2));
    if (e.entranceDoseMGy) put(*acq, DCM_EntranceDoseInmGy, ds(*e.entranceDoseMGy));
  }
}

} // namespace

void writeXRayRun(const XRayRunSpec& spec, const fs::path& file) {
  if (spec.frames.empty())
    throw std::runtime_error(file.string() + ": a run needs at least one frame");
  const std::size_t pixels = std::size_t(spec.rows) * spec.columns;
  for (const auto& f : spec.frames)
    if (f.size() != pixels)
      throw std::runtime_error(file.string() + ": frame size does not match rows x columns");
  DcmFileFormat ff;
  DcmDataset& d = *ff.getDataset();
  const std::string sopClass = spec.enhanced           ? UID_EnhancedXAImageStorage
                               : spec.modality == "RF" ? UID_XRayRadiofluoroscopicImageStorage
                                                       : UID_XRayAngiographicImageStorage;
  const std::string sop =
      deterministicUid(spec.identity.seed + "/run/" + std::to_string(spec.instanceNumber));
  putIdentity(d, spec.identity, spec.modality, sopClass, sop);
  put(d, DCM_InstanceNumber, std::to_string(spec.instanceNumber));
  put(d, DCM_PatientPosition, spec.patientPosition);
  put(d, DCM_PatientOrientation, spec.patientOrientation); // type 2C: empty when unknown
  const bool eightBit = spec.bitsStored <= 8;
  check(d.putAndInsertUint16(DCM_SamplesPerPixel, 1), "spp");
  put(d, DCM_PhotometricInterpretation, "MONOCHROME2");
  check(d.putAndInsertUint16(DCM_Rows, spec.rows), "rows");
  check(d.putAndInsertUint16(DCM_Columns, spec.columns), "cols");
  check(d.putAndInsertUint16(DCM_BitsAllocated, eightBit ? 8 : 16), "ba");
  check(d.putAndInsertUint16(DCM_BitsStored, eightBit ? 8 : spec.bitsStored), "bs");
  check(d.putAndInsertUint16(DCM_HighBit, eightBit ? 7 : spec.bitsStored - 1), "hb");
  check(d.putAndInsertUint16(DCM_PixelRepresentation, 0), "pr");
  put(d, DCM_NumberOfFrames, std::to_string(spec.frames.size()));
  put(d, DCM_FrameTime, ds(spec.frameTimeMs));
  check(d.putAndInsertTagKey(DCM_FrameIncrementPointer, DCM_FrameTime), "frame increment pointer");

  if (!spec.enhanced) {
    put(d, DCM_ImageType, "ORIGINAL\\PRIMARY\\SINGLE PLANE");
    put(d, DCM_PixelIntensityRelationship, "LIN");
    put(d, DCM_KVP, spec.exposure.kvp ? ds(*spec.exposure.kvp) : "");
    put(d, DCM_RadiationSetting,
        spec.exposure.radiationSetting.empty() ? "SC" : spec.exposure.radiationSetting);
    putPositionerLegacy(d, spec.positioner);
    if (!spec.positioner.primaryAngleDeg) put(d, DCM_PositionerPrimaryAngle, "");
    if (!spec.positioner.secondaryAngleDeg) put(d, DCM_PositionerSecondaryAngle, "");
    if (!spec.positioner.intensifierSizeMm) put(d, DCM_IntensifierSize, "");
    putExposureLegacy(d, spec.exposure);
    if (!spec.exposure.exposureTimeMs) put(d, DCM_ExposureTime, "");
    if (!spec.exposure.tubeCurrentMA) put(d, DCM_XRayTubeCurrent, "");
    put(d, DCM_Exposure, "");
    put(d, DCM_PositionerMotion, "STATIC");
    if (spec.acquisitionDateTime.size() >= 14) {
      put(d, DCM_AcquisitionDate, spec.acquisitionDateTime.substr(0, 8));
      put(d, DCM_AcquisitionTime, spec.acquisitionDateTime.substr(8));
    }
  } else {
    writeEnhancedXRayModules(d, spec);
  }

  if (eightBit) {
    std::vector<Uint8> bytes(pixels * spec.frames.size());
    for (std::size_t f = 0; f < spec.frames.size(); ++f)
      for (std::size_t i = 0; i < pixels; ++i)
        bytes[f * pixels + i] = static_cast<Uint8>(std::min<uint16_t>(spec.frames[f][i], 255));
    check(d.putAndInsertUint8Array(DCM_PixelData, bytes.data(),
                                   static_cast<unsigned long>(bytes.size())),
          "pixel data");
  } else {
    std::vector<Uint16> words(pixels * spec.frames.size());
    for (std::size_t f = 0; f < spec.frames.size(); ++f)
      std::memcpy(words.data() + f * pixels, spec.frames[f].data(), pixels * 2);
    check(d.putAndInsertUint16Array(DCM_PixelData, words.data(),
                                    static_cast<unsigned long>(words.size())),
          "pixel data");
  }
  saveAtomically(ff, file, EXS_LittleEndianExplicit);
}

std::string newUid() {
  char buf[100];
  dcmGenerateUniqueIdentifier(buf, SITE_INSTANCE_UID_ROOT);
  return buf;
}

void writeSecondaryCapture(const SecondaryCaptureSpec& spec, const fs::path& file) {
  if (!spec.source) throw std::runtime_error(file.string() + ": no source frame given");
  const DicomHeader& src = *spec.source;
  if (spec.columns == 0 || spec.rows == 0 || spec.columns > 65535 || spec.rows > 65535 ||
      spec.rgb.size() != std::size_t(spec.columns) * spec.rows * 3)
    throw std::runtime_error(file.string() + ": the picture's size does not match its pixels");
  if (src.studyInstanceUid.empty() || src.sopInstanceUid.empty() || src.sopClassUid.empty())
    throw std::runtime_error(file.string() + ": the source " + src.path +
                             " has no study or SOP Instance UID to refer to");
  DcmFileFormat ff;
  DcmDataset& d = *ff.getDataset();
  put(d, DCM_SpecificCharacterSet, "ISO_IR 192");
  put(d, DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
  put(d, DCM_SOPInstanceUID, spec.sopInstanceUid.empty() ? newUid() : spec.sopInstanceUid);
  // Patient and study: the source's, so the picture files beside it.
  put(d, DCM_PatientName, src.patient.name);
  put(d, DCM_PatientID, src.patient.id);
  if (!src.patient.issuer.empty()) put(d, DCM_IssuerOfPatientID, src.patient.issuer);
  put(d, DCM_PatientBirthDate, src.patient.birthDate);
  put(d, DCM_PatientSex, src.patientSex);
  put(d, DCM_StudyInstanceUID, src.studyInstanceUid);
  put(d, DCM_StudyDate, src.studyDate);
  put(d, DCM_StudyTime, src.studyTime);
  put(d, DCM_StudyID, src.studyId);
  put(d, DCM_AccessionNumber, src.accessionNumber);
  put(d, DCM_ReferringPhysicianName, src.referringPhysician);
  // Series and equipment: ours.
  put(d, DCM_Modality, "OT");
  put(d, DCM_SeriesInstanceUID, spec.seriesInstanceUid.empty() ? newUid() : spec.seriesInstanceUid);
  put(d, DCM_SeriesNumber, std::to_string(spec.seriesNumber));
  // The spine is not a paired part: with it named, Laterality is not needed.
  put(d, DCM_BodyPartExamined, "SPINE");
  put(d, DCM_SeriesDescription, spec.seriesDescription);
  put(d, DCM_Manufacturer, "FluoroPlan");
  put(d, DCM_ConversionType, "WSD");
  put(d, DCM_SecondaryCaptureDeviceManufacturer, "FluoroPlan");
  put(d, DCM_SecondaryCaptureDeviceManufacturerModelName, "fluoroplan overlay");
  // The image: derived from one frame, annotation burned in.
  put(d, DCM_InstanceNumber, std::to_string(spec.instanceNumber));
  put(d, DCM_PatientOrientation, "");
  char date[9], time[7];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(date, sizeof date, "%Y%m%d", &tm);
  std::strftime(time, sizeof time, "%H%M%S", &tm);
  put(d, DCM_ContentDate, date);
  put(d, DCM_ContentTime, time);
  put(d, DCM_ImageType, "DERIVED\\SECONDARY");
  if (!spec.derivationDescription.empty())
    put(d, DCM_DerivationDescription, spec.derivationDescription.substr(0, 1024));
  put(d, DCM_BurnedInAnnotation, "YES");
  DcmItem* ref = nullptr;
  check(d.findOrCreateSequenceItem(DCM_SourceImageSequence, ref, -2), "Source Image Sequence");
  put(*ref, DCM_ReferencedSOPClassUID, src.sopClassUid);
  put(*ref, DCM_ReferencedSOPInstanceUID, src.sopInstanceUid);
  if (src.numberOfFrames > 1)
    put(*ref, DCM_ReferencedFrameNumber, std::to_string(spec.sourceFrame));
  check(d.putAndInsertUint16(DCM_SamplesPerPixel, 3), "Samples per Pixel");
  put(d, DCM_PhotometricInterpretation, "RGB");
  check(d.putAndInsertUint16(DCM_PlanarConfiguration, 0), "Planar Configuration");
  check(d.putAndInsertUint16(DCM_Rows, Uint16(spec.rows)), "Rows");
  check(d.putAndInsertUint16(DCM_Columns, Uint16(spec.columns)), "Columns");
  check(d.putAndInsertUint16(DCM_BitsAllocated, 8), "Bits Allocated");
  check(d.putAndInsertUint16(DCM_BitsStored, 8), "Bits Stored");
  check(d.putAndInsertUint16(DCM_HighBit, 7), "High Bit");
  check(d.putAndInsertUint16(DCM_PixelRepresentation, 0), "Pixel Representation");
  check(d.putAndInsertUint8Array(DCM_PixelData, spec.rgb.data(), Uint32(spec.rgb.size())),
        "Pixel Data");
  saveAtomically(ff, file, EXS_LittleEndianExplicit);
}

} // namespace fluoroplan
