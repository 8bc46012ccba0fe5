#include <gtest/gtest.h>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmjpeg/djencode.h>
#include <dcmtk/dcmjpeg/djrplol.h>
#include <dcmtk/dcmjpeg/djrploss.h>

#include <cmath>

#include "imaging/dicom/study_inventory.h"
#include "tests/support/test_data.h"

using namespace fluoroplan;
using namespace fluoroplan::test;
namespace fs = std::filesystem;

namespace {
class LosslessCodec : public ::testing::TestWithParam<DicomCompression> {};
} // namespace

TEST_P(LosslessCodec, DecodesExactly) {
  const DicomCompression c = GetParam();
  const fs::path dir = freshDir(std::string("codec") + std::to_string(int(c)));
  writeSmallCt(dir, "codec" + std::to_string(int(c)), 4, c);
  StudyInventory inv = buildInventory(dir);
  ASSERT_EQ(inv.volumeSeries.size(), 1u);
  EXPECT_TRUE(inv.problems.empty());
  const VolumeSeriesLoad load = loadVolume(inv, 0);
  ASSERT_TRUE(load.volume) << (load.problems.empty() ? "" : load.problems[0].toString());
  const Volume& v = *load.volume;
  for (std::size_t k = 0; k < v.size[2]; ++k)
    for (std::size_t j = 0; j < v.size[1]; ++j)
      for (std::size_t i = 0; i < v.size[0]; ++i)
        ASSERT_EQ(v.at(i, j, k), indexCodedValue(i, j, k)) << compressionName(c);
}

INSTANTIATE_TEST_SUITE_P(Codecs, LosslessCodec,
                         ::testing::Values(DicomCompression::None, DicomCompression::RleLossless,
                                           DicomCompression::JpegLossless,
                                           DicomCompression::JpegLsLossless,
                                           DicomCompression::Jpeg2000Lossless));

TEST(Codecs, Jpeg2000LossyDecodesClose) {
  const fs::path dir = freshDir("j2k-lossy");
  // A smooth image so that lossy coding stays close to the original.
  Volume v;
  v.size = {64, 64, 2};
  v.hu.resize(v.voxelCount());
  for (std::size_t k = 0; k < 2; ++k)
    for (std::size_t j = 0; j < 64; ++j)
      for (std::size_t i = 0; i < 64; ++i)
        v.hu[v.offset(i, j, k)] =
            static_cast<int16_t>(200 * std::sin(i / 9.0) + 100 * std::cos(j / 7.0) + 30 * k);
  SeriesIdentity id;
  id.seed = "j2k-lossy";
  CtWriteOptions o;
  o.compression = DicomCompression::Jpeg2000Lossy;
  writeCtSeries(v, dir, id, o);
  StudyInventory inv = buildInventory(dir);
  ASSERT_EQ(inv.files.size(), 2u);
  EXPECT_EQ(inv.files[0].header().transferSyntaxUid, "1.2.840.10008.1.2.4.91");
  const VolumeSeriesLoad load = loadVolume(inv, 0);
  ASSERT_TRUE(load.volume);
  double err = 0;
  for (std::size_t n = 0; n < v.hu.size(); ++n)
    err += std::abs(load.volume->hu[n] - v.hu[n]);
  EXPECT_LT(err / double(v.hu.size()), 5.0); // mean absolute error in HU
}

TEST(Codecs, JpegBaselineEightBitDecodes) {
  // JPEG baseline (process 1) is 8-bit only: an 8-bit image run through
  // DCMTK's lossy encoder, read back through our decoder path.
  const fs::path dir = freshDir("jpeg-baseline");
  XRayRunSpec spec;
  spec.identity.seed = "jpeg-baseline";
  spec.rows = 64;
  spec.columns = 80;
  spec.bitsStored = 8;
  std::vector<uint16_t> frame(64 * 80);
  for (std::size_t j = 0; j < 64; ++j)
    for (std::size_t i = 0; i < 80; ++i)
      frame[j * 80 + i] =
          static_cast<uint16_t>(128 + 100 * std::sin(i / 11.0) * std::cos(j / 13.0));
  spec.frames = {frame};
  const fs::path f = dir / "xa.dcm";
  writeXRayRun(spec, f);
  DJEncoderRegistration::registerCodecs();
  {
    DcmFileFormat ff;
    ASSERT_TRUE(ff.loadFile(f.string().c_str()).good());
    DJ_RPLossy rp(95);
    ASSERT_TRUE(ff.getDataset()->chooseRepresentation(EXS_JPEGProcess1, &rp).good());
    ASSERT_TRUE(ff.saveFile(f.string().c_str(), EXS_JPEGProcess1).good());
  }
  const DicomFile file = DicomFile::open(f);
  EXPECT_EQ(file.header().transferSyntaxUid, "1.2.840.10008.1.2.4.50");
  const FrameSamples s = file.frame(0);
  // Reference: DCMTK's own command-line decoder, then our native reader.
  ASSERT_EQ(std::system("command -v dcmdjpeg >/dev/null"), 0)
      << "dcmdjpeg (Debian dcmtk) is needed";
  const fs::path plain = dir / "plain.dcm";
  ASSERT_EQ(std::system(("dcmdjpeg '" + f.string() + "' '" + plain.string() + "'").c_str()), 0);
  const FrameSamples reference = DicomFile::open(plain).frame(0);
  EXPECT_EQ(s.values, reference.values);
  // And the picture is still the picture: strong correlation with the input.
  double mx = 0, my = 0;
  for (std::size_t n = 0; n < frame.size(); ++n) {
    mx += frame[n];
    my += s.values[n];
  }
  mx /= double(frame.size());
  my /= double(frame.size());
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t n = 0; n < frame.size(); ++n) {
    sxy += (frame[n] - mx) * (s.values[n] - my);
    sxx += (frame[n] - mx) * (frame[n] - mx);
    syy += (s.values[n] - my) * (s.values[n] - my);
  }
  EXPECT_GT(sxy / std::sqrt(sxx * syy), 0.99);
}
