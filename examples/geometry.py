import math


def area_of_circle(radius):
    """Return the area of a circle with the given radius."""
    return math.


def circumference(radius):
    """Return the circumference of a circle with the given radius."""
    return 2 * math.pi * radius
