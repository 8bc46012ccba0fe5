#include "dicom_samples/broken_set.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <fstream>
#include <stdexcept>

#include "imaging/dicom/dicom_writer.h"

namespace fluoroplan::samples {
namespace fs = std::filesystem;

void editDicomFile(const fs::path& file, const std::function<void(DcmDataset&)>& edit) {
  DcmFileFormat ff;
  if (ff.loadFile(file.string().c_str()).bad())
    throw std::runtime_error(file.string() + ": cannot load to edit");
  ff.loadAllDataIntoMemory();
  edit(*ff.getDataset());
  if (ff.saveFile(file.string().c_str(), ff.getDataset()->getOriginalXfer()).bad())
    throw std::runtime_error(file.string() + ": cannot save after editing");
}

namespace {

std::vector<fs::path> smallSeries(const fs::path& dir, const std::string& seed,
                                  std::size_t slices = 8) {
  Volume v;
  v.size = {32, 32, slices};
  v.spacingMm = {0.8, 0.8, 2.0};
  v.originLps = {-12.4, -12.4, -8};
  v.hu.resize(v.voxelCount());
  for (std::size_t n = 0; n < v.hu.size(); ++n)
    v.hu[n] = static_cast<int16_t>((n * 13) % 1400 - 400);
  SeriesIdentity id;
  id.seed = "broken/" + seed;
  id.seriesDescription = "broken: " + seed;
  return writeCtSeries(v, dir, id);
}

} // namespace

std::vector<BrokenCase> writeBrokenSet(const fs::path& out) {
  const fs::path root = out / "broken";
  fs::remove_all(root);
  std::vector<BrokenCase> cases;
  auto add = [&](const std::string& folder, const std::string& defect,
                 const std::string& expected) {
    cases.push_back({folder, defect, expected});
    return root / folder;
  };
  {
    const fs::path d = add("not_dicom", "a text file where DICOM is expected", "not a DICOM file");
    fs::create_directories(d);
    std::ofstream(d / "IM0001.dcm") << "This is a referral letter, not an image.\n";
  }
  {
    const fs::path d =
        add("truncated", "a slice cut off in the middle of its pixel data", "truncated");
    const auto f = smallSeries(d, "truncated");
    fs::resize_file(f[3], fs::file_size(f[3]) - 900);
  }
  {
    const fs::path d =
        add("missing_pixel_data", "a slice without Pixel Data", "without Pixel Data");
    const auto f = smallSeries(d, "nopixels");
    editDicomFile(f[2], [](DcmDataset& ds) { ds.findAndDeleteElement(DCM_PixelData); });
  }
  {
    const fs::path d =
        add("missing_slice", "one slice missing: a 4 mm gap in a 2 mm series", "gap of 4 mm");
    const auto f = smallSeries(d, "gap");
    fs::remove(f[4]);
  }
  {
    const fs::path d =
        add("uneven_spacing", "one slice 0.7 mm out of place", "uneven slice spacing");
    const auto f = smallSeries(d, "uneven");
    editDicomFile(f[5], [](DcmDataset& ds) {
      ds.putAndInsertString(DCM_ImagePositionPatient, "-12.4\\-12.4\\2.7");
    });
  }
  {
    const fs::path d =
        add("duplicate_position", "two slices at the same position", "duplicate slice position");
    const auto f = smallSeries(d, "duplicate");
    fs::copy_file(f[2], d / "CT_copy.dcm");
    editDicomFile(d / "CT_copy.dcm", [](DcmDataset& ds) {
      ds.putAndInsertString(DCM_SOPInstanceUID, deterministicUid("broken/duplicate/copy").c_str());
      ds.putAndInsertString(DCM_InstanceNumber, "99");
    });
  }
  {
    const fs::path d =
        add("non_parallel", "one slice tilted 15 degrees against the others", "not parallel");
    const auto f = smallSeries(d, "nonparallel");
    editDicomFile(f[6], [](DcmDataset& ds) {
      ds.putAndInsertString(DCM_ImageOrientationPatient, "1\\0\\0\\0\\0.9659258\\-0.2588190");
    });
  }
  {
    const fs::path d =
        add("gantry_tilt", "a stack sheared by a 12 degree gantry tilt", "gantry tilt");
    const auto f = smallSeries(d, "tilt");
    for (std::size_t k = 0; k < f.size(); ++k)
      editDicomFile(f[k], [k](DcmDataset& ds) {
        const double z = -8 + 2.0 * double(k), y = -12.4 + 0.4251 * double(k); // tan(12 deg) * 2 mm
        ds.putAndInsertString(DCM_ImagePositionPatient,
                              ("-12.4\\" + std::to_string(y) + "\\" + std::to_string(z)).c_str());
        ds.putAndInsertString(DCM_GantryDetectorTilt, "12");
      });
  }
  {
    const fs::path d = add("zero_spacing", "Pixel Spacing of zero", "zero or negative");
    const auto f = smallSeries(d, "zerospacing", 3);
    for (const auto& p : f)
      editDicomFile(p, [](DcmDataset& ds) { ds.putAndInsertString(DCM_PixelSpacing, "0\\0"); });
  }
  {
    const fs::path d = add("absurd_dimensions", "Rows 60000 in the header", "absurd image size");
    const auto f = smallSeries(d, "absurd", 2);
    editDicomFile(f[0], [](DcmDataset& ds) { ds.putAndInsertUint16(DCM_Rows, 60000); });
  }
  {
    const fs::path d =
        add("two_series_one_folder",
            "two series mixed in one folder (not a defect: both must load)", "2 series");
    smallSeries(d / "a", "mixA", 4);
    smallSeries(d / "b", "mixB", 5);
  }
  return cases;
}

} // namespace fluoroplan::samples
