#include "imaging/dicom/dicom_scan.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcsequen.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string_view>

#include "imaging/core/parallel.h"
#include "imaging/dicom/dicom_internal.h"

namespace fluoroplan {
namespace fs = std::filesystem;

namespace {

bool knownNonDicom(const fs::path& p) {
  static constexpr std::array<std::string_view, 14> kExt = {
      ".png", ".jpg",  ".jpeg", ".json", ".txt", ".md",   ".nii",
      ".gz",  ".nrrd", ".vtp",  ".stl",  ".csv", ".html", ".pdf"};
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  const std::string name = p.filename().string();
  if (!name.empty() && name[0] == '.') return true; // hidden files, our own temporaries
  return std::find(kExt.begin(), kExt.end(), ext) != kExt.end();
}

bool isDicomDirName(const fs::path& p) {
  std::string name = p.filename().string();
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  return name == "DICOMDIR";
}

} // namespace

std::vector<fs::path> filesInDicomDir(const fs::path& dicomdir, Problems& problems) {
  std::vector<fs::path> out;
  DcmFileFormat ff;
  const OFCondition c = ff.loadFile(dicomdir.string().c_str());
  if (c.bad()) {
    problems.push_back(
        {Severity::Error, dicomdir.string(), std::string("unreadable DICOMDIR: ") + c.text()});
    return out;
  }
  DcmSequenceOfItems* records = nullptr;
  if (ff.getDataset()->findAndGetSequence(DCM_DirectoryRecordSequence, records).bad() || !records) {
    problems.push_back(
        {Severity::Error, dicomdir.string(), "DICOMDIR has no Directory Record Sequence"});
    return out;
  }
  const fs::path base = dicomdir.parent_path();
  for (unsigned long i = 0; i < records->card(); ++i) {
    DcmItem* rec = records->getItem(i);
    OFString id;
    if (!rec || rec->findAndGetOFStringArray(DCM_ReferencedFileID, id).bad() || id.empty())
      continue;
    // Components are separated by backslashes.
    fs::path rel;
    std::string s(id.c_str()), part;
    for (char ch : s + "\\") {
      if (ch == '\\') {
        if (!part.empty()) rel /= part;
        part.clear();
      } else if (ch != ' ') {
        part += ch;
      }
    }
    fs::path full = base / rel;
    std::error_code ec;
    if (!fs::exists(full, ec)) {
      // Media written on other systems may differ in case.
      problems.push_back(
          {Severity::Error, full.string(), "file referenced by DICOMDIR is missing"});
      continue;
    }
    out.push_back(full);
  }
  return out;
}

DicomScanResult scanDicom(const fs::path& path, const DicomScanOptions& options,
                          const ProgressCallback& progress) {
  DicomScanResult result;
  std::vector<fs::path> candidates;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    result.problems.push_back({Severity::Error, path.string(), "no such file or folder"});
    return result;
  }
  if (fs::is_directory(path, ec)) {
    auto consider = [&](const fs::directory_entry& e) {
      std::error_code fe;
      if (!e.is_regular_file(fe)) return;
      if (options.skipKnownNonDicomExtensions && knownNonDicom(e.path())) return;
      if (isDicomDirName(e.path())) return; // its files are found by the walk itself
      candidates.push_back(e.path());
    };
    if (options.recursive) {
      for (fs::recursive_directory_iterator
               it(path, fs::directory_options::skip_permission_denied, ec),
           end;
           it != end; it.increment(ec)) {
        if (ec) {
          result.problems.push_back(
              {Severity::Warning, path.string(), "cannot list folder: " + ec.message()});
          break;
        }
        consider(*it);
      }
    } else {
      for (const auto& e : fs::directory_iterator(path, ec))
        consider(e);
    }
  } else if (isDicomDirName(path)) {
    candidates = filesInDicomDir(path, result.problems);
  } else {
    candidates.push_back(path);
  }
  std::sort(candidates.begin(), candidates.end());
  result.candidates = candidates.size();

  std::vector<std::optional<DicomFile>> opened(candidates.size());
  std::vector<std::optional<Problem>> failed(candidates.size());
  parallelFor(
      candidates.size(), options.threads,
      [&](std::size_t i) {
        try {
          DicomFile f = DicomFile::open(candidates[i]);
          if (f.header().kind == DicomObjectKind::Directory) return; // DICOMDIR under another name
          opened[i] = std::move(f);
        } catch (const NotDicomError& e) {
          // Folders hold READMEs, licences and pictures too: worth a line, not an error.
          failed[i] = Problem{Severity::Warning, e.file(), e.problem() + ": skipped"};
        } catch (const DicomFileError& e) {
          failed[i] = Problem{Severity::Error, e.file(), e.problem()};
        } catch (const std::exception& e) {
          failed[i] = Problem{Severity::Error, candidates[i].string(), e.what()};
        }
      },
      progress, "reading DICOM headers");
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (opened[i]) result.files.push_back(std::move(*opened[i]));
    if (failed[i]) result.problems.push_back(std::move(*failed[i]));
  }
  return result;
}

} // namespace fluoroplan
