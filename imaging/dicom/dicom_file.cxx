#include "imaging/dicom/dicom_file.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>
#include <openjpeg.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <limits>
#include <mutex>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include "imaging/dicom/dicom_internal.h"

namespace fluoroplan {
namespace fs = std::filesystem;

static_assert(std::endian::native == std::endian::little,
              "pixel decoding assumes a little-endian host");

const char* kindName(DicomObjectKind k) {
  switch (k) {
  case DicomObjectKind::SliceImage:
    return "slice image";
  case DicomObjectKind::XRayRun:
    return "x-ray run";
  case DicomObjectKind::EnhancedXRayRun:
    return "enhanced x-ray run";
  case DicomObjectKind::DoseReport:
    return "radiation dose report";
  case DicomObjectKind::StructuredReport:
    return "structured report";
  case DicomObjectKind::Directory:
    return "DICOMDIR";
  case DicomObjectKind::Other:
    return "other";
  }
  return "other";
}

namespace dicom {

void ensureCodecsRegistered() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Our readers report every problem with its file; DCMTK's own logger
    // would print the same to stderr without saying which file.
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
    DcmRLEDecoderRegistration::registerCodecs();
  });
}

std::string stringValue(DcmItem& item, const DcmTagKey& tag, unsigned long pos) {
  OFString s;
  if (item.findAndGetOFString(tag, s, pos).bad()) return {};
  std::string r(s.c_str());
  const auto first = r.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = r.find_last_not_of(" \t\r\n");
  return r.substr(first, last - first + 1);
}

namespace {
std::optional<double> elementNumber(DcmElement& el, unsigned long pos) {
  if (el.getLength() == 0) return std::nullopt;
  double v = 0;
  switch (el.ident()) {
  case EVR_DS:
  case EVR_IS: {
    OFString s;
    if (el.getOFString(s, pos).bad()) return std::nullopt;
    std::string str(s.c_str());
    const auto first = str.find_first_not_of(' ');
    if (first == std::string::npos) return std::nullopt;
    char* end = nullptr;
    v = std::strtod(str.c_str() + first, &end);
    if (end == str.c_str() + first) return std::nullopt;
    break;
  }
  case EVR_FL: {
    Float32 f;
    if (el.getFloat32(f, pos).bad()) return std::nullopt;
    v = f;
    break;
  }
  case EVR_FD: {
    Float64 f;
    if (el.getFloat64(f, pos).bad()) return std::nullopt;
    v = f;
    break;
  }
  case EVR_US: {
    Uint16 u;
    if (el.getUint16(u, pos).bad()) return std::nullopt;
    v = u;
    break;
  }
  case EVR_SS: {
    Sint16 s;
    if (el.getSint16(s, pos).bad()) return std::nullopt;
    v = s;
    break;
  }
  case EVR_UL: {
    Uint32 u;
    if (el.getUint32(u, pos).bad()) return std::nullopt;
    v = u;
    break;
  }
  case EVR_SL: {
    Sint32 s;
    if (el.getSint32(s, pos).bad()) return std::nullopt;
    v = s;
    break;
  }
  default:
    return std::nullopt;
  }
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}
} // namespace

std::optional<double> numberValue(DcmItem& item, const DcmTagKey& tag, unsigned long pos) {
  DcmElement* el = nullptr;
  if (item.findAndGetElement(tag, el).bad() || el == nullptr) return std::nullopt;
  return elementNumber(*el, pos);
}

unsigned long valueMultiplicity(DcmItem& item, const DcmTagKey& tag) {
  DcmElement* el = nullptr;
  if (item.findAndGetElement(tag, el).bad() || el == nullptr) return 0;
  return el->getLength() == 0 ? 0 : el->getVM();
}

std::vector<double> numberValues(DcmItem& item, const DcmTagKey& tag) {
  std::vector<double> values;
  DcmElement* el = nullptr;
  if (item.findAndGetElement(tag, el).bad() || el == nullptr || el->getLength() == 0) return values;
  const unsigned long vm = el->getVM();
  for (unsigned long i = 0; i < vm; ++i) {
    auto v = elementNumber(*el, i);
    if (!v) return {};
    values.push_back(*v);
  }
  return values;
}

std::optional<double> numberValueDeep(DcmItem& item, const DcmTagKey& tag) {
  DcmElement* el = nullptr;
  if (item.findAndGetElement(tag, el, OFTrue /*searchIntoSub*/).bad() || el == nullptr)
    return std::nullopt;
  return elementNumber(*el, 0);
}

std::string stringValueDeep(DcmItem& item, const DcmTagKey& tag) {
  const char* s = nullptr;
  if (item.findAndGetString(tag, s, OFTrue).bad() || s == nullptr) return {};
  std::string r(s);
  while (!r.empty() && r.back() == ' ')
    r.pop_back();
  return r;
}

} // namespace dicom

bool looksLikeDicom(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  char buf[132] = {};
  in.read(buf, sizeof buf);
  const auto got = in.gcount();
  if (got == 132 && std::memcmp(buf + 128, "DICM", 4) == 0) return true;
  // Bare data set (no preamble) in little endian: the first tag is group 0002
  // or 0008 with a small element number.
  if (got >= 8) {
    const unsigned group =
        static_cast<unsigned char>(buf[0]) | (static_cast<unsigned char>(buf[1]) << 8);
    const unsigned element =
        static_cast<unsigned char>(buf[2]) | (static_cast<unsigned char>(buf[3]) << 8);
    return (group == 0x0002 || group == 0x0008) && element < 0x0100;
  }
  return false;
}

namespace {

using namespace dicom;

constexpr const char* kXRayDoseSrClass = "1.2.840.10008.5.1.4.1.1.88.67";
constexpr const char* kEnhancedXaClass = "1.2.840.10008.5.1.4.1.1.12.1.1";
constexpr const char* kEnhancedXrfClass = "1.2.840.10008.5.1.4.1.1.12.2.1";
constexpr const char* kXaClass = "1.2.840.10008.5.1.4.1.1.12.1";
constexpr const char* kXrfClass = "1.2.840.10008.5.1.4.1.1.12.2";
constexpr const char* kDicomDirClass = "1.2.840.10008.1.3.10";

// Dimensions beyond these are not images from any scanner or C-arm.
constexpr unsigned kMaxRowsOrColumns = 16384;
constexpr unsigned long kMaxFrames = 100000;

bool isJpeg2000(const std::string& uid) {
  return uid == "1.2.840.10008.1.2.4.90" || uid == "1.2.840.10008.1.2.4.91" ||
         uid == "1.2.840.10008.1.2.4.92" || uid == "1.2.840.10008.1.2.4.93";
}

DicomObjectKind classify(const DicomHeader& h, DcmDataset& ds) {
  const std::string& c = h.sopClassUid;
  if (c == kDicomDirClass) return DicomObjectKind::Directory;
  if (c == kXRayDoseSrClass) return DicomObjectKind::DoseReport;
  if (h.modality == "SR" || c.rfind("1.2.840.10008.5.1.4.1.1.88.", 0) == 0) {
    // Some systems write dose reports as Enhanced/Comprehensive SR: the root
    // concept "X-Ray Radiation Dose Report" (113701, DCM) identifies them.
    DcmItem* rootConcept = nullptr;
    if (ds.findAndGetSequenceItem(DCM_ConceptNameCodeSequence, rootConcept, 0).good() &&
        rootConcept) {
      if (stringValue(*rootConcept, DCM_CodeValue) == "113701") return DicomObjectKind::DoseReport;
    }
    return DicomObjectKind::StructuredReport;
  }
  if (c == kEnhancedXaClass || c == kEnhancedXrfClass) return DicomObjectKind::EnhancedXRayRun;
  if (c == kXaClass || c == kXrfClass || h.modality == "XA" || h.modality == "RF")
    return DicomObjectKind::XRayRun;
  // A cross-sectional slice without pixel data still belongs to its series:
  // the stack analysis then names it as broken instead of it vanishing.
  if ((!h.hasPixelData || h.numberOfFrames <= 1) && h.imagePositionLps && h.imageOrientationLps)
    return DicomObjectKind::SliceImage;
  return DicomObjectKind::Other;
}

void parseHeader(DicomHeader& h, DcmFileFormat& ff) {
  DcmDataset& ds = *ff.getDataset();
  DcmMetaInfo& meta = *ff.getMetaInfo();
  h.sopClassUid = stringValue(ds, DCM_SOPClassUID);
  if (h.sopClassUid.empty()) h.sopClassUid = stringValue(meta, DCM_MediaStorageSOPClassUID);
  h.sopInstanceUid = stringValue(ds, DCM_SOPInstanceUID);
  // Anonymised files sometimes empty the data set's UIDs; the file meta
  // header still names the instance.
  if (h.sopInstanceUid.empty())
    h.sopInstanceUid = stringValue(meta, DCM_MediaStorageSOPInstanceUID);
  h.studyInstanceUid = stringValue(ds, DCM_StudyInstanceUID);
  h.seriesInstanceUid = stringValue(ds, DCM_SeriesInstanceUID);
  h.modality = stringValue(ds, DCM_Modality);
  const DcmXfer xfer(ds.getOriginalXfer());
  h.transferSyntaxUid = xfer.getXferID();
  h.transferSyntaxName = xfer.getXferName();
  h.manufacturer = stringValue(ds, DCM_Manufacturer);
  h.modelName = stringValue(ds, DCM_ManufacturerModelName);
  h.seriesDescription = stringValue(ds, DCM_SeriesDescription);
  h.studyDate = stringValue(ds, DCM_StudyDate);
  h.seriesTime = stringValue(ds, DCM_SeriesTime);
  h.studyTime = stringValue(ds, DCM_StudyTime);
  h.studyId = stringValue(ds, DCM_StudyID);
  h.accessionNumber = stringValue(ds, DCM_AccessionNumber);
  h.referringPhysician = stringValue(ds, DCM_ReferringPhysicianName);
  h.patientSex = stringValue(ds, DCM_PatientSex);
  h.frameOfReferenceUid = stringValue(ds, DCM_FrameOfReferenceUID);
  h.contentTime = stringValue(ds, DCM_ContentTime);
  h.patient.id = stringValue(ds, DCM_PatientID);
  h.patient.name = stringValue(ds, DCM_PatientName);
  h.patient.birthDate = stringValue(ds, DCM_PatientBirthDate);
  h.patient.issuer = stringValue(ds, DCM_IssuerOfPatientID);
  h.seriesNumber = static_cast<int>(numberValue(ds, DCM_SeriesNumber).value_or(0));
  h.instanceNumber = static_cast<int>(numberValue(ds, DCM_InstanceNumber).value_or(0));

  h.hasPixelData = ds.tagExists(DCM_PixelData);
  h.rows = static_cast<uint16_t>(numberValue(ds, DCM_Rows).value_or(0));
  h.columns = static_cast<uint16_t>(numberValue(ds, DCM_Columns).value_or(0));
  h.samplesPerPixel =
      static_cast<uint16_t>(numberValue(ds, DCM_SamplesPerPixel).value_or(h.hasPixelData ? 1 : 0));
  h.bitsAllocated = static_cast<uint16_t>(numberValue(ds, DCM_BitsAllocated).value_or(0));
  h.bitsStored = static_cast<uint16_t>(numberValue(ds, DCM_BitsStored).value_or(h.bitsAllocated));
  h.pixelRepresentation =
      static_cast<uint16_t>(numberValue(ds, DCM_PixelRepresentation).value_or(0));
  h.photometricInterpretation = stringValue(ds, DCM_PhotometricInterpretation);
  const double frames = numberValue(ds, DCM_NumberOfFrames).value_or(h.hasPixelData ? 1 : 0);
  h.numberOfFrames = frames < 0 ? 0 : static_cast<uint32_t>(std::min(frames, 4.0e9));

  const auto ipp = numberValues(ds, DCM_ImagePositionPatient);
  if (ipp.size() == 3) h.imagePositionLps = Vec3{ipp[0], ipp[1], ipp[2]};
  const auto iop = numberValues(ds, DCM_ImageOrientationPatient);
  if (iop.size() == 6) {
    h.imageOrientationLps =
        std::array<Vec3, 2>{Vec3{iop[0], iop[1], iop[2]}, Vec3{iop[3], iop[4], iop[5]}};
  }
  const auto ps = numberValues(ds, DCM_PixelSpacing);
  if (ps.size() == 2) h.pixelSpacingMm = std::array<double, 2>{ps[0], ps[1]};
  h.sliceThicknessMm = numberValue(ds, DCM_SliceThickness);
  h.gantryTiltDeg = numberValue(ds, DCM_GantryDetectorTilt);
  h.rescaleSlope = numberValue(ds, DCM_RescaleSlope).value_or(1.0);
  h.rescaleIntercept = numberValue(ds, DCM_RescaleIntercept).value_or(0.0);
  h.kind = classify(h, ds);
}

void validateImageHeader(const DicomHeader& h) {
  if (!h.hasPixelData) return;
  std::ostringstream why;
  if (h.rows == 0 || h.columns == 0)
    why << "image has " << h.rows << " rows and " << h.columns << " columns";
  else if (h.rows > kMaxRowsOrColumns || h.columns > kMaxRowsOrColumns)
    why << "absurd image size " << h.columns << "x" << h.rows << " (limit " << kMaxRowsOrColumns
        << ")";
  else if (h.numberOfFrames == 0 || h.numberOfFrames > kMaxFrames)
    why << "absurd Number of Frames " << h.numberOfFrames;
  else if (h.bitsAllocated != 8 && h.bitsAllocated != 16)
    why << "Bits Allocated " << h.bitsAllocated << " is not supported (8 or 16)";
  else if (h.bitsStored == 0 || h.bitsStored > h.bitsAllocated)
    why << "Bits Stored " << h.bitsStored << " does not fit Bits Allocated " << h.bitsAllocated;
  else if (h.samplesPerPixel != 1)
    why << "Samples per Pixel " << h.samplesPerPixel << " (colour) is not supported";
  else if (h.pixelSpacingMm && ((*h.pixelSpacingMm)[0] <= 0 || (*h.pixelSpacingMm)[1] <= 0))
    why << "Pixel Spacing " << (*h.pixelSpacingMm)[0] << "\\" << (*h.pixelSpacingMm)[1]
        << " mm is zero or negative";
  else if (!std::isfinite(h.rescaleSlope) || h.rescaleSlope == 0)
    why << "Rescale Slope " << h.rescaleSlope << " is zero or invalid";
  const std::string w = why.str();
  if (!w.empty()) throw DicomFileError(h.path, w);
}

// --- JPEG 2000 through OpenJPEG --------------------------------------------

struct MemoryStream {
  const uint8_t* data;
  OPJ_SIZE_T size;
  OPJ_SIZE_T pos;
};

OPJ_SIZE_T memRead(void* buffer, OPJ_SIZE_T n, void* user) {
  auto* s = static_cast<MemoryStream*>(user);
  if (s->pos >= s->size) return static_cast<OPJ_SIZE_T>(-1);
  const OPJ_SIZE_T k = std::min(n, s->size - s->pos);
  std::memcpy(buffer, s->data + s->pos, k);
  s->pos += k;
  return k;
}
OPJ_OFF_T memSkip(OPJ_OFF_T n, void* user) {
  auto* s = static_cast<MemoryStream*>(user);
  const OPJ_OFF_T target =
      std::clamp<OPJ_OFF_T>(static_cast<OPJ_OFF_T>(s->pos) + n, 0, static_cast<OPJ_OFF_T>(s->size));
  const OPJ_OFF_T moved = target - static_cast<OPJ_OFF_T>(s->pos);
  s->pos = static_cast<OPJ_SIZE_T>(target);
  return moved;
}
OPJ_BOOL memSeek(OPJ_OFF_T n, void* user) {
  auto* s = static_cast<MemoryStream*>(user);
  if (n < 0 || static_cast<OPJ_SIZE_T>(n) > s->size) return OPJ_FALSE;
  s->pos = static_cast<OPJ_SIZE_T>(n);
  return OPJ_TRUE;
}

FrameSamples decodeJpeg2000(const std::string& path, const std::vector<uint8_t>& bytes,
                            const DicomHeader& h) {
  if (bytes.size() < 4) throw DicomFileError(path, "JPEG 2000 frame is empty");
  // DICOM stores a raw codestream (FF 4F); a few writers wrap it in JP2 boxes.
  const bool isCodestream = bytes[0] == 0xFF && bytes[1] == 0x4F;
  opj_codec_t* codec = opj_create_decompress(isCodestream ? OPJ_CODEC_J2K : OPJ_CODEC_JP2);
  opj_dparameters_t params;
  opj_set_default_decoder_parameters(&params);
  opj_image_t* image = nullptr;
  opj_stream_t* stream = opj_stream_create(1 << 16, OPJ_TRUE);
  MemoryStream mem{bytes.data(), bytes.size(), 0};
  opj_stream_set_user_data(stream, &mem, nullptr);
  opj_stream_set_user_data_length(stream, bytes.size());
  opj_stream_set_read_function(stream, memRead);
  opj_stream_set_skip_function(stream, memSkip);
  opj_stream_set_seek_function(stream, memSeek);
  auto cleanup = [&] {
    if (image) opj_image_destroy(image);
    opj_stream_destroy(stream);
    opj_destroy_codec(codec);
  };
  const bool ok = opj_setup_decoder(codec, &params) && opj_read_header(stream, codec, &image) &&
                  opj_decode(codec, stream, image) && opj_end_decompress(codec, stream);
  if (!ok || image == nullptr || image->numcomps < 1 || image->comps[0].data == nullptr) {
    cleanup();
    throw DicomFileError(path,
                         "JPEG 2000 frame could not be decoded (corrupt or truncated codestream)");
  }
  const opj_image_comp_t& c = image->comps[0];
  if (c.w != h.columns || c.h != h.rows) {
    std::ostringstream why;
    why << "JPEG 2000 frame is " << c.w << "x" << c.h << " but the header says " << h.columns << "x"
        << h.rows;
    cleanup();
    throw DicomFileError(path, why.str());
  }
  FrameSamples out;
  out.rows = h.rows;
  out.columns = h.columns;
  out.values.assign(c.data, c.data + static_cast<std::size_t>(c.w) * c.h);
  cleanup();
  return out;
}

// The bytes of encapsulated frame `index`: one fragment per frame when the
// counts match, the offset table's ranges otherwise, all fragments for a
// single-frame image.
std::vector<uint8_t> encapsulatedFrame(const std::string& path, DcmDataset& ds, uint32_t index,
                                       uint32_t frames) {
  DcmElement* el = nullptr;
  if (ds.findAndGetElement(DCM_PixelData, el).bad() || el == nullptr)
    throw DicomFileError(path, "no Pixel Data (7FE0,0010)");
  auto* pixel = dynamic_cast<DcmPixelData*>(el);
  DcmPixelSequence* seq = nullptr;
  if (pixel == nullptr ||
      pixel->getEncapsulatedRepresentation(ds.getOriginalXfer(), nullptr, seq).bad() ||
      seq == nullptr)
    throw DicomFileError(path, "encapsulated Pixel Data could not be read (truncated file?)");
  const unsigned long items = seq->card();
  if (items < 2) throw DicomFileError(path, "encapsulated Pixel Data holds no fragments");
  auto fragment = [&](unsigned long i) {
    DcmPixelItem* item = nullptr;
    Uint8* data = nullptr;
    if (seq->getItem(item, i).bad() || item == nullptr || item->getUint8Array(data).bad())
      throw DicomFileError(path, "JPEG 2000 fragment " + std::to_string(i) + " is unreadable");
    return std::span<const uint8_t>(data, data ? item->getLength() : 0);
  };
  std::vector<uint8_t> bytes;
  auto append = [&](unsigned long i) {
    const auto f = fragment(i);
    bytes.insert(bytes.end(), f.begin(), f.end());
  };
  const unsigned long fragments = items - 1;
  if (frames <= 1) {
    for (unsigned long i = 1; i < items; ++i)
      append(i);
  } else if (fragments == frames) {
    append(index + 1);
  } else {
    // Use the basic offset table: byte offsets of each frame's first fragment.
    const auto table = fragment(0);
    if (table.size() < 4u * frames)
      throw DicomFileError(path, "multi-frame encapsulated data without a usable offset table");
    auto offsetOf = [&](uint32_t f) {
      uint32_t v;
      std::memcpy(&v, table.data() + 4 * f, 4);
      return v;
    };
    const uint32_t begin = offsetOf(index);
    const uint32_t end =
        index + 1 < frames ? offsetOf(index + 1) : std::numeric_limits<uint32_t>::max();
    uint64_t pos = 0;
    for (unsigned long i = 1; i < items; ++i) {
      const auto f = fragment(i);
      if (pos >= begin && pos < end) bytes.insert(bytes.end(), f.begin(), f.end());
      pos += f.size() + 8; // item tag and length precede every fragment
    }
  }
  return bytes;
}

} // namespace

DicomFile DicomFile::open(const fs::path& path) {
  ensureCodecsRegistered();
  const std::string p = path.string();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw DicomFileError(p, "not a regular file");
  if (fs::file_size(path, ec) == 0) throw DicomFileError(p, "file is empty");
  if (!looksLikeDicom(path))
    throw NotDicomError(p,
                        "not a DICOM file (no 'DICM' marker at byte 128 and no data set header)");
  auto impl = std::make_shared<Impl>();
  impl->file = std::make_unique<DcmFileFormat>();
  // Values over 64 KiB (pixel data) stay on disk until decoded.
  const OFCondition c =
      impl->file->loadFile(p.c_str(), EXS_Unknown, EGL_noChange, 64 * 1024, ERM_autoDetect);
  if (c.bad()) throw DicomFileError(p, std::string("unreadable DICOM: ") + c.text());
  impl->header.path = p;
  parseHeader(impl->header, *impl->file);
  if (impl->header.sopClassUid.empty() && impl->header.kind != DicomObjectKind::Directory)
    throw DicomFileError(p, "no SOP Class UID: not a DICOM object FluoroPlan can use");
  validateImageHeader(impl->header);
  return DicomFile(std::move(impl));
}

const DicomHeader& DicomFile::header() const {
  return impl_->header;
}

FrameSamples DicomFile::frame(uint32_t index) const {
  const DicomHeader& h = impl_->header;
  if (!h.hasPixelData) throw DicomFileError(h.path, "no Pixel Data (7FE0,0010)");
  if (index >= h.numberOfFrames)
    throw DicomFileError(h.path, "frame " + std::to_string(index + 1) +
                                     " requested but the file has " +
                                     std::to_string(h.numberOfFrames));
  DcmDataset& ds = *impl_->dataset();
  if (isJpeg2000(h.transferSyntaxUid)) {
    FrameSamples s =
        decodeJpeg2000(h.path, encapsulatedFrame(h.path, ds, index, h.numberOfFrames), h);
    return s;
  }
  const std::size_t pixels = static_cast<std::size_t>(h.rows) * h.columns;
  if (DcmXfer(ds.getOriginalXfer()).isEncapsulated()) {
    // DCMTK decodes the whole object; the decoded copy replaces the compressed one.
    if (ds.chooseRepresentation(EXS_LittleEndianExplicit, nullptr).bad() ||
        !ds.canWriteXfer(EXS_LittleEndianExplicit))
      throw DicomFileError(h.path, "cannot decode transfer syntax " + h.transferSyntaxName + " (" +
                                       h.transferSyntaxUid + ")");
  }
  DcmElement* el = nullptr;
  if (ds.findAndGetElement(DCM_PixelData, el).bad() || el == nullptr)
    throw DicomFileError(h.path, "no Pixel Data (7FE0,0010)");
  std::error_code ec;
  const auto fileSize = std::filesystem::file_size(h.path, ec);
  // A declared length beyond the file's size is a truncated or corrupt file;
  // checking first keeps DCMTK from allocating what the file cannot hold.
  if (ec || (!DcmXfer(ds.getOriginalXfer()).isEncapsulated() && el->getLength() > fileSize))
    throw DicomFileError(h.path, "Pixel Data length " + std::to_string(el->getLength()) +
                                     " exceeds the file size (truncated file?)");
  const std::size_t bytesPerSample = h.bitsAllocated / 8;
  const std::size_t need = pixels * bytesPerSample * (static_cast<std::size_t>(index) + 1);
  FrameSamples out;
  out.rows = h.rows;
  out.columns = h.columns;
  out.values.resize(pixels);
  const bool isSigned = h.pixelRepresentation == 1;
  const unsigned bits = h.bitsStored;
  auto convert = [&](uint32_t raw) -> int32_t {
    const uint32_t mask = bits >= 32 ? 0xFFFFFFFFu : ((1u << bits) - 1u);
    raw &= mask;
    if (isSigned && bits < 32 && (raw & (1u << (bits - 1))))
      return static_cast<int32_t>(raw | ~mask);
    return static_cast<int32_t>(raw);
  };
  if (h.bitsAllocated == 8) {
    Uint8* data = nullptr;
    if (el->getUint8Array(data).bad() || data == nullptr || el->getLength() < need)
      throw DicomFileError(h.path, "Pixel Data is shorter than " + std::to_string(need) +
                                       " bytes (truncated file?)");
    const Uint8* f = data + pixels * index;
    for (std::size_t i = 0; i < pixels; ++i)
      out.values[i] = convert(f[i]);
  } else {
    Uint16* data = nullptr;
    if (el->getUint16Array(data).bad() || data == nullptr || el->getLength() < need)
      throw DicomFileError(h.path, "Pixel Data is shorter than " + std::to_string(need) +
                                       " bytes (truncated file?)");
    const Uint16* f = data + pixels * index;
    for (std::size_t i = 0; i < pixels; ++i)
      out.values[i] = convert(f[i]);
  }
  return out;
}

bool DicomFile::readNativePixelsDirect(std::span<int16_t> out) const {
  // Pixel Data is normally the last element: then its value is the file's
  // last `length` bytes, preceded by its tag (E0 7F 10 00). Anything else
  // returns false and the caller goes through DCMTK.
  const DicomHeader& h = impl_->header;
  DcmElement* el = nullptr;
  if (impl_->dataset()->findAndGetElement(DCM_PixelData, el).bad() || el == nullptr) return false;
  const std::uint64_t length = el->getLength();
  const std::uint64_t need = out.size() * 2;
  if (length < need) return false;
  const int fd = ::open(h.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) >= length + 8;
  if (ok) {
    const off_t valueOffset = static_cast<off_t>(st.st_size - length);
    // Explicit VR: tag(4) 'OW' 00 00 length(4); implicit VR: tag(4) length(4).
    unsigned char head[12] = {};
    const off_t headOffset = valueOffset >= 12 ? valueOffset - 12 : 0;
    ok = ::pread(fd, head, 12, headOffset) == 12;
    auto le32 = [](const unsigned char* b) {
      return std::uint32_t(b[0]) | std::uint32_t(b[1]) << 8 | std::uint32_t(b[2]) << 16 |
             std::uint32_t(b[3]) << 24;
    };
    static constexpr unsigned char kTag[4] = {0xE0, 0x7F, 0x10, 0x00};
    const bool explicitVr = ok && std::memcmp(head, kTag, 4) == 0 && le32(head + 8) == length;
    const bool implicitVr = ok && std::memcmp(head + 4, kTag, 4) == 0 && le32(head + 8) == length;
    ok = explicitVr || implicitVr;
    std::size_t done = 0;
    auto* dst = reinterpret_cast<char*>(out.data());
    while (ok && done < need) {
      const ssize_t n =
          ::pread(fd, dst + done, need - done, valueOffset + static_cast<off_t>(done));
      if (n <= 0)
        ok = false;
      else
        done += static_cast<std::size_t>(n);
    }
  }
  ::close(fd);
  return ok;
}

std::size_t DicomFile::decodeRescaledInt16(std::span<int16_t> out) const {
  const DicomHeader& h = impl_->header;
  const std::size_t pixels = static_cast<std::size_t>(h.rows) * h.columns;
  if (out.size() != pixels)
    throw DicomFileError(h.path, "internal: output buffer does not match image size");
  const double slope = h.rescaleSlope, intercept = h.rescaleIntercept;
  std::size_t clamped = 0;
  auto store = [&](std::size_t i, double v) {
    const double r = std::nearbyint(v);
    if (r < -32768.0 || r > 32767.0) {
      ++clamped;
      out[i] = static_cast<int16_t>(r < 0 ? -32768 : 32767);
    } else {
      out[i] = static_cast<int16_t>(r);
    }
  };
  // Fast path: native little-endian 16-bit data with an integer rescale, the
  // common CT case. The pixel bytes go from the file straight into `out`.
  DcmDataset& ds = *impl_->dataset();
  const E_TransferSyntax xfer = ds.getOriginalXfer();
  const bool nativeLittle = xfer == EXS_LittleEndianExplicit || xfer == EXS_LittleEndianImplicit;
  if (nativeLittle && h.bitsAllocated == 16 && h.bitsStored == 16 && slope == 1.0 &&
      intercept == std::floor(intercept) && std::abs(intercept) < 65536) {
    if (!readNativePixelsDirect(out)) {
      // Not laid out as expected (trailing elements, odd headers): let DCMTK read it.
      DcmElement* el = nullptr;
      Uint16* data = nullptr;
      if (ds.findAndGetElement(DCM_PixelData, el).bad() || el == nullptr)
        throw DicomFileError(h.path, "no Pixel Data (7FE0,0010)");
      if (el->getUint16Array(data).bad() || data == nullptr || el->getLength() < pixels * 2)
        throw DicomFileError(h.path, "Pixel Data is shorter than " + std::to_string(pixels * 2) +
                                         " bytes (truncated file?)");
      std::memcpy(out.data(), data, pixels * 2);
      el->compact(); // drop DCMTK's copy: it can be reloaded from the file
    }
    const int32_t icpt = static_cast<int32_t>(intercept);
    if (h.pixelRepresentation == 1) {
      if (icpt != 0) {
        for (std::size_t i = 0; i < pixels; ++i) {
          const int32_t v = out[i] + icpt;
          clamped += (v < -32768 || v > 32767);
          out[i] = static_cast<int16_t>(std::clamp(v, -32768, 32767));
        }
      }
    } else {
      auto* u = reinterpret_cast<uint16_t*>(out.data());
      for (std::size_t i = 0; i < pixels; ++i) {
        const int32_t v = static_cast<int32_t>(u[i]) + icpt;
        clamped += (v < -32768 || v > 32767);
        out[i] = static_cast<int16_t>(std::clamp(v, -32768, 32767));
      }
    }
    return clamped;
  }
  const FrameSamples f = frame(0);
  for (std::size_t i = 0; i < pixels; ++i)
    store(i, f.values[i] * slope + intercept);
  return clamped;
}

} // namespace fluoroplan
