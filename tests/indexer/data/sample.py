# ruff: noqa
"""Module docstring."""
import os
import os.path as osp
from collections import OrderedDict, defaultdict as dd
from . import sibling
from .pkg.mod import helper

MAX_SIZE = 10
counter: int = 0


def top(a, b=2):
    """Add things."""
    local = a + b
    return helper(local)


@decorator
class Shape(Base):
    """A shape."""

    sides = 0

    def area(self) -> float:
        return 0.0

    @property
    def name(self):
        # not a docstring
        return "shape"

    class Inner:
        pass


async def fetch(url):
    return await os.get(url)
