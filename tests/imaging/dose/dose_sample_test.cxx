// The sample case's runs and dose report against the generator's truth;
// the RDSR we write, read back and validated; bad dose input.
#include <gtest/gtest.h>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "imaging/dicom/study_inventory.h"
#include "imaging/dose/dose_ledger.h"
#include "imaging/dose/dose_report_check.h"
#include "imaging/dose/dose_report_out.h"

using namespace fluoroplan;
namespace fs = std::filesystem;

namespace {
const fs::path kCase = FLUOROPLAN_SAMPLE_CASE;

struct Truth {
  double dapGyCm2, kermaMGy, fluoroS;
};
Truth truth() {
  std::ifstream in(kCase / "truth" / "runs_truth.json");
  const auto j = nlohmann::json::parse(in);
  return {j["totals"]["dap_dGy_cm2"].get<double>() * 0.1, j["totals"]["kerma_rp_mGy"],
          j["totals"]["fluoro_time_s"]};
}

struct Sources {
  std::vector<DoseEvent> frames, report;
  DoseReportDose reportDose;
};
Sources read(const fs::path& folder) {
  const StudyInventory inv = buildInventory(folder);
  Sources s;
  for (const auto& r : inv.runs)
    for (auto& e : doseFromRun(r.run))
      s.frames.push_back(e);
  for (const auto& d : inv.doseReports)
    for (const auto& f : inv.files)
      if (f.header().path == d.path) {
        s.reportDose = doseFromReport(d, f.header());
        s.report = s.reportDose.events;
      }
  return s;
}

std::string run(const std::string& cmd) {
  std::array<char, 4096> buf{};
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen((cmd + " 2>&1").c_str(), "r"), pclose);
  while (pipe && fgets(buf.data(), buf.size(), pipe.get()))
    out += buf.data();
  return out;
}

fs::path tempDir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("fluoroplan_dose_sample_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}
} // namespace

TEST(DoseSample, FramesAloneGivePkaAndTimeOfTheTruth) {
  const Truth t = truth();
  const Sources s = read(kCase / "runs");
  ASSERT_FALSE(s.frames.empty());
  DoseLedger l;
  for (const auto& e : s.frames)
    l.add(e);
  const DoseTotals got = l.totals();
  EXPECT_NEAR(got.pkaGyCm2, t.dapGyCm2, 0.001 * t.dapGyCm2);
  EXPECT_NEAR(got.fluoroTimeS, t.fluoroS, 0.001 * t.fluoroS);
  // Headers carry no Ka,r: the ledger says so instead of showing 0 as a dose.
  EXPECT_FALSE(got.complete());
  EXPECT_DOUBLE_EQ(got.kermaMGy, 0.0);
}

TEST(DoseSample, ReportEqualsTheTruthAndTheFrames) {
  const Truth t = truth();
  const Sources s = read(kCase / "runs");
  DoseLedger fromReport, fromFrames;
  for (const auto& e : s.report)
    fromReport.add(e);
  for (const auto& e : s.frames)
    fromFrames.add(e);
  const DoseTotals r = fromReport.totals(), f = fromFrames.totals();
  EXPECT_NEAR(r.kermaMGy, t.kermaMGy, 0.001 * t.kermaMGy);
  EXPECT_NEAR(r.pkaGyCm2, t.dapGyCm2, 0.001 * t.dapGyCm2);
  EXPECT_NEAR(r.fluoroTimeS, t.fluoroS, 0.001 * t.fluoroS);
  EXPECT_NEAR(r.pkaGyCm2, f.pkaGyCm2, 0.001 * f.pkaGyCm2);
  EXPECT_NEAR(r.fluoroTimeS, f.fluoroTimeS, 0.001 * f.fluoroTimeS);
  EXPECT_TRUE(r.complete());
  // The report's stated totals agree with its events.
  for (const TotalCheck& c : checkReportTotals(s.reportDose))
    EXPECT_TRUE(c.agrees()) << c.conceptMeaning << " " << c.stated << " vs "
                            << c.eventSum.value_or(-1);
}

TEST(DoseSample, FramesAndReportTogetherCountEachIrradiationOnce) {
  const Truth t = truth();
  const Sources s = read(kCase / "runs");
  // In both orders: frames first (matched later), report first.
  for (int order = 0; order < 2; ++order) {
    DoseLedger l;
    const auto& first = order == 0 ? s.frames : s.report;
    const auto& second = order == 0 ? s.report : s.frames;
    for (const auto& e : first)
      l.add(e);
    for (const auto& e : second)
      l.add(e);
    const DoseTotals got = l.totals();
    EXPECT_EQ(std::size_t(got.events), s.report.size()) << "order " << order;
    EXPECT_NEAR(got.kermaMGy, t.kermaMGy, 0.001 * t.kermaMGy) << "order " << order;
    EXPECT_NEAR(got.pkaGyCm2, t.dapGyCm2, 0.001 * t.dapGyCm2) << "order " << order;
    EXPECT_NEAR(got.fluoroTimeS, t.fluoroS, 0.001 * t.fluoroS) << "order " << order;
    EXPECT_TRUE(got.complete()) << got.incomplete.front();
  }
}

TEST(DoseSample, WrittenReportReadsBackWithIdenticalTotalsAndValidates) {
  const Sources s = read(kCase / "runs");
  DoseLedger l;
  for (const auto& e : s.frames)
    l.add(e);
  for (const auto& e : s.report)
    l.add(e);
  const fs::path dir = tempDir("rdsr");
  SeriesIdentity id;
  id.seed = "dose-sample-test";
  const fs::path out = dir / "procedure_rdsr.dcm";
  writeProcedureDoseReport(l, id, out);
  const StudyInventory inv = buildInventory(out);
  ASSERT_EQ(inv.doseReports.size(), 1u);
  const DoseReportDose back = doseFromReport(inv.doseReports[0], inv.files[0].header());
  DoseLedger again;
  for (const auto& e : back.events)
    again.add(e);
  const DoseTotals a = l.totals(), b = again.totals();
  EXPECT_NEAR(b.kermaMGy, a.kermaMGy, 1e-9 * a.kermaMGy);
  EXPECT_NEAR(b.pkaGyCm2, a.pkaGyCm2, 1e-9 * a.pkaGyCm2);
  EXPECT_NEAR(b.fluoroTimeS, a.fluoroTimeS, 1e-9);
  EXPECT_EQ(b.events, a.events);
  for (const TotalCheck& c : checkReportTotals(back))
    EXPECT_TRUE(c.agrees()) << c.conceptMeaning;
  // dicom3tools and DCMTK's SR dump accept it.
  ASSERT_EQ(std::system("command -v dciodvfy >/dev/null && command -v dsrdump >/dev/null"), 0)
      << "dciodvfy (dicom3tools) and dsrdump (dcmtk) must be installed";
  const std::string v = run("dciodvfy '" + out.string() + "'");
  ASSERT_NE(v.find("XRayRadiationDoseSR"), std::string::npos) << v;
  std::string errors;
  std::istringstream lines(v);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("Error", 0) == 0) errors += line + "\n";
  EXPECT_EQ(errors, "") << v;
  const std::string dump = run("dsrdump '" + out.string() + "'; echo rc=$?");
  EXPECT_NE(dump.find("rc=0"), std::string::npos) << dump;
  EXPECT_EQ(dump.find("E: "), std::string::npos) << dump;
}

TEST(DoseSample, AReportWithoutKermaIsNotWrittenWithZeros) {
  const Sources s = read(kCase / "runs");
  DoseLedger l;
  for (const auto& e : s.frames)
    l.add(e); // image headers only: no Ka,r
  const fs::path out = tempDir("nokerma") / "r.dcm";
  EXPECT_THROW(writeProcedureDoseReport(l, SeriesIdentity{}, out), DoseReportOutError);
  EXPECT_FALSE(fs::exists(out));
}

TEST(DoseSample, BadReportValuesAreSaidAndNotCounted) {
  const fs::path dir = tempDir("bad");
  const fs::path f = dir / "bad_rdsr.dcm";
  fs::copy_file(kCase / "runs" / "dose_report.dcm", f);
  // Make the first event's DAP negative, the second's Dose (RP) unit unknown
  // and the third's DAP empty, by editing the content tree in place.
  DcmFileFormat ff;
  ASSERT_TRUE(ff.loadFile(f.c_str()).good());
  int dapSeen = 0, rpSeen = 0;
  std::function<void(DcmItem&)> walk = [&](DcmItem& item) {
    DcmSequenceOfItems* content = nullptr;
    if (item.findAndGetSequence(DCM_ContentSequence, content).bad() || !content) return;
    for (unsigned long i = 0; i < content->card(); ++i) {
      DcmItem* child = content->getItem(i);
      DcmItem* name = nullptr;
      OFString code;
      if (child->findAndGetSequenceItem(DCM_ConceptNameCodeSequence, name).good())
        name->findAndGetOFString(DCM_CodeValue, code);
      DcmItem* mv = nullptr;
      if (code == "122130" && child->findAndGetSequenceItem(DCM_MeasuredValueSequence, mv).good()) {
        ++dapSeen;
        if (dapSeen == 1) mv->putAndInsertString(DCM_NumericValue, "-0.0001");
        if (dapSeen == 3) mv->putAndInsertString(DCM_NumericValue, "");
      }
      if (code == "113738" && child->findAndGetSequenceItem(DCM_MeasuredValueSequence, mv).good() &&
          ++rpSeen == 2) {
        DcmItem* unit = nullptr;
        if (mv->findAndGetSequenceItem(DCM_MeasurementUnitsCodeSequence, unit).good())
          unit->putAndInsertString(DCM_CodeValue, "furlong");
      }
      walk(*child);
    }
  };
  walk(*ff.getDataset());
  ASSERT_GE(dapSeen, 3);
  ASSERT_TRUE(ff.saveFile(f.c_str()).good());
  const Sources s = read(dir);
  ASSERT_GE(s.report.size(), 3u);
  EXPECT_FALSE(s.report[0].kermaAreaProductGyCm2);
  EXPECT_FALSE(s.report[1].referenceAirKermaMGy);
  EXPECT_FALSE(s.report[2].kermaAreaProductGyCm2);
  std::string said;
  for (int i = 0; i < 3; ++i)
    for (const auto& p : s.report[std::size_t(i)].problems)
      said += p.toString() + "\n";
  EXPECT_NE(said.find("negative"), std::string::npos) << said;
  EXPECT_NE(said.find("unknown unit 'furlong'"), std::string::npos) << said;
  EXPECT_NE(said.find("no usable value"), std::string::npos) << said;
  EXPECT_NE(said.find(f.string()), std::string::npos) << said;
  DoseLedger l;
  for (const auto& e : s.report)
    l.add(e);
  EXPECT_FALSE(l.totals().complete());
}

TEST(DoseSample, AnotherObjectIsNotReadAsADoseReport) {
  // A CT slice handed over as a dose report: a clear error naming the file.
  const StudyInventory inv = buildInventory(kCase / "ct_supine" / "CT00000.dcm");
  ASSERT_FALSE(inv.files.empty());
  EXPECT_THROW(readDoseReportSummary(inv.files[0]), DicomFileError);
}

TEST(DoseSample, AReportOfAnotherTemplateIsRefusedWithAReason) {
  const fs::path dir = tempDir("template");
  const fs::path f = dir / "ct_dose_report.dcm";
  fs::copy_file(kCase / "runs" / "dose_report.dcm", f);
  DcmFileFormat ff;
  ASSERT_TRUE(ff.loadFile(f.c_str()).good());
  DcmItem* tmpl = nullptr;
  ASSERT_TRUE(ff.getDataset()->findAndGetSequenceItem(DCM_ContentTemplateSequence, tmpl, 0).good());
  tmpl->putAndInsertString(DCM_TemplateIdentifier, "10011"); // CT Radiation Dose
  ASSERT_TRUE(ff.saveFile(f.c_str()).good());
  const Sources s = read(dir);
  EXPECT_TRUE(s.report.empty());
  std::string said;
  for (const auto& p : s.reportDose.problems)
    said += p.toString() + "\n";
  EXPECT_NE(said.find("CT radiation dose report (TID 10011)"), std::string::npos) << said;
  EXPECT_NE(said.find("ct_dose_report.dcm"), std::string::npos) << said;
}
