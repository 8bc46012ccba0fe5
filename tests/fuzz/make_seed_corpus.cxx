// Writes small valid DICOM files (CT slices in several transfer syntaxes, XA
// runs legacy and enhanced, 8- and 16-bit) as the fuzzer's seed corpus.
#include <filesystem>
#include <iostream>

#include "imaging/dicom/dicom_writer.h"

using namespace fluoroplan;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_seed_corpus OUT_DIR\n";
    return 2;
  }
  const fs::path out = argv[1];
  fs::create_directories(out);
  Volume v;
  v.size = {8, 6, 2};
  v.spacingMm = {0.5, 0.5, 1.0};
  v.hu.resize(v.voxelCount());
  for (std::size_t n = 0; n < v.hu.size(); ++n)
    v.hu[n] = static_cast<int16_t>(n * 37 % 2000 - 1000);
  int n = 0;
  for (auto c :
       {DicomCompression::None, DicomCompression::RleLossless, DicomCompression::JpegLossless,
        DicomCompression::JpegLsLossless, DicomCompression::Jpeg2000Lossless}) {
    SeriesIdentity id;
    id.seed = "seed" + std::to_string(n);
    CtWriteOptions o;
    o.compression = c;
    o.filePrefix = "ct" + std::to_string(n++) + "_";
    writeCtSeries(v, out, id, o);
  }
  for (int enhanced = 0; enhanced < 2; ++enhanced)
    for (uint16_t bits : {uint16_t(8), uint16_t(12)}) {
      XRayRunSpec s;
      s.identity.seed = "seed-xa" + std::to_string(enhanced) + std::to_string(bits);
      s.enhanced = enhanced == 1;
      s.rows = 6;
      s.columns = 5;
      s.bitsStored = bits;
      s.frames.assign(2, std::vector<uint16_t>(30, 77));
      s.positioner.primaryAngleDeg = 20;
      s.positioner.secondaryAngleDeg = -30;
      s.positioner.sourceToDetectorMm = 1000;
      s.exposure.areaDoseProductDGyCm2 = 0.2;
      s.framePositioners.assign(2, s.positioner);
      s.frameExposures.assign(2, s.exposure);
      writeXRayRun(s,
                   out / ("xa" + std::to_string(enhanced) + "_" + std::to_string(bits) + ".dcm"));
    }
  std::cout << "seed corpus written to " << out << "\n";
  return 0;
}
