#pragma once
// Small value types for 3D geometry. Units are millimetres; points in patient
// space are DICOM LPS unless a name says otherwise.
#include <array>
#include <cmath>

namespace fluoroplan {

struct Vec3 {
  double x = 0, y = 0, z = 0;

  constexpr double operator[](int i) const { return i == 0 ? x : (i == 1 ? y : z); }
  constexpr double& operator[](int i) { return i == 0 ? x : (i == 1 ? y : z); }
  friend constexpr Vec3 operator+(Vec3 a, Vec3 b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
  friend constexpr Vec3 operator-(Vec3 a, Vec3 b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
  friend constexpr Vec3 operator*(double s, Vec3 a) { return {s * a.x, s * a.y, s * a.z}; }
  friend constexpr Vec3 operator*(Vec3 a, double s) { return s * a; }
  friend constexpr bool operator==(Vec3 a, Vec3 b) = default;
};

constexpr double dot(Vec3 a, Vec3 b) {
  return a.x * b.x + a.y * b.y + a.z * b.z;
}
constexpr Vec3 cross(Vec3 a, Vec3 b) {
  return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x};
}
inline double norm(Vec3 a) {
  return std::sqrt(dot(a, a));
}
inline Vec3 normalized(Vec3 a) {
  const double n = norm(a);
  return n > 0 ? (1.0 / n) * a : a;
}

// 3x3 matrix, row-major. As in ITK, a direction matrix holds the unit
// direction of image axis j in column j.
struct Mat3 {
  std::array<double, 9> m{1, 0, 0, 0, 1, 0, 0, 0, 1};

  constexpr double operator()(int r, int c) const { return m[r * 3 + c]; }
  constexpr double& operator()(int r, int c) { return m[r * 3 + c]; }
  constexpr Vec3 column(int c) const { return {m[c], m[3 + c], m[6 + c]}; }
  constexpr void setColumn(int c, Vec3 v) {
    m[c] = v.x;
    m[3 + c] = v.y;
    m[6 + c] = v.z;
  }
  static constexpr Mat3 fromColumns(Vec3 c0, Vec3 c1, Vec3 c2) {
    Mat3 r;
    r.setColumn(0, c0);
    r.setColumn(1, c1);
    r.setColumn(2, c2);
    return r;
  }
  friend constexpr Vec3 operator*(const Mat3& a, Vec3 v) {
    return {a(0, 0) * v.x + a(0, 1) * v.y + a(0, 2) * v.z,
            a(1, 0) * v.x + a(1, 1) * v.y + a(1, 2) * v.z,
            a(2, 0) * v.x + a(2, 1) * v.y + a(2, 2) * v.z};
  }
  constexpr Mat3 transposed() const {
    Mat3 t;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c)
        t(r, c) = (*this)(c, r);
    return t;
  }
  friend constexpr Mat3 operator*(const Mat3& a, const Mat3& b) {
    Mat3 r;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j)
        r(i, j) = a(i, 0) * b(0, j) + a(i, 1) * b(1, j) + a(i, 2) * b(2, j);
    return r;
  }
  friend constexpr bool operator==(const Mat3&, const Mat3&) = default;
};

double determinant(const Mat3& a);
// Inverse of a general 3x3 matrix; throws std::domain_error when singular.
Mat3 inverse(const Mat3& a);

// The rotation by |w| degrees about the axis w (right-handed; Rodrigues'
// formula); the identity for w = 0.
Mat3 rotationDeg(Vec3 w);

// Angle between two directions in degrees (0..180).
double angleDegrees(Vec3 a, Vec3 b);

// Distance from p to the segment a-b (to a when a == b).
double distanceToSegment(Vec3 p, Vec3 a, Vec3 b);

} // namespace fluoroplan
