#include "dicom_samples/spine_phantom.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <numbers>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include <nlohmann/json.hpp>

#include "dicom_samples/spine_anatomy.h"
#include "imaging/core/parallel.h"

namespace fluoroplan::samples {

namespace {

constexpr double kDeg = std::numbers::pi / 180.0;

// Tissue HU. Cancellous lumbar bone of healthy adults is ~200-250 HU at L1
// (Schreiber JJ et al., J Bone Joint Surg Am 2011;93:1057-1063); cortex
// ~1000-1400 HU; discs ~80-100; CSF ~5-15; cord ~35; fat -100; muscle ~50.
struct Hu {
  static constexpr double air = -1000, lung = -850, fat = -100, epiduralFat = -80, csf = 10,
                          cord = 35, muscle = 50, organ = 38, blood = 45, kidney = 32, skin = 40,
                          disc = 90, cancellous = 230, cortical = 1250, jointSpace = 25, nerve = 35,
                          bowelGas = -950;
};

// A vertebra's local frame: u toward the patient's left, v posterior, w
// cranial along the spine's local axis.
struct Frame {
  Vec3 centre, ex{1, 0, 0}, ey{0, 1, 0}, ez{0, 0, 1};
  Vec3 toLocal(Vec3 p) const {
    const Vec3 d = p - centre;
    return {dot(d, ex), dot(d, ey), dot(d, ez)};
  }
  Vec3 toWorld(Vec3 q) const { return centre + q.x * ex + q.y * ey + q.z * ez; }
};

Frame frameAt(Vec3 centre, double tiltDeg) {
  Frame f;
  f.centre = centre;
  const double a = tiltDeg * kDeg;
  f.ez = {0, std::sin(a), std::cos(a)};
  f.ey = cross(f.ez, f.ex);
  return f;
}

struct Level {
  VertebraSize size;
  Frame frame;
  double tiltDeg = 0;
  // Derived local positions.
  double canalCentreV = 0, pedicleU = 0, pedicleW = 0, facetU = 0, facetV = 0, laminaTopW = 0,
         laminaBottomW = 0, tpV = 0;
};

// Signed depth inside simple shapes, in mm (positive inside).
double ellipseDepth(double du, double dv, double a, double b) {
  const double r = std::sqrt((du / a) * (du / a) + (dv / b) * (dv / b));
  return (1.0 - r) * std::min(a, b);
}
double slabDepth(double x, double lo, double hi) {
  return std::min(x - lo, hi - x);
}
// Painter: evaluates a shape over the voxels of its world bounding box and
// writes HU and label where the shape says so.
class Painter {
public:
  Painter(Volume& ct, Volume& labels, unsigned threads)
      : ct_(ct), labels_(labels), threads_(threads) {}

  // depthFn(world point) -> depth (mm, >0 inside); huFn(depth) -> HU.
  // `when` filters by the label already there (e.g. only soft tissue).
  void paint(const std::vector<Vec3>& boundsWorld, const std::function<double(Vec3)>& depthFn,
             const std::function<double(double)>& huFn, int16_t labelValue,
             const std::function<bool(int16_t)>& when = {}) {
    Vec3 lo{1e9, 1e9, 1e9}, hi{-1e9, -1e9, -1e9};
    for (const Vec3& p : boundsWorld) {
      const Vec3 idx = ct_.lpsToIndex(p);
      for (int a = 0; a < 3; ++a) {
        lo[a] = std::min(lo[a], idx[a]);
        hi[a] = std::max(hi[a], idx[a]);
      }
    }
    long i0 = std::max(0L, long(std::floor(lo.x)) - 1),
         i1 = std::min(long(ct_.size[0]) - 1, long(std::ceil(hi.x)) + 1);
    long j0 = std::max(0L, long(std::floor(lo.y)) - 1),
         j1 = std::min(long(ct_.size[1]) - 1, long(std::ceil(hi.y)) + 1);
    long k0 = std::max(0L, long(std::floor(lo.z)) - 1),
         k1 = std::min(long(ct_.size[2]) - 1, long(std::ceil(hi.z)) + 1);
    if (i0 > i1 || j0 > j1 || k0 > k1) return;
    parallelFor(std::size_t(k1 - k0 + 1), threads_, [&](std::size_t kk) {
      const long k = k0 + long(kk);
      for (long j = j0; j <= j1; ++j)
        for (long i = i0; i <= i1; ++i) {
          const Vec3 p = ct_.indexToLps({double(i), double(j), double(k)});
          const double d = depthFn(p);
          if (d <= 0) continue;
          const std::size_t o = ct_.offset(std::size_t(i), std::size_t(j), std::size_t(k));
          if (when && !when(labels_.hu[o])) continue;
          ct_.hu[o] = static_cast<int16_t>(std::lround(huFn(d)));
          labels_.hu[o] = labelValue;
        }
    });
  }

  // Box bounds of a local box in a frame.
  static std::vector<Vec3> localBox(const Frame& f, Vec3 lo, Vec3 hi) {
    std::vector<Vec3> c;
    for (int n = 0; n < 8; ++n)
      c.push_back(f.toWorld({n & 1 ? hi.x : lo.x, n & 2 ? hi.y : lo.y, n & 4 ? hi.z : lo.z}));
    return c;
  }

private:
  Volume& ct_;
  Volume& labels_;
  unsigned threads_;
};

auto boneHu(double cortexMm = 1.2) {
  return [cortexMm](double depth) { return depth < cortexMm ? Hu::cortical : Hu::cancellous; };
}
auto constantHu(double v) {
  return [v](double) { return v; };
}
bool isBone(int16_t l) {
  return (l >= 1 && l <= 28) || l == label::kRib || l == label::kIlium;
}

std::string sideName(int s) {
  return s > 0 ? "left" : "right";
}

// Spinous processes: caudal slope (mm down per mm back) and half height.
double spinousSlope(char region) {
  return region == 'T' ? 0.8 : (region == 'C' ? 0.3 : 0.1);
}
// Laminae slope down and back in the sagittal plane, so that each one's
// lower edge lies behind the next one's upper edge (roof tiles): the
// interlaminar window opens toward caudal-posterior, which is why the
// paramedian epidural needle comes in from below at 30-45 degrees to the
// skin. The slope is dz/dy of the lamina's top and bottom faces (tan of
// ~35 degrees lumbar, ~50 degrees thoracic, where shingling is steeper).
double laminaSlope(char region) {
  return region == 'T' ? 1.2 : (region == 'L' ? 0.7 : 0.0);
}
double spinousHalfHeight(char region) {
  return region == 'L' || region == 'S' ? 10.0 : (region == 'C' ? 4.0 : 6.0);
}

// A bar of bone from p0 to p1 (the vertebra's local axes, at one height),
// as wide and tall as the pedicle, painted only where there is no bone.
void paintCervicalBridge(Painter& painter, const Level& L, int16_t lab, Vec3 p0, Vec3 p1) {
  const Frame f = L.frame;
  const double r = L.size.pedicleWidth / 2, hz = L.size.pedicleHeight / 2;
  painter.paint(
      Painter::localBox(
          f, {std::min(p0.x, p1.x) - r - 1, std::min(p0.y, p1.y) - r - 1, L.pedicleW - hz - 1},
          {std::max(p0.x, p1.x) + r + 1, std::max(p0.y, p1.y) + r + 1, L.pedicleW + hz + 1}),
      [=](Vec3 p) {
        const Vec3 q = f.toLocal(p);
        return std::min(r - distanceToSegment(Vec3{q.x, q.y, L.pedicleW}, p0, p1),
                        slabDepth(q.z, L.pedicleW - hz, L.pedicleW + hz));
      },
      boneHu(1.0), lab, [](int16_t l) { return !isBone(l) || l >= 100; });
}

} // namespace

Phantom makeSpinePhantom(const PhantomOptions& o, const ProgressCallback& progress) {
  std::vector<VertebraSize> sizes =
      o.cervical ? cervicalLevels()
                 : thoracolumbarLevels(o.topLevel, o.thirteenRibs, o.lumbarSixth, o.sacralisedL5);
  for (auto& s : sizes)
    if (!o.narrowedDisc.empty() && s.name == o.narrowedDisc) s.discBelow *= 0.4;

  // --- Sagittal curve: tilt of each level's axis (positive: top tilts
  // posterior). Sacral slope ~40 degrees and lumbar lordosis ~50 degrees
  // (Legaye J et al., Eur Spine J 1998;7:99-103; Roussouly P et al., Spine
  // 2005;30:346-353); thoracic kyphosis ~35-40 degrees (Fon GT et al., AJR
  // 1980;134:979-983). Prone on a pillow flattens the lordosis (~70%).
  const double lordosisScale = o.prone ? 0.7 : 1.0;
  std::vector<Level> levels(sizes.size());
  const std::size_t n = sizes.size();
  for (std::size_t i = 0; i < n; ++i) {
    levels[i].size = sizes[i];
    const VertebraSize& s = sizes[i];
    double tilt = 0;
    if (o.cervical) {
      // Cervical lordosis ~ 30 degrees C2-C7; T1 tilts forward.
      tilt = -20.0 + 35.0 * double(n - 1 - i) / double(n - 1);
    } else if (s.region == 'S') {
      tilt = -40.0 * lordosisScale;
    } else if (s.region == 'L' || s.name == "T13") {
      // From S1 (-40) to L1 (+10): lordosis spread over the lumbar levels.
      std::size_t lumbarBelow = 0;
      for (std::size_t k = i; k < n; ++k)
        lumbarBelow += sizes[k].region != 'S';
      tilt =
          lordosisScale * (-40.0 + 50.0 * double(std::max<std::size_t>(lumbarBelow, 1) - 1) / 4.5) +
          10.0 * (1 - lordosisScale);
      tilt = std::min(tilt, 10.0);
    } else {
      // Thoracic: +10 at T12 decreasing 4.5 degrees per level upward.
      int t = std::atoi(s.name.c_str() + 1);
      tilt = 10.0 - 4.5 * double(12 - t);
    }
    levels[i].tiltDeg = tilt;
  }

  // --- Place bodies from the sacrum upward (S1 centre at the local origin).
  std::vector<Vec3> centres(n);
  centres[n - 1] = {0, 0, 0};
  for (std::size_t i = n - 1; i-- > 0;) {
    const double mid = 0.5 * (levels[i].tiltDeg + levels[i + 1].tiltDeg) * kDeg;
    const Vec3 dir{0, std::sin(mid), std::cos(mid)};
    const double step = sizes[i].bodyHeight / 2 + sizes[i].discBelow + sizes[i + 1].bodyHeight / 2;
    centres[i] = centres[i + 1] + step * dir;
  }

  // --- The volume: z range covers the spine with margins, the spine sits
  // posterior of the torso centre as in a real abdomen.
  const double zTop = centres.front().z + sizes.front().bodyHeight / 2 + 12;
  const double zBottom = centres.back().z - (o.cervical ? 30 : 75);
  Volume ct;
  ct.size = {o.columns, o.rows, std::size_t(std::ceil((zTop - zBottom) / o.sliceMm)) + 1};
  ct.spacingMm = {o.pixelMm, o.pixelMm, o.sliceMm};
  ct.originLps = {-(double(o.columns) - 1) / 2 * o.pixelMm, -(double(o.rows) - 1) / 2 * o.pixelMm,
                  zBottom};
  ct.hu.assign(ct.voxelCount(), static_cast<int16_t>(Hu::air));
  Volume labels = ct;
  std::fill(labels.hu.begin(), labels.hu.end(), int16_t{0});

  // Spine's y offset: body centres ~20 mm posterior of the torso centre
  // (lumbar); in the neck, the spine is nearer the middle.
  const double spineY = o.cervical ? 15.0 : 25.0;
  for (std::size_t i = 0; i < n; ++i) {
    const Vec3 c{0, centres[i].y + spineY, centres[i].z};
    levels[i].frame = frameAt(c, levels[i].tiltDeg);
    const VertebraSize& s = sizes[i];
    Level& L = levels[i];
    L.canalCentreV = s.bodyDepth / 2 + s.canalDepth / 2 + 1.0;
    L.pedicleU = s.canalWidth / 2 + s.pedicleWidth / 2;
    L.pedicleW = s.region == 'C' ? 0.0 : s.bodyHeight * 0.2;
    L.facetU = s.canalWidth / 2 + s.pedicleWidth * 0.55;
    L.facetV = L.canalCentreV + s.canalDepth * 0.25;
    L.laminaTopW = L.pedicleW + s.pedicleHeight * 0.5;
    // The sacrum's dorsal wall encloses the sacral canal down to ~S4.
    L.laminaBottomW =
        s.region == 'S' ? -s.bodyHeight / 2 - 35 : -s.bodyHeight / 2 - s.discBelow * 0.6;
    L.tpV = L.canalCentreV - s.canalDepth * 0.1;
  }

  // Adjacent laminae overlap like roof tiles but never touch: the
  // interlaminar window (closed by the ligamentum flavum) is 8 mm high where
  // the lower vertebra is lumbar (T12-L1 and below, where epidural needles
  // pass) and 4 mm in the thoracic spine, whose laminae shingle steeply.
  for (std::size_t i = 0; i + 1 < n; ++i) {
    Level& L = levels[i];
    const Level& below = levels[i + 1];
    const double belowTop =
        L.frame.toLocal(below.frame.toWorld({0, below.canalCentreV, below.laminaTopW})).z;
    const double window = below.size.region == 'L' ? 8.0 : 4.0;
    if (below.size.region != 'S') L.laminaBottomW = std::max(L.laminaBottomW, belowTop + window);
  }

  Painter painter(ct, labels, o.threads);
  reportProgress(progress, 0.02, "phantom: soft tissue");

  // --- Torso: skin, subcutaneous fat, muscle wall, abdominal/thoracic
  // contents, paraspinal muscles. Semi-axes (mm): abdomen ~165 x 120.
  // The back is flatter than the belly: torsoBack puts the skin ~50-60 mm
  // behind the dorsal epidural space at T12-L2, the depth at which epidural
  // series find loss of resistance in most adults (about 4-6 cm).
  const double torsoA = o.cervical ? 62 : 165, torsoB = o.cervical ? 58 : 122;
  const double torsoBack = o.cervical ? 58 : 100;
  const double torsoCy = o.cervical ? 0 : -5;
  // Semi-axis toward the front (y < centre) or the back.
  auto torsoSemiY = [&](double y, double front) { return y < torsoCy ? front : torsoBack; };
  std::mt19937_64 rng(o.seed);
  std::vector<std::pair<Vec3, double>> gasPockets;
  if (!o.cervical) {
    std::uniform_real_distribution<double> ux(-100, 100), uy(-90, -20),
        uz(zBottom + 20, centres[n - 1].z + 180), ur(6, 16);
    for (int g = 0; g < 14; ++g)
      gasPockets.push_back({{ux(rng), uy(rng), uz(rng)}, ur(rng)});
  }
  {
    std::vector<Vec3> bounds = {{-torsoA - 5, torsoCy - torsoB - 5, zBottom},
                                {torsoA + 5, torsoCy + torsoB + 5, zTop}};
    // Prone patients lie on their front: the abdomen flattens anteriorly.
    const double flattenFront = o.prone ? 0.85 : 1.0;
    painter.paint(
        bounds,
        [&](Vec3 p) {
          const double b = torsoSemiY(p.y, torsoB * flattenFront);
          return ellipseDepth(p.x, p.y - torsoCy, torsoA, b);
        },
        [&](double d) {
          if (d < 2.0) return Hu::skin;
          if (d < 18.0) return Hu::fat;
          if (d < 28.0) return Hu::muscle;
          return Hu::organ;
        },
        0);
    // Paraspinal muscles behind the spine (erector spinae, multifidus),
    // wrapped in a thin fat plane as on CT.
    // Fat plane first (3 mm larger, 2 mm deeper inset), then the muscle.
    for (const auto& [radius, inset, hu] :
         {std::tuple{33.0, 18.0, Hu::fat}, std::tuple{30.0, 20.0, Hu::muscle}}) {
      painter.paint(
          bounds,
          [&, radius = radius, inset = inset](Vec3 p) {
            const double d1 = ellipseDepth(p.x - 38, p.y - (spineY + 62), radius, radius);
            const double d2 = ellipseDepth(p.x + 38, p.y - (spineY + 62), radius, radius);
            const double inside = ellipseDepth(p.x, p.y - torsoCy, torsoA - inset,
                                               torsoSemiY(p.y, torsoB) - inset + 2);
            return std::min(std::max(d1, d2), inside);
          },
          constantHu(hu), 0);
    }
    // The CT table: behind a supine patient, in front of a prone one.
    {
      const double y0 = o.prone ? torsoCy - torsoB * 0.85 - 14 : torsoCy + torsoBack + 3;
      painter.paint(
          {{-190, y0, zBottom}, {190, y0 + 11, zTop}},
          [&, y0](Vec3 p) {
            return std::min(slabDepth(p.y, y0, y0 + 11), slabDepth(p.x, -190, 190));
          },
          [](double d) { return d < 1.5 ? 350.0 : -700.0; }, 0, [](int16_t l) { return l == 0; });
    }
    for (const auto& [c, r] : gasPockets)
      painter.paint(
          {c - Vec3{r, r, r}, c + Vec3{r, r, r}},
          [&, c = c, r = r](Vec3 p) { return r - norm(p - c); }, constantHu(Hu::bowelGas), 0);
  }
  reportProgress(progress, 0.15, "phantom: organs");

  auto findLevel = [&](const std::string& name) -> const Level* {
    for (const auto& L : levels)
      if (L.size.name == name) return &L;
    return nullptr;
  };

  if (!o.cervical) {
    // Lungs: bases dome down to ~T10-T11 centrally, deeper in the posterior
    // costophrenic recesses (~T12).
    const Level* t10 = findLevel("T10");
    const Level* t12 = findLevel("T12");
    if (t10 && t12) {
      const double domeZ = t10->frame.centre.z;
      for (int side : {-1, 1}) {
        const double cx = side * 85.0;
        painter.paint(
            {{cx - 80, -110, t12->frame.centre.z - 30}, {cx + 80, 120, zTop}},
            [&, cx](Vec3 p) {
              const double dx = (p.x - cx) / 70.0, dy = (p.y - 5) / 100.0;
              const double r2 = dx * dx + dy * dy;
              if (r2 >= 1) return -1.0;
              // The base is a dome: lowest posteriorly and laterally.
              const double base = domeZ - 40.0 * (std::max(0.0, p.y) / 100.0) - 15.0 * r2;
              return std::min((1 - std::sqrt(r2)) * 70.0, p.z - base);
            },
            constantHu(Hu::lung), label::kLung, [](int16_t l) { return l == 0; });
      }
    }
    // Kidneys: ~11 x 6 x 4 cm, upper pole at T12, lower at L3, lateral to
    // psoas and anterior to quadratus lumborum.
    const Level* l1 = findLevel("L1");
    const Level* l2 = findLevel("L2");
    if (l1 && l2) {
      for (int side : {-1, 1}) {
        const Vec3 c{side * 72.0, spineY + 22.0,
                     0.5 * (l1->frame.centre.z + l2->frame.centre.z) + (side < 0 ? -12 : 0)};
        painter.paint(
            {c - Vec3{35, 35, 60}, c + Vec3{35, 35, 60}},
            [c](Vec3 p) {
              const Vec3 d = p - c;
              const double r = std::sqrt((d.x / 30) * (d.x / 30) + (d.y / 24) * (d.y / 24) +
                                         (d.z / 55) * (d.z / 55));
              return (1 - r) * 24.0;
            },
            constantHu(Hu::kidney), label::kKidney);
      }
    }
    // Aorta (left-anterior of the bodies) and inferior vena cava (right).
    for (const auto& L : levels) {
      if (L.size.region == 'S') continue;
      const double front = L.frame.centre.y - L.size.bodyDepth / 2;
      const double z0 = L.frame.centre.z - L.size.bodyHeight / 2 - L.size.discBelow - 1,
                   z1 = L.frame.centre.z + L.size.bodyHeight / 2 + 1;
      painter.paint(
          {{0, front - 40, z0}, {40, front, z1}},
          [=](Vec3 p) { return ellipseDepth(p.x - 16, p.y - (front - 13), 11, 11); },
          constantHu(Hu::blood), label::kAorta);
      painter.paint(
          {{-45, front - 45, z0}, {0, front, z1}},
          [=](Vec3 p) { return ellipseDepth(p.x + 22, p.y - (front - 14), 12, 10); },
          constantHu(Hu::blood), label::kVenaCava);
    }
  }
  if (!o.cervical) {
    // Psoas muscles beside the lumbar bodies, growing caudally, each in a
    // fat plane.
    int lumbarIndex = 0;
    for (const auto& L : levels) {
      if (L.size.region != 'L') continue;
      const double r = 11.0 + 3.5 * lumbarIndex++;
      const Frame f = L.frame;
      const double z0 = -L.size.bodyHeight / 2 - L.size.discBelow - 0.5,
                   z1 = L.size.bodyHeight / 2 + 0.5;
      for (int side : {-1, 1}) {
        const double cu = side * (L.size.bodyWidth / 2 + r - 2), cv = -2.0;
        for (int pass = 0; pass < 2; ++pass) {
          const double rr = pass == 0 ? r + 2.5 : r;
          painter.paint(
              Painter::localBox(f, {cu - rr, cv - rr, z0}, {cu + rr, cv + rr, z1}),
              [=](Vec3 p) {
                const Vec3 q = f.toLocal(p);
                return std::min(ellipseDepth(q.x - cu, q.y - cv, rr, rr * 0.9),
                                slabDepth(q.z, z0, z1));
              },
              constantHu(pass == 0 ? Hu::fat : Hu::muscle), 0, [](int16_t l) { return l == 0; });
        }
      }
    }
  }
  reportProgress(progress, 0.3, "phantom: discs and vertebrae");

  // --- Discs.
  for (std::size_t i = 0; i + 1 < n; ++i) {
    const Level& up = levels[i];
    const Level& dn = levels[i + 1];
    if (up.size.discBelow <= 0) continue;
    const Vec3 top = up.frame.toWorld({0, 0, -up.size.bodyHeight / 2});
    const Vec3 bottom = dn.frame.toWorld({0, 0, dn.size.bodyHeight / 2});
    Frame f = frameAt(0.5 * (top + bottom), 0.5 * (up.tiltDeg + dn.tiltDeg));
    const double half = norm(top - bottom) / 2 + 0.6;
    const double a = 0.5 * (up.size.bodyWidth + dn.size.bodyWidth) / 2 * 0.98;
    const double b = 0.5 * (up.size.bodyDepth + dn.size.bodyDepth) / 2 * 0.98;
    painter.paint(
        Painter::localBox(f, {-a, -b, -half}, {a, b, half}),
        [=](Vec3 p) {
          const Vec3 q = f.toLocal(p);
          return std::min(ellipseDepth(q.x, q.y, a, b), slabDepth(q.z, -half, half));
        },
        constantHu(Hu::disc), static_cast<int16_t>(label::kDiscBase + up.size.label));
  }

  // --- Vertebrae.
  for (std::size_t i = 0; i < n; ++i) {
    const Level& L = levels[i];
    const VertebraSize& s = L.size;
    const Frame f = L.frame;
    const int16_t lab = static_cast<int16_t>(s.label);
    const double a = s.bodyWidth / 2, b = s.bodyDepth / 2, h = s.bodyHeight / 2;
    const bool sacrum = s.region == 'S';
    // Body (sacrum: S1 body continuing into the tapering sacral mass).
    const double bodyBottom = sacrum ? -h - 40 : -h;
    const double osteo = o.osteophytes && !sacrum ? 3.0 : 0.0;
    painter.paint(
        Painter::localBox(f, {-a - osteo, -b - osteo - (sacrum ? 0 : 0), bodyBottom},
                          {a + osteo, b + (sacrum ? 35 : 0), h}),
        [=](Vec3 p) {
          const Vec3 q = f.toLocal(p);
          if (sacrum) {
            // The sacral mass narrows and bends backward going down.
            const double t = std::clamp(-(q.z - h) / (2 * h + 40), 0.0, 1.0);
            const double aa = a * (1 - 0.55 * t), bb = b * (1 - 0.35 * t);
            const double vc = 18.0 * t * t;
            return std::min(ellipseDepth(q.x, q.y - vc, aa, bb), slabDepth(q.z, bodyBottom, h));
          }
          double rim = 0;
          if (osteo > 0 && std::abs(q.z) > h - 3) rim = osteo * (std::abs(q.z) - (h - 3)) / 3;
          return std::min(ellipseDepth(q.x, q.y, a + rim, b + rim * 0.5), slabDepth(q.z, -h, h));
        },
        boneHu(1.2), lab);
    // Pedicles.
    for (int side : {-1, 1}) {
      const double pu = side * L.pedicleU;
      painter.paint(
          Painter::localBox(f, {pu - s.pedicleWidth, b * 0.3, L.pedicleW - s.pedicleHeight},
                            {pu + s.pedicleWidth, L.facetV + 4, L.pedicleW + s.pedicleHeight}),
          [=](Vec3 p) {
            const Vec3 q = f.toLocal(p);
            return std::min(
                ellipseDepth(q.x - pu, q.z - L.pedicleW, s.pedicleWidth / 2, s.pedicleHeight / 2),
                slabDepth(q.y, b * 0.5, L.facetV + 2));
          },
          boneHu(1.0), lab);
    }
    // A cervical canal is wider than the body (Panjabi 1991), so the
    // straight pedicles above would leave the body floating: the pedicle
    // runs from the body's posterolateral corner back and out to the pillar.
    if (s.region == 'C')
      for (int side : {-1, 1})
        paintCervicalBridge(painter, L, lab, {side * 0.7 * a, b * 0.55, L.pedicleW},
                            {side * L.pedicleU, b * 0.5 + s.pedicleWidth / 2, L.pedicleW});
    // Lamina: the posterior arch around the canal, its faces sloping down
    // and back from the canal's dorsal edge (laminaSlope).
    const double archA = s.canalWidth / 2 + s.pedicleWidth, archB = s.canalDepth / 2 + 6.0;
    const double tilt = laminaSlope(s.region), dorsalEdge = L.canalCentreV + s.canalDepth / 2;
    const double drop = tilt * (archB - s.canalDepth / 2), rise = tilt * (s.canalDepth / 2 + 1);
    painter.paint(
        Painter::localBox(f, {-archA, L.canalCentreV - 1, L.laminaBottomW - drop - 1},
                          {archA, L.canalCentreV + archB, L.laminaTopW + rise + 1}),
        [=](Vec3 p) {
          const Vec3 q = f.toLocal(p);
          if (q.y < L.canalCentreV) return -1.0;
          const double outer = ellipseDepth(q.x, q.y - L.canalCentreV, archA, archB);
          const double inner =
              -ellipseDepth(q.x, q.y - L.canalCentreV, s.canalWidth / 2, s.canalDepth / 2);
          // The slope is the lamina's, between the articular pillars, which
          // stay upright columns: full beside the midline, none at the facets.
          const double medial = std::clamp((L.facetU - std::abs(q.x)) / (0.5 * L.facetU), 0.0, 1.0);
          const double shift = tilt * medial * (q.y - dorsalEdge);
          return std::min({outer, inner, slabDepth(q.z + shift, L.laminaBottomW, L.laminaTopW)});
        },
        boneHu(1.0), lab);
    // Spinous process: a plate ~6 mm thick, as tall as spH*2, running
    // posteriorly from the lamina; thoracic ones slope steeply caudal.
    {
      const double v0 = L.canalCentreV + archB - 3;
      const double len = s.spinousLength;
      const double slope = spinousSlope(s.region);
      const double spH = spinousHalfHeight(s.region);
      const double top0 = L.laminaTopW - 2;
      painter.paint(
          Painter::localBox(f, {-4, v0 - 1, top0 - slope * len - 2 * spH - 1},
                            {4, v0 + len + 1, top0 + 1}),
          [=](Vec3 p) {
            const Vec3 q = f.toLocal(p);
            const double upper = top0 - slope * (q.y - v0);
            return std::min({3.0 - std::abs(q.x), slabDepth(q.y, v0, v0 + len),
                             slabDepth(q.z, upper - 2 * spH, upper)});
          },
          boneHu(1.0), lab);
    }
    // Transverse processes: lumbar ones lateral, thoracic ones angled back.
    for (int side : {-1, 1}) {
      const double back = s.region == 'T' ? 0.55 : (s.region == 'C' ? -0.2 : 0.15);
      const Vec3 r0{side * (L.pedicleU + s.pedicleWidth * 0.3), L.tpV, L.pedicleW};
      const double reach = s.transverseReach;
      const Vec3 r1{side * reach, L.tpV + back * (reach - std::abs(r0.x)),
                    L.pedicleW - (s.region == 'L' ? 2.0 : 1.0)};
      const double rz = s.region == 'L' ? 6.0 : 5.0, ry = s.region == 'L' ? 3.2 : 5.0;
      painter.paint(
          Painter::localBox(f,
                            {std::min(r0.x, r1.x) - 8, std::min(r0.y, r1.y) - 8, L.pedicleW - 10},
                            {std::max(r0.x, r1.x) + 8, std::max(r0.y, r1.y) + 8, L.pedicleW + 10}),
          [=](Vec3 p) {
            const Vec3 q = f.toLocal(p);
            const Vec3 qs{q.x, q.y * (rz / ry), q.z};
            const Vec3 s0{r0.x, r0.y * (rz / ry), r0.z}, s1{r1.x, r1.y * (rz / ry), r1.z};
            return rz - distanceToSegment(qs, s0, s1);
          },
          boneHu(1.0), lab);
    }
    if (sacrum) {
      // Sacral alae and the ilia they meet at the sacroiliac joints.
      for (int side : {-1, 1}) {
        painter.paint(
            Painter::localBox(f, {side > 0 ? 0.0 : -60.0, -b, -h - 35},
                              {side > 0 ? 60.0 : 0.0, b + 25, h}),
            [=](Vec3 p) {
              const Vec3 q = f.toLocal(p);
              const double u = side * q.x;
              if (u < a * 0.6) return -1.0;
              return std::min({slabDepth(u, a * 0.6, 48), slabDepth(q.y, -b * 0.8, b + 18),
                               slabDepth(q.z, -h - 30 + (u - a) * 0.3, h - 2 - (u - a) * 0.25)});
            },
            boneHu(1.5), lab);
        // Ilium: a plate lateral to the ala, rising to the iliac crest at
        // about the L4-L5 level, separated by a 2 mm sacroiliac joint.
        painter.paint(
            Painter::localBox(f, {side > 0 ? 50.0 : -140.0, -60, -h - 70},
                              {side > 0 ? 140.0 : -50.0, b + 45, h + 50}),
            [=](Vec3 p) {
              const Vec3 q = f.toLocal(p);
              const double u = side * q.x;
              const double inPlane = ellipseDepth(u - 95, q.z + 5, 45, 60);
              const double thickness = slabDepth(q.y - (b + 20 - 0.35 * (u - 50)), -5, 5);
              return std::min({inPlane, thickness, u - 50.0});
            },
            boneHu(2.0), label::kIlium, [](int16_t l) { return !isBone(l); });
      }
    }
    reportProgress(progress, 0.3 + 0.4 * double(i + 1) / double(n), "phantom: vertebrae");
  }

  // --- Facet joints: SAP of the lower vertebra (lateral-anterior) against
  // the IAP of the upper one (medial-posterior), with a 1.5 mm joint space.
  const double jointGap = 1.5;
  for (std::size_t i = 0; i + 1 < n; ++i) {
    const Level& up = levels[i];
    const Level& dn = levels[i + 1];
    const double beta = dn.size.facetAngleDeg * kDeg;
    for (int side : {-1, 1}) {
      // Joint centre between the lower's SAP and the upper's IAP.
      const Vec3 sapBase = dn.frame.toWorld({side * dn.facetU, dn.facetV, dn.pedicleW});
      const Vec3 iapBase =
          up.frame.toWorld({side * up.facetU * 0.95, up.facetV + 1, up.laminaBottomW + 2});
      const Vec3 jc = 0.5 * (sapBase + iapBase) + Vec3{0, 0, 2};
      const Frame jf = frameAt(jc, 0.5 * (up.tiltDeg + dn.tiltDeg));
      // Normal of the joint plane, pointing from the SAP to the IAP:
      // medial for a sagittal joint (beta 0), posterior for a coronal one.
      const Vec3 nrm{-side * std::cos(beta), std::sin(beta), 0};
      const double radius = dn.size.region == 'C' ? 7.0 : 8.5;
      const double halfHeight = 0.5 * std::abs(dot(iapBase - sapBase, jf.ez)) + 6;
      const double osteo = o.osteophytes ? 2.0 : 0.0;
      const double sapTop =
          jf.toLocal(up.frame.toWorld({side * up.facetU, up.facetV, up.laminaBottomW})).z;
      const double iapBottom =
          jf.toLocal(dn.frame.toWorld({side * dn.facetU, dn.facetV, dn.laminaTopW})).z;
      auto inFacet = [=](Vec3 p, double& s) {
        const Vec3 q = jf.toLocal(p);
        s = q.x * nrm.x + q.y * nrm.y;
        return std::min(ellipseDepth(q.x, q.y, radius + osteo, radius * 0.8 + osteo),
                        slabDepth(q.z, -halfHeight, halfHeight));
      };
      const auto box = Painter::localBox(jf, {-radius - 3, -radius - 3, -halfHeight - 2},
                                         {radius + 3, radius + 3, halfHeight + 2});
      painter.paint(
          box,
          [=](Vec3 p) {
            double s;
            const double d = inFacet(p, s);
            // The SAP's tip stops short of the upper vertebra's lamina.
            return std::min({d, -s - jointGap / 2, sapTop - 1.5 * jointGap - jf.toLocal(p).z});
          },
          boneHu(1.0), static_cast<int16_t>(dn.size.label));
      painter.paint(
          box,
          [=](Vec3 p) {
            double s;
            const double d = inFacet(p, s);
            // The IAP hangs beside the SAP but not down onto the lower lamina.
            return std::min({d, s - jointGap / 2, jf.toLocal(p).z - iapBottom - 1.5 * jointGap});
          },
          boneHu(1.0), static_cast<int16_t>(up.size.label));
      painter.paint(
          box,
          [=](Vec3 p) {
            double s;
            const double d = inFacet(p, s);
            const double z = jf.toLocal(p).z;
            // The joint space: between SAP and IAP, and above the SAP's tip.
            const double between = jointGap / 2 - std::abs(s);
            const double aboveTip =
                std::min(-s - jointGap / 2 + jointGap, jointGap / 2 - std::abs(z - sapTop));
            return std::min(d, std::max(between, aboveTip));
          },
          constantHu(Hu::jointSpace), 0);
      // Pillars joining each process to its vertebra.
      painter.paint(
          Painter::localBox(dn.frame, {side * dn.facetU - 6, dn.facetV - 6, dn.pedicleW - 2},
                            {side * dn.facetU + 6, dn.facetV + 6, dn.frame.toLocal(jc).z}),
          [=, f = dn.frame](Vec3 p) {
            const Vec3 q = f.toLocal(p);
            return std::min(ellipseDepth(q.x - side * dn.facetU, q.y - dn.facetV, 5, 5),
                            slabDepth(q.z, dn.pedicleW - 2, f.toLocal(jc).z - 4));
          },
          boneHu(1.0), static_cast<int16_t>(dn.size.label),
          [](int16_t l) { return !isBone(l) || l >= 100; });
    }
  }

  // The pillar meets the lamina behind the canal's lateral corner, painted
  // after the joints: a joint cleft placed for the level below (C7 over a
  // thoracic T1) must not cut one vertebra in two.
  for (const Level& L : levels) {
    if (L.size.region != 'C') continue;
    const VertebraSize& s = L.size;
    for (int side : {-1, 1})
      paintCervicalBridge(
          painter, L, static_cast<int16_t>(s.label), {side * L.facetU, L.facetV, L.pedicleW},
          {side * (s.canalWidth / 2 + 1.0), L.canalCentreV + s.canalDepth / 2 + 1.5, L.pedicleW});
  }

  // --- Ribs (thoracic levels, T13 too): from the body and TP, around the
  // chest wall, descending as they run forward.
  for (const Level& L : levels) {
    if (!L.size.ribs) continue;
    const int t = L.size.name == "T13" ? 13 : std::atoi(L.size.name.c_str() + 1);
    const bool floating = t >= 11;
    const double sweep = floating ? (t >= 12 ? 70.0 : 110.0) : 200.0; // degrees around the torso
    for (int side : {-1, 1}) {
      std::vector<Vec3> pts;
      const Vec3 head = L.frame.toWorld(
          {side * (L.size.bodyWidth / 2 + 1), L.size.bodyDepth * 0.3, L.size.bodyHeight * 0.45});
      const Vec3 tubercle =
          L.frame.toWorld({side * (L.size.transverseReach - 3), L.tpV + 10, L.pedicleW});
      for (double s = 0; s <= 1.0; s += 0.05)
        pts.push_back(head + s * (tubercle - head));
      // Arc: angle from the posterior midline, around the inside of the torso.
      const double a0 = std::atan2(tubercle.x, tubercle.y - torsoCy);
      for (double d = 0; d <= sweep; d += 3) {
        const double ang = a0 + side * d * kDeg;
        const double b = std::cos(ang) > 0 ? torsoBack : torsoB;
        const double r = 1.0 - 22.0 / b;
        const Vec3 p{torsoA * r * std::sin(ang), torsoCy + b * r * std::cos(ang),
                     tubercle.z - 0.28 * d};
        pts.push_back(0.7 * pts.back() + 0.3 * p);
      }
      for (std::size_t k = 1; k < pts.size(); ++k) {
        const Vec3 p0 = pts[k - 1], p1 = pts[k];
        const double rr = 5.0;
        painter.paint(
            {p0 - Vec3{rr + 1, rr + 1, rr + 1}, p1 + Vec3{rr + 1, rr + 1, rr + 1},
             p0 + Vec3{rr + 1, rr + 1, rr + 1}, p1 - Vec3{rr + 1, rr + 1, rr + 1}},
            [=](Vec3 p) { return rr - distanceToSegment(p, p0, p1); }, boneHu(1.5), label::kRib,
            [](int16_t l) { return !isBone(l); });
      }
    }
  }
  // --- Vertebral arteries (neck): through the foramina transversaria of
  // C6 to C1, carved out of the transverse processes.
  if (o.cervical) {
    for (int side : {-1, 1}) {
      std::vector<Vec3> path;
      for (auto it = levels.rbegin(); it != levels.rend(); ++it) {
        const Level& L = *it;
        if (L.size.region != 'C' || L.size.name == "C7") continue;
        path.push_back(L.frame.toWorld({side * (L.size.canalWidth / 2 + L.size.pedicleWidth + 3.0),
                                        L.size.bodyDepth / 2 - 1, L.pedicleW}));
      }
      if (path.empty()) continue;
      // Below C6 it runs in front of C7's transverse process; above C2 to C1.
      path.insert(path.begin(), path.front() + Vec3{0, -6, -30});
      path.push_back(path.back() + Vec3{side * 4.0, 4, 18});
      for (std::size_t k = 1; k < path.size(); ++k) {
        const Vec3 p0 = path[k - 1], p1 = path[k];
        const double rr = 2.3;
        painter.paint(
            {p0 - Vec3{4, 4, 4}, p1 + Vec3{4, 4, 4}, p0 + Vec3{4, 4, 4}, p1 - Vec3{4, 4, 4}},
            [=](Vec3 p) { return rr - distanceToSegment(p, p0, p1); }, constantHu(Hu::blood),
            label::kVertebralArtery);
      }
    }
  }
  // Adjacent vertebrae never fuse: they meet at discs, joints and ligaments.
  // Where the analytic parts of two vertebrae touch (spinous processes in
  // lordosis, say) the lower one's voxels within ~1.5 mm become soft tissue.
  {
    const std::size_t nx = ct.size[0], ny = ct.size[1], nz = ct.size[2];
    const int r = std::max(1, int(std::lround(1.5 / o.pixelMm)));
    std::vector<std::size_t> clear;
    for (std::size_t k = 1; k + 1 < nz; ++k)
      for (std::size_t j = std::size_t(r); j + std::size_t(r) < ny; ++j)
        for (std::size_t i = std::size_t(r); i + std::size_t(r) < nx; ++i) {
          const std::size_t idx = ct.offset(i, j, k);
          const int16_t mine = labels.hu[idx];
          if (mine < 1 || mine > 28) continue;
          bool touches = false;
          for (int dz = -1; dz <= 1 && !touches; ++dz)
            for (int dy = -r; dy <= r && !touches; ++dy)
              for (int dx = -r; dx <= r && !touches; ++dx) {
                const int16_t l = labels.hu[ct.offset(i + dx, j + dy, k + dz)];
                // Only the caudal vertebra (higher VerSe number, except the
                // T13 label 28 which sits above L1) gives way.
                const auto order = [](int16_t v) { return v == 28 ? 19.5 : double(v); };
                touches = l >= 1 && l <= 28 && l != mine && order(l) < order(mine);
              }
          if (touches) clear.push_back(idx);
        }
    for (std::size_t idx : clear) {
      ct.hu[idx] = static_cast<int16_t>(Hu::jointSpace);
      labels.hu[idx] = 0;
    }
  }
  // Ribs meet vertebrae at synovial joints: clear rib voxels within ~1.5 mm
  // of vertebral bone so the two never fuse.
  {
    const std::size_t nx = ct.size[0], ny = ct.size[1], nz = ct.size[2];
    const int r = std::max(1, int(std::lround(1.5 / o.pixelMm)));
    std::vector<std::size_t> clear;
    for (std::size_t k = 1; k + 1 < nz; ++k)
      for (std::size_t j = std::size_t(r); j + std::size_t(r) < ny; ++j)
        for (std::size_t i = std::size_t(r); i + std::size_t(r) < nx; ++i) {
          const std::size_t idx = ct.offset(i, j, k);
          if (labels.hu[idx] != label::kRib) continue;
          bool near = false;
          for (int dz = -1; dz <= 1 && !near; ++dz)
            for (int dy = -r; dy <= r && !near; ++dy)
              for (int dx = -r; dx <= r && !near; ++dx) {
                const int16_t l = labels.hu[ct.offset(i + dx, j + dy, k + dz)];
                near = l >= 1 && l <= 28;
              }
          if (near) clear.push_back(idx);
        }
    for (std::size_t idx : clear) {
      ct.hu[idx] = static_cast<int16_t>(Hu::jointSpace);
      labels.hu[idx] = 0;
    }
  }
  reportProgress(progress, 0.75, "phantom: canal and nerves");

  // --- Spinal canal: dura with CSF and cord (conus at L1-L2), epidural fat.
  PhantomTruth truth;
  {
    const double conusZ = [&] {
      const Level* l1 = findLevel("L1");
      return l1 ? l1->frame.centre.z - l1->size.bodyHeight / 2 : -1e9;
    }();
    for (std::size_t i = 0; i < n; ++i) {
      const Level& L = levels[i];
      const VertebraSize& s = L.size;
      const Frame f = L.frame;
      const double zt = s.bodyHeight / 2 + (i > 0 ? levels[i - 1].size.discBelow / 2 + 0.5 : 12);
      const double zb = -s.bodyHeight / 2 - s.discBelow / 2 - 0.5 - (s.region == 'S' ? 40 : 0);
      const double ca = s.canalWidth / 2, cb = s.canalDepth / 2;
      painter.paint(
          Painter::localBox(f, {-ca, L.canalCentreV - cb, zb}, {ca, L.canalCentreV + cb, zt}),
          [=](Vec3 p) {
            const Vec3 q = f.toLocal(p);
            const double shrink =
                s.region == 'S' ? std::clamp(1.0 + (q.z + s.bodyHeight / 2) / 80.0, 0.4, 1.0) : 1.0;
            return std::min(ellipseDepth(q.x, q.y - L.canalCentreV, ca * shrink, cb * shrink),
                            slabDepth(q.z, zb, zt));
          },
          [=](double d) { return d < 2.0 ? Hu::epiduralFat : Hu::csf; }, label::kSpinalCanal,
          [](int16_t l) { return !isBone(l) || l >= 100; });
      // Cord above the conus.
      painter.paint(
          Painter::localBox(f, {-6, L.canalCentreV - 6, zb}, {6, L.canalCentreV + 6, zt}),
          [=](Vec3 p) {
            const Vec3 q = f.toLocal(p);
            if (p.z < conusZ) return -1.0;
            return std::min(ellipseDepth(q.x, q.y - L.canalCentreV + 0.5, 5.0, 4.0),
                            slabDepth(q.z, zb, zt));
          },
          constantHu(Hu::cord), label::kSpinalCanal,
          [](int16_t l) { return l == label::kSpinalCanal; });
      for (double w = zt; w >= zb; w -= 4.0) {
        truth.canalCentrelineLps.push_back(f.toWorld({0, L.canalCentreV, w}));
        truth.canalRadiusMm.push_back(std::min(ca, cb));
      }
    }
  }

  // --- Neural foramina and exiting roots between adjacent pedicles.
  for (std::size_t i = 0; i + 1 < n; ++i) {
    const Level& up = levels[i];
    const Level& dn = levels[i + 1];
    for (int side : {-1, 1}) {
      const Vec3 top = up.frame.toWorld(
          {side * up.pedicleU, up.size.bodyDepth / 2 + 3, up.pedicleW - up.size.pedicleHeight / 2});
      const Vec3 bottom = dn.frame.toWorld(
          {side * dn.pedicleU, dn.size.bodyDepth / 2 + 3, dn.pedicleW + dn.size.pedicleHeight / 2});
      const Vec3 c = 0.5 * (top + bottom);
      const double halfH = std::max(2.0, norm(top - bottom) / 2);
      const double rw = up.size.pedicleWidth / 2 + 3, rd = 5.0;
      const Frame ff = frameAt(c, 0.5 * (up.tiltDeg + dn.tiltDeg));
      painter.paint(
          Painter::localBox(ff, {-rw, -rd, -halfH}, {rw, rd, halfH}),
          [=](Vec3 p) {
            const Vec3 q = ff.toLocal(p);
            return std::min(ellipseDepth(q.x, q.y, rw, rd), slabDepth(q.z, -halfH, halfH));
          },
          constantHu(Hu::fat), label::kNeuralForamen, [](int16_t l) { return l == 0; });
      // The root leaves just under the upper pedicle, heading lateral,
      // caudal and anterior.
      const Vec3 r0 = up.frame.toWorld({side * (up.size.canalWidth / 2 - 2), up.canalCentreV - 3,
                                        up.pedicleW - up.size.pedicleHeight / 2 - 2.5});
      const Vec3 r1 =
          r0 + up.frame.toWorld({side * 30.0, -10.0, -14.0}) - up.frame.toWorld({0, 0, 0});
      const double rr = up.size.region == 'L' ? 2.8 : 2.0;
      painter.paint(
          {r0 - Vec3{5, 5, 5}, r1 + Vec3{5, 5, 5}, r0 + Vec3{5, 5, 5}, r1 - Vec3{5, 5, 5}},
          [=](Vec3 p) { return rr - distanceToSegment(p, r0, r1); }, constantHu(Hu::nerve),
          label::kExitingRoot, [](int16_t l) { return !isBone(l); });
    }
  }
  reportProgress(progress, 0.82, "phantom: landmarks");

  // --- Landmarks and nerve courses, from the same parameters as the bone.
  for (std::size_t i = 0; i < n; ++i) {
    const Level& L = levels[i];
    const VertebraSize& s = L.size;
    const Frame& f = L.frame;
    LevelLandmarks m;
    m.level = s.region == 'S' ? "sacrum" : s.name;
    m.label = s.label;
    m.bodyCentroidLps = f.centre;
    m.superiorEndplateCentreLps = f.toWorld({0, 0, s.bodyHeight / 2});
    m.inferiorEndplateCentreLps = f.toWorld({0, 0, -s.bodyHeight / 2});
    m.endplateNormalLps = f.ez;
    m.pedicleLeftLps = f.toWorld({L.pedicleU, s.bodyDepth / 2 + 3, L.pedicleW});
    m.pedicleRightLps = f.toWorld({-L.pedicleU, s.bodyDepth / 2 + 3, L.pedicleW});
    m.superiorArticularLeftLps =
        f.toWorld({L.facetU, L.facetV, L.pedicleW + s.pedicleHeight / 2 + 3});
    m.superiorArticularRightLps =
        f.toWorld({-L.facetU, L.facetV, L.pedicleW + s.pedicleHeight / 2 + 3});
    m.inferiorArticularLeftLps = f.toWorld({L.facetU * 0.95, L.facetV + 1, L.laminaBottomW + 3});
    m.inferiorArticularRightLps = f.toWorld({-L.facetU * 0.95, L.facetV + 1, L.laminaBottomW + 3});
    m.transverseRootLeftLps = f.toWorld({L.pedicleU + s.pedicleWidth / 2 + 2, L.tpV, L.pedicleW});
    m.transverseRootRightLps =
        f.toWorld({-(L.pedicleU + s.pedicleWidth / 2 + 2), L.tpV, L.pedicleW});
    m.laminaLps = f.toWorld(
        {0, L.canalCentreV + s.canalDepth / 2 + 3, 0.5 * (L.laminaTopW + L.laminaBottomW)});
    {
      const double v0 = L.canalCentreV + s.canalDepth / 2 + 3;
      const double tipW =
          L.laminaTopW - 2 - spinousSlope(s.region) * s.spinousLength - spinousHalfHeight(s.region);
      m.spinousTipLps = f.toWorld({0, v0 + s.spinousLength, tipW});
    }
    m.ribs = s.ribs;
    if (i + 1 < n) {
      const Level& dn = levels[i + 1];
      m.hasInterlaminarWindowBelow = true;
      const Vec3 above = f.toWorld({0, L.canalCentreV + s.canalDepth / 2, L.laminaBottomW});
      const Vec3 below =
          dn.frame.toWorld({0, dn.canalCentreV + dn.size.canalDepth / 2, dn.laminaTopW});
      m.interlaminarWindowBelowLps = 0.5 * (above + below);
    }
    truth.levels.push_back(m);
  }
  // Medial branches (lumbar/T11-T12 style): the medial branch of level n
  // crosses the root of the TP of level n+1, in the groove at the junction
  // with the SAP; its course over the bone runs caudally, from above the
  // TP's upper border down across its root (Bogduk; Lau et al., Pain Med
  // 2004). L5: the dorsal ramus in the groove between sacral ala and S1 SAP.
  // Thoracic T1-T10: the superolateral corner of the TP (Chua & Bogduk
  // 1995). Cervical: the waist of the articular pillar; C2-C3 joint: third
  // occipital nerve. A nerve lies on the bone, not in it: each course is
  // placed 1 mm off the painted bone surface, found by marching through the
  // label map from inside the bone along the level's own axes.
  auto boneOf = [&](const Frame& f, int16_t lab, Vec3 q) {
    const Vec3 idx = labels.lpsToIndex(f.toWorld(q));
    if (!labels.containsIndex(idx)) return false;
    return labels.at(std::size_t(std::lround(idx.x)), std::size_t(std::lround(idx.y)),
                     std::size_t(std::lround(idx.z))) == lab;
  };
  // Distance from `q` along `dir` (local, unit) to the first point off the bone.
  auto exitAlong = [&](const Frame& f, int16_t lab, Vec3 q, Vec3 dir) {
    double t = 0;
    while (t < 60 && boneOf(f, lab, q + t * dir))
      t += 0.25;
    return t;
  };
  // A nerve crosses a corner of the bone, not through it: a straight course
  // (local, running caudally and dorsally) is lifted square to itself,
  // dorsally and cranially, until each point of it is 1 mm clear of the bone
  // beneath. Returns it in world coordinates.
  auto liftedClear = [&](const Frame& f, int16_t lab, Vec3 cranial, Vec3 caudal) {
    const Vec3 d = caudal - cranial;
    const Vec3 lift = normalized(Vec3{0, -d.z, d.y});
    auto clearAt = [&](double h) {
      for (double frac = 0; frac <= 1; frac += 0.25 / norm(d))
        for (double k = 0; k <= 1; k += 0.25)
          if (boneOf(f, lab, cranial + frac * d + (h - k) * lift)) return false;
      return true;
    };
    double h = 0;
    while (h < 6 && !clearAt(h))
      h += 0.25;
    return std::pair{f.toWorld(cranial + h * lift), f.toWorld(caudal + h * lift)};
  };
  for (std::size_t i = 0; i + 1 < n; ++i) {
    const Level& nerveLevel = levels[i];
    const Level& bone = levels[i + 1];
    const VertebraSize& s = bone.size;
    // The nerve crossing T1 is C8's: eight cervical nerves, seven vertebrae.
    const std::string nerveName =
        s.name == "T1" && nerveLevel.size.region == 'C' ? "C8" : nerveLevel.size.name;
    const auto lab = static_cast<int16_t>(s.label);
    for (int side : {-1, 1}) {
      NerveTarget t;
      t.side = sideName(side);
      const Frame& f = bone.frame;
      const Vec3 out{double(side), 0, 0}, back{0, 1, 0}, up{0, 0, 1};
      if (s.region == 'S') {
        t.nerve = nerveName + " dorsal ramus";
        t.bone = "groove between the sacral ala and the S1 superior articular process";
        // The groove's sagittal plane: 1 mm lateral to the S1 SAP's wall,
        // found just behind the ala's dorsal face.
        const double h = s.bodyHeight / 2;
        const Vec3 onAla{side * (bone.facetU + 6), 0, h - 6};
        const double vN = exitAlong(f, lab, onAla, back) + 1;
        // 1 mm lateral to the SAP's wall, at depth vN or, where the SAP
        // does not reach back that far, at its most posterior depth.
        auto wallAt = [&](double w) {
          for (double ww = w; ww > w - 4; ww -= 0.25)
            for (double vv = vN; vv > vN - 6; vv -= 0.25) {
              const Vec3 q{side * bone.facetU, vv, ww};
              if (boneOf(f, lab, q)) return side * (bone.facetU + exitAlong(f, lab, q, out) + 1);
            }
          throw std::logic_error("phantom: no S1 superior articular process");
        };
        // It crosses the ala's superior border in the groove and turns down
        // its dorsal face, as the medial branches do over a TP's root: in
        // the groove's sagittal plane, the ala's dorsal-superior corner (its
        // face the median over 6 mm of height below the top of S1, its top
        // the median over the 4 mm in front of the face), and a course 45
        // degrees caudal and dorsal around it, from 4 mm in front of the
        // face to 4 mm below the top, lifted until 1 mm clear of it (its ends
        // then lie 3 mm off the bone: the nerve bends round the corner).
        const double x = wallAt(h + 2);
        auto median = [](std::vector<double> xs) {
          if (xs.empty()) throw std::logic_error("phantom: no sacral ala beside the S1 SAP");
          std::sort(xs.begin(), xs.end());
          return xs[xs.size() / 2];
        };
        std::vector<double> faces, tops;
        for (double w = h - 10; w <= h - 4; w += 0.5)
          if (boneOf(f, lab, {x, 0, w})) faces.push_back(exitAlong(f, lab, {x, 0, w}, back));
        const double face = median(faces);
        for (double v = face - 6; v <= face - 2; v += 0.5)
          if (boneOf(f, lab, {x, v, h - 10}))
            tops.push_back(h - 10 + exitAlong(f, lab, {x, v, h - 10}, up));
        const double top = median(tops);
        std::tie(t.startLps, t.endLps) =
            liftedClear(f, lab, {x, face - 4, top + 1}, {x, face + 1, top - 4});
      } else if (s.region == 'C') {
        // Cervical medial branches are named for the pillar they wrap
        // around: the C4 medial branch crosses the waist of the C4 pillar,
        // and joint C4-C5 is supplied by C4 and C5 (Bogduk; DESIGN.md
        // section 3). Each runs from front to back across the pillar's
        // lateral face, behind the transverse process: C5 at the waist,
        // C3, C4, C6 and C7 2 mm above it.
        // The pillar's lateral face: 15-27 mm from the midline (lateral
        // masses at ~22 mm, Panjabi 1991), behind the transverse process,
        // from the depth of the canal's centre plus a quarter of its depth
        // 4 mm backward. Its x is the 75th percentile of the outermost exits
        // over those depths (joint clefts and the lamina's edge drop
        // single depths), plus 1 mm: the nerve lies on the bone.
        const double v0 = bone.canalCentreV + s.canalDepth * 0.25, v1 = v0 + 4;
        auto faceX = [&](std::initializer_list<std::pair<const Level*, int16_t>> pillars, double w0,
                         double w1) {
          std::vector<double> xs;
          for (const auto& [L, pl] : pillars)
            for (double w = w0; w <= w1 + 1e-9; w += 0.5)
              for (double v = v0; v <= v1 + 1e-9; v += 0.25) {
                std::optional<double> e;
                for (double x = 15; x < 27; x += 0.25) {
                  const Vec3 q = L->frame.toLocal(f.toWorld({side * x, v, w}));
                  const Vec3 q1 = L->frame.toLocal(f.toWorld({side * (x + 0.25), v, w}));
                  if (boneOf(L->frame, pl, q) && !boneOf(L->frame, pl, q1)) e = x + 0.25;
                }
                if (e) xs.push_back(*e);
              }
          if (xs.empty()) throw std::logic_error("phantom: no articular pillar face by " + s.name);
          std::sort(xs.begin(), xs.end());
          return xs[xs.size() * 3 / 4] + 1;
        };
        // Heights of a pillar's lateral face, 2 mm behind v0.
        auto pillarHeights = [&](const Level& L, int16_t pl) {
          double top = -1e9, bottom = 1e9;
          for (double w = -30; w <= 30; w += 0.25)
            for (double x = 15; x < 27; x += 0.5)
              if (boneOf(f, pl, {side * x, v0 + 2, w})) {
                top = std::max(top, w);
                bottom = std::min(bottom, w);
              }
          if (top < bottom)
            throw std::logic_error("phantom: no articular pillar on " + L.size.name);
          return std::pair{top, bottom};
        };
        const auto [wTop, wBottom] = pillarHeights(bone, lab);
        const double waist = 0.5 * (wTop + wBottom) + (s.name == "C5" ? 0.0 : 2.0);
        const double x = faceX({{&bone, lab}}, waist - 1, waist + 1);
        t.nerve = s.name + " medial branch";
        t.bone = "waist of the " + s.name + " articular pillar";
        t.startLps = f.toWorld({side * x, v0, waist + 0.5});
        t.endLps = f.toWorld({side * x, v1, waist - 0.5});
        if (nerveLevel.size.name == "C2") {
          // The third occipital nerve (superficial C3 medial branch) crosses
          // the lateral face of the C2-C3 joint, from front to back: at the
          // joint line, the middle of the gap between the two pillars.
          const auto ulab = static_cast<int16_t>(nerveLevel.size.label);
          const double upperBottom = pillarHeights(nerveLevel, ulab).second;
          const double joint = 0.5 * (upperBottom + wTop);
          NerveTarget ton;
          ton.side = t.side;
          ton.nerve = "third occipital nerve";
          ton.bone = "lateral C2-C3 facet joint";
          const double xj = faceX({{&bone, lab}, {&nerveLevel, ulab}}, joint - 3, joint + 3);
          ton.startLps = f.toWorld({side * xj, v0, joint + 0.5});
          ton.endLps = f.toWorld({side * xj, v1, joint - 0.5});
          truth.nerves.push_back(ton);
        }
      } else if (s.region == 'T' && s.name != "T11" && s.name != "T12" && s.name != "T13") {
        t.nerve = nerveName + " medial branch";
        t.bone = "superolateral corner of the " + s.name + " transverse process";
        // Along the upper edge of the TP's last 10 mm short of the rounded
        // tip (7-15 mm from the bony tip), 1 mm above the bone.
        const Vec3 r0{side * (bone.pedicleU + s.pedicleWidth * 0.3), bone.tpV, bone.pedicleW};
        const double reach = s.transverseReach;
        const Vec3 r1{side * reach, bone.tpV + 0.55 * (reach - std::abs(r0.x)), bone.pedicleW - 1};
        const Vec3 axis = normalized(r1 - r0);
        const double tipAlong = exitAlong(f, lab, r0, axis);
        auto edgeAt = [&](double fromTip) {
          const Vec3 a = r0 + (tipAlong - fromTip) * axis;
          return f.toWorld(a + (exitAlong(f, lab, a, up) + 1) * up);
        };
        t.startLps = edgeAt(7);
        t.endLps = edgeAt(15);
      } else {
        t.nerve = nerveName + " medial branch";
        t.bone = "root of the " + s.name + " transverse process";
        // The TP's axis as painted above; its middle 10 mm medial of its
        // bony tip.
        const double backSlope = s.region == 'T' ? 0.55 : 0.15; // as painted above
        const Vec3 r0{side * (bone.pedicleU + s.pedicleWidth * 0.3), bone.tpV, bone.pedicleW};
        const double reach = s.transverseReach;
        const Vec3 r1{side * reach, bone.tpV + backSlope * (reach - std::abs(r0.x)),
                      bone.pedicleW - (s.region == 'L' ? 2.0 : 1.0)};
        // 10 mm medial of the TP's most lateral point (its end cap reaches
        // rz beyond the axis's end), on the axis.
        const double rz = s.region == 'L' ? 6.0 : 5.0; // as painted above
        const double xMid = reach + rz - 10;
        const Vec3 a = r0 + ((xMid - std::abs(r0.x)) / (reach - std::abs(r0.x))) * (r1 - r0);
        // The medial branch comes from in front of the TP, crosses its
        // superior border against the neck of the SAP and runs caudally and
        // dorsally onto the TP's dorsal face (Bogduk: "passes caudally and
        // slightly dorsally"; Lau et al. 2004: the electrode lies opposite
        // the middle two quarters of the SAP). Its course over the bone is
        // modelled as the straight line a parallel needle lies along (Tran
        // 2022: 34-49 degrees caudal), not one straight down the bone: from
        // 1 mm above the TP's superior border at the depth of its axis, to
        // 1 mm behind its dorsal face at the height of its axis, in the
        // sagittal plane 1 mm lateral to the pillar beside it.
        // Outermost exit from bone between the midline and the TP's middle.
        auto exitAt = [&](double vv, double ww, double xMax) {
          std::optional<double> exit;
          for (double x = 0; x < xMax; x += 0.25)
            if (boneOf(f, lab, {side * x, vv, ww}) && !boneOf(f, lab, {side * (x + 0.25), vv, ww}))
              exit = x + 0.25;
          return exit;
        };
        // The TP's axis and faces where it leaves the pillar at x.
        struct Root {
          Vec3 axis;
          double top, face;
        };
        auto rootAt = [&](double x) {
          const double along = (x - std::abs(r0.x)) / (reach - std::abs(r0.x));
          const Vec3 c = r0 + along * (r1 - r0);
          const Vec3 q{side * x, c.y, c.z};
          if (!boneOf(f, lab, q))
            throw std::logic_error("phantom: no transverse root beside the " + s.name + " pillar");
          return Root{q, q.z + exitAlong(f, lab, q, up), q.y + exitAlong(f, lab, q, back)};
        };
        // The pillar's wall beside the course: the 90th percentile of the
        // outermost exits over the course's depths, from the TP's superior
        // border to 4 mm above it (the SAP's neck).
        auto wallBeside = [&](const Root& r) {
          std::vector<double> xs;
          // Where the pillar stands back from the root (a short or sloping
          // TP), also 6 mm further forward and higher; where it overhangs the
          // TP's middle (a hypertrophic facet), out to the TP's tip.
          for (double widen = 0; widen <= 6 && xs.empty(); widen += 3)
            for (double vv = r.axis.y - widen; vv <= r.face + 2; vv += 0.5)
              for (double ww = r.top + 1; ww <= r.top + 4 + widen; ww += 0.5)
                if (const auto e = exitAt(vv, ww, widen > 0 ? reach : std::abs(a.x)))
                  xs.push_back(*e);
          // Where the point is under the pillar itself (the facet overhangs
          // the root, and the top measured there is the pillar's), the wall
          // is the pillar's outer face just below that top.
          if (xs.empty())
            for (double vv = r.axis.y - 6; vv <= r.face + 2; vv += 0.5)
              for (double ww = r.top - 4; ww <= r.top - 1; ww += 0.5)
                if (const auto e = exitAt(vv, ww, reach)) xs.push_back(*e);
          if (xs.empty())
            throw std::logic_error("phantom: no articular pillar beside the " + s.name + " TP");
          std::sort(xs.begin(), xs.end());
          return xs[xs.size() * 9 / 10] + 1;
        };
        // The wall measured above the TP's middle, then again above the root
        // found there.
        const Root root = rootAt(wallBeside(rootAt(wallBeside(rootAt(xMid)))));
        const Vec3 cranial{root.axis.x, root.axis.y, root.top + 1};
        const Vec3 caudal{root.axis.x, root.face + 1, root.axis.z};
        std::tie(t.startLps, t.endLps) = liftedClear(f, lab, cranial, caudal);
      }
      truth.nerves.push_back(t);
    }
  }
  std::ostringstream desc;
  desc << (o.cervical ? "cervical C2-T1" : o.topLevel + "-S1") << (o.prone ? ", prone" : ", supine")
       << (o.lumbarSixth ? ", L6" : "") << (o.sacralisedL5 ? ", sacralised L5" : "")
       << (o.thirteenRibs ? ", 13 rib pairs" : "") << (o.osteophytes ? ", osteophytes" : "")
       << (o.narrowedDisc.empty() ? "" : ", narrowed disc below " + o.narrowedDisc);
  truth.description = desc.str();

  // --- Scanner: blur (Gaussian, separable) then noise.
  reportProgress(progress, 0.86, "phantom: scanner blur and noise");
  {
    const double sigma = o.blurMm;
    auto kernel = [](double sigmaVox) {
      std::vector<float> k;
      const int r = std::max(1, int(std::ceil(2.5 * sigmaVox)));
      double sum = 0;
      for (int x = -r; x <= r; ++x) {
        k.push_back(float(std::exp(-0.5 * x * x / (sigmaVox * sigmaVox))));
        sum += k.back();
      }
      for (auto& v : k)
        v = float(v / sum);
      return k;
    };
    if (sigma > 0) {
      const auto kx = kernel(sigma / o.pixelMm), kz = kernel(sigma / o.sliceMm);
      const std::size_t nx = ct.size[0], ny = ct.size[1], nz = ct.size[2];
      std::vector<float> buf(ct.voxelCount());
      for (std::size_t q = 0; q < buf.size(); ++q)
        buf[q] = ct.hu[q];
      std::vector<float> tmp(buf.size());
      auto pass = [&](int axis, const std::vector<float>& k) {
        const int r = int(k.size() / 2);
        const std::size_t stride = axis == 0 ? 1 : (axis == 1 ? nx : nx * ny);
        const std::size_t len = axis == 0 ? nx : (axis == 1 ? ny : nz);
        parallelFor(nz, o.threads, [&](std::size_t z) {
          for (std::size_t y = 0; y < ny; ++y)
            for (std::size_t x = 0; x < nx; ++x) {
              const std::size_t idx = x + nx * (y + ny * z);
              const std::size_t pos = axis == 0 ? x : (axis == 1 ? y : z);
              float acc = 0;
              for (int t = -r; t <= r; ++t) {
                const long pp = std::clamp<long>(long(pos) + t, 0, long(len) - 1);
                acc += k[std::size_t(t + r)] * buf[idx + (std::size_t(pp) - pos) * stride];
              }
              tmp[idx] = acc;
            }
        });
        buf.swap(tmp);
      };
      pass(0, kx);
      pass(1, kx);
      pass(2, kz);
      // Noise: deterministic per slice so threads do not change the result.
      parallelFor(nz, o.threads, [&](std::size_t z) {
        std::mt19937 g(static_cast<uint32_t>(o.seed * 7919 + z));
        std::normal_distribution<float> noise(0.f, float(o.noiseHu));
        for (std::size_t q = z * nx * ny; q < (z + 1) * nx * ny; ++q) {
          const float v = buf[q] < -990 ? buf[q] + noise(g) * 0.3f : buf[q] + noise(g);
          ct.hu[q] = static_cast<int16_t>(std::clamp(std::lround(v), -1024L, 3071L));
        }
      });
    }
  }

  // --- Optional crop to a range of levels (e.g. L3-S1).
  if (!o.cropTop.empty() || !o.cropBottom.empty()) {
    double zHi = zTop, zLo = zBottom;
    for (const auto& L : levels) {
      const std::string nm = L.size.region == 'S' ? "S1" : L.size.name;
      if (nm == o.cropTop) zHi = L.frame.centre.z + L.size.bodyHeight / 2 + L.size.discBelow + 8;
      if (nm == o.cropBottom)
        zLo = L.frame.centre.z - L.size.bodyHeight / 2 - (L.size.region == 'S' ? 45 : 8);
    }
    const std::size_t k0 = std::size_t(std::max(0.0, std::floor((zLo - zBottom) / o.sliceMm)));
    const std::size_t k1 =
        std::min(ct.size[2] - 1, std::size_t(std::ceil((zHi - zBottom) / o.sliceMm)));
    auto crop = [&](Volume& v) {
      Volume c = v;
      c.size[2] = k1 - k0 + 1;
      c.originLps = v.indexToLps({0, 0, double(k0)});
      const std::size_t slice = v.size[0] * v.size[1];
      c.hu.assign(v.hu.begin() + std::ptrdiff_t(k0 * slice),
                  v.hu.begin() + std::ptrdiff_t((k1 + 1) * slice));
      v = std::move(c);
    };
    crop(ct);
    crop(labels);
    std::erase_if(truth.levels, [&](const LevelLandmarks& m) {
      return !ct.containsIndex(ct.lpsToIndex(m.bodyCentroidLps));
    });
    std::erase_if(truth.nerves,
                  [&](const NerveTarget& t) { return !ct.containsIndex(ct.lpsToIndex(t.endLps)); });
  }
  reportProgress(progress, 1.0, "phantom: done");
  return Phantom{std::move(ct), std::move(labels), std::move(truth)};
}

Volume storedAsSagittal(const Volume& axial) {
  Volume s;
  s.size = {axial.size[1], axial.size[2], axial.size[0]};
  s.spacingMm = {axial.spacingMm.y, axial.spacingMm.z, axial.spacingMm.x};
  s.directionLps = Mat3::fromColumns({0, 1, 0}, {0, 0, -1}, {1, 0, 0});
  s.originLps = axial.indexToLps({0, 0, double(axial.size[2] - 1)});
  s.hu.resize(axial.voxelCount());
  for (std::size_t k = 0; k < s.size[2]; ++k)
    for (std::size_t j = 0; j < s.size[1]; ++j)
      for (std::size_t i = 0; i < s.size[0]; ++i)
        s.hu[s.offset(i, j, k)] = axial.at(k, i, axial.size[2] - 1 - j);
  return s;
}

std::string truthToJson(const PhantomTruth& t, const PhantomOptions& o) {
  using nlohmann::json;
  auto v = [](Vec3 p) { return json::array({p.x, p.y, p.z}); };
  json j;
  j["format"] = "fluoroplan-phantom-truth/1";
  j["coordinates"] = "DICOM patient LPS, millimetres";
  j["description"] = t.description;
  j["options"] = {{"prone", o.prone},
                  {"cervical", o.cervical},
                  {"l6", o.lumbarSixth},
                  {"sacralised_l5", o.sacralisedL5},
                  {"thirteen_ribs", o.thirteenRibs},
                  {"osteophytes", o.osteophytes},
                  {"narrowed_disc", o.narrowedDisc},
                  {"seed", o.seed}};
  j["levels"] = json::array();
  for (const auto& m : t.levels) {
    json l = {
        {"level", m.level},
        {"label", m.label},
        {"ribs", m.ribs},
        {"body_centroid", v(m.bodyCentroidLps)},
        {"superior_endplate_centre", v(m.superiorEndplateCentreLps)},
        {"inferior_endplate_centre", v(m.inferiorEndplateCentreLps)},
        {"endplate_normal", v(m.endplateNormalLps)},
        {"pedicle", {{"left", v(m.pedicleLeftLps)}, {"right", v(m.pedicleRightLps)}}},
        {"superior_articular_process",
         {{"left", v(m.superiorArticularLeftLps)}, {"right", v(m.superiorArticularRightLps)}}},
        {"inferior_articular_process",
         {{"left", v(m.inferiorArticularLeftLps)}, {"right", v(m.inferiorArticularRightLps)}}},
        {"transverse_process_root",
         {{"left", v(m.transverseRootLeftLps)}, {"right", v(m.transverseRootRightLps)}}},
        {"lamina", v(m.laminaLps)},
        {"spinous_process_tip", v(m.spinousTipLps)}};
    if (m.hasInterlaminarWindowBelow)
      l["interlaminar_window_below"] = v(m.interlaminarWindowBelowLps);
    j["levels"].push_back(l);
  }
  j["nerves"] = json::array();
  for (const auto& n : t.nerves)
    j["nerves"].push_back({{"nerve", n.nerve},
                           {"side", n.side},
                           {"bone", n.bone},
                           {"course", {v(n.startLps), v(n.endLps)}}});
  j["canal_centreline"] = json::array();
  for (std::size_t i = 0; i < t.canalCentrelineLps.size(); ++i)
    j["canal_centreline"].push_back(
        {{"point", v(t.canalCentrelineLps[i])}, {"radius_mm", t.canalRadiusMm[i]}});
  j["labels"] = {
      {"vertebrae", "VerSe: C1=1..C7=7, T1=8..T12=19, L1=20..L5=24, L6=25, sacrum=26, T13=28"},
      {"disc", "100 + label of the vertebra above"},
      {"spinal_canal", label::kSpinalCanal},
      {"neural_foramen", label::kNeuralForamen},
      {"exiting_root", label::kExitingRoot},
      {"lung", label::kLung},
      {"kidney", label::kKidney},
      {"aorta", label::kAorta},
      {"vena_cava", label::kVenaCava},
      {"vertebral_artery", label::kVertebralArtery},
      {"rib", label::kRib},
      {"ilium", label::kIlium}};
  return j.dump(2);
}

} // namespace fluoroplan::samples
