#include <vector>
#include "shape.hpp"

namespace geo {

class Shape {
public:
    virtual double area() const = 0;
    int id;
};

struct Circle : public Shape {
    double r;
    double area() const override { return 3.14 * r * r; }
};

template <typename T>
T maximum(T a, T b) { return a > b ? a : b; }

}  // namespace geo

double geo::Circle::perimeter() const { return 2 * r; }

enum class Mode { On, Off };
