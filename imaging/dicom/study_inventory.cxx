#include "imaging/dicom/study_inventory.h"

#include <algorithm>
#include <map>

namespace fluoroplan {

StudyInventory buildInventory(const std::filesystem::path& path, const DicomScanOptions& options,
                              const ProgressCallback& progress) {
  return buildInventory(scanDicom(path, options, progress));
}

StudyInventory buildInventory(DicomScanResult scan) {
  StudyInventory inv;
  inv.files = std::move(scan.files);
  inv.problems = std::move(scan.problems);
  inv.filesLookedAt = scan.candidates;

  std::map<std::string, std::size_t> seriesIndex;
  auto notePatient = [&](const PatientIdentity& p) {
    if (std::find(inv.patients.begin(), inv.patients.end(), p) == inv.patients.end())
      inv.patients.push_back(p);
  };
  for (std::size_t i = 0; i < inv.files.size(); ++i) {
    const DicomFile& f = inv.files[i];
    const DicomHeader& h = f.header();
    notePatient(h.patient);
    try {
      switch (h.kind) {
      case DicomObjectKind::SliceImage: {
        auto [it, added] = seriesIndex.emplace(h.seriesInstanceUid, inv.volumeSeries.size());
        if (added) {
          VolumeSeriesEntry e;
          e.seriesInstanceUid = h.seriesInstanceUid;
          e.modality = h.modality;
          e.description = h.seriesDescription;
          e.patient = h.patient;
          inv.volumeSeries.push_back(std::move(e));
        }
        inv.volumeSeries[it->second].files.push_back(i);
        break;
      }
      case DicomObjectKind::XRayRun:
      case DicomObjectKind::EnhancedXRayRun: {
        XRayRunEntry e{readXRayRun(f), {}};
        const bool perFrame = h.kind == DicomObjectKind::EnhancedXRayRun;
        auto add = [&](const XRayExposure& x) {
          if (x.areaDoseProductDGyCm2) {
            e.dose.areaDoseProductDGyCm2 += *x.areaDoseProductDGyCm2;
            ++e.dose.valuesWithDap;
          } else {
            ++e.dose.valuesWithoutDap;
          }
          e.dose.entranceDoseMGy += x.entranceDoseMGy.value_or(0);
          e.dose.exposureTimeMs += x.exposureTimeMs.value_or(0);
        };
        if (perFrame)
          for (const auto& fr : e.run.frames)
            add(fr.exposure);
        else
          add(e.run.exposure);
        inv.runs.push_back(std::move(e));
        break;
      }
      case DicomObjectKind::DoseReport: {
        DoseReportSummary s = readDoseReportSummary(f);
        inv.problems.insert(inv.problems.end(), s.problems.begin(), s.problems.end());
        inv.doseReports.push_back(std::move(s));
        break;
      }
      default:
        inv.otherObjects.push_back(h.path + ": " + kindName(h.kind) + " (" + h.modality +
                                   ", SOP Class " + h.sopClassUid + ")");
      }
    } catch (const DicomFileError& e) {
      inv.problems.push_back({Severity::Error, e.file(), e.problem()});
    }
  }
  for (auto& s : inv.volumeSeries) {
    std::vector<DicomHeader> headers;
    for (std::size_t i : s.files)
      headers.push_back(inv.files[i].header());
    s.stack = analyseSliceStack(headers);
    // Map the stack's order (indices into `headers`) back to inventory files.
    for (auto& k : s.stack.order)
      k = s.files[k];
    inv.problems.insert(inv.problems.end(), s.stack.problems.begin(), s.stack.problems.end());
  }
  if (inv.patients.size() > 1) {
    std::string who;
    for (const auto& p : inv.patients)
      who += (who.empty() ? "" : "; ") + p.id + " / " + p.name + " / " + p.birthDate;
    inv.problems.push_back({Severity::Warning, "",
                            "objects of " + std::to_string(inv.patients.size()) +
                                " different patients (ID / name / birth date): " + who});
  }
  return inv;
}

VolumeSeriesLoad loadVolume(const StudyInventory& inv, std::size_t seriesIndex, unsigned threads,
                            const ProgressCallback& progress) {
  const VolumeSeriesEntry& e = inv.volumeSeries.at(seriesIndex);
  std::vector<DicomFile> slices;
  for (std::size_t i : e.files)
    slices.push_back(inv.files[i]);
  return loadVolumeSeries(slices, threads, progress);
}

std::optional<std::size_t> primaryVolumeSeries(const StudyInventory& inv) {
  std::optional<std::size_t> best;
  auto score = [&](std::size_t i) {
    const auto& s = inv.volumeSeries[i];
    return std::make_tuple(s.stack.usable, s.modality == "CT", s.stack.order.size());
  };
  for (std::size_t i = 0; i < inv.volumeSeries.size(); ++i)
    if (!best || score(i) > score(*best)) best = i;
  return best;
}

} // namespace fluoroplan
