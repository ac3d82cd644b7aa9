"""Fast reading of a GGUF file's metadata (key/value) section.

`gguf.GGUFReader` builds a numpy view per array item, which takes seconds for a 151k-token
vocabulary; tests read vocabularies often, so this parses the key/value section directly
(string arrays with `struct`, numeric arrays with one `numpy.frombuffer`). The values come back
with their GGUF types so that `gguf.GGUFWriter.add_key_value` can write them unchanged.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from gguf import GGUFValueType

_MAGIC = b"GGUF"
_SCALARS: dict[GGUFValueType, str] = {
    GGUFValueType.UINT8: "B",
    GGUFValueType.INT8: "b",
    GGUFValueType.UINT16: "H",
    GGUFValueType.INT16: "h",
    GGUFValueType.UINT32: "I",
    GGUFValueType.INT32: "i",
    GGUFValueType.FLOAT32: "f",
    GGUFValueType.BOOL: "?",
    GGUFValueType.UINT64: "Q",
    GGUFValueType.INT64: "q",
    GGUFValueType.FLOAT64: "d",
}


@dataclass(frozen=True)
class MetaValue:
    """One metadata value; `sub_type` is the item type of an array."""

    type: GGUFValueType
    value: object  # scalar, str, list[str] or a 1-D numpy array
    sub_type: GGUFValueType | None = None

    def as_list(self) -> list:
        """The value as a list (for numeric arrays held as numpy arrays)."""
        v = self.value
        return v.tolist() if isinstance(v, np.ndarray) else list(v)  # type: ignore[arg-type]


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def unpack(self, fmt: str) -> object:
        (value,) = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return value

    def string(self) -> str:
        n = int(self.unpack("Q"))  # type: ignore[call-overload]
        end = self.pos + n
        if end > len(self.data):
            raise ValueError("GGUF string runs past the end of the file")
        text = self.data[self.pos : end].decode("utf-8", errors="replace")
        self.pos = end
        return text

    def value(self, vtype: GGUFValueType) -> MetaValue:
        if vtype == GGUFValueType.STRING:
            return MetaValue(vtype, self.string())
        if vtype != GGUFValueType.ARRAY:
            return MetaValue(vtype, self.unpack(_SCALARS[vtype]))
        sub = GGUFValueType(int(self.unpack("I")))  # type: ignore[call-overload]
        count = int(self.unpack("Q"))  # type: ignore[call-overload]
        if sub == GGUFValueType.STRING:
            return MetaValue(vtype, [self.string() for _ in range(count)], sub)
        if sub == GGUFValueType.ARRAY:
            raise ValueError("nested GGUF arrays are not supported")
        dtype = np.dtype("<" + _SCALARS[sub])
        arr = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos).copy()
        self.pos += dtype.itemsize * count
        return MetaValue(vtype, arr, sub)


def read_metadata(path: Path) -> dict[str, MetaValue]:
    """All key/value entries of a GGUF file, in file order. Raises ValueError if malformed."""
    data = Path(path).read_bytes()
    if data[:4] != _MAGIC:
        raise ValueError(f"{path} is not a GGUF file")
    cur = _Cursor(data)
    cur.pos = 4
    out: dict[str, MetaValue] = {}
    try:
        version = cur.unpack("I")
        cur.unpack("Q")  # tensor count
        n_kv = int(cur.unpack("Q"))  # type: ignore[call-overload]
        for _ in range(n_kv):
            key = cur.string()
            out[key] = cur.value(GGUFValueType(int(cur.unpack("I"))))  # type: ignore[call-overload]
    except (struct.error, KeyError, ValueError) as exc:
        raise ValueError(f"{path}: truncated or malformed GGUF metadata ({exc})") from exc
    if version not in (2, 3):
        raise ValueError(f"{path}: unsupported GGUF version {version}")
    return out


def read_tokens(path: Path) -> list[str]:
    """The vocabulary's token texts (`tokenizer.ggml.tokens`)."""
    meta = read_metadata(path).get("tokenizer.ggml.tokens")
    if meta is None:
        raise ValueError(f"{path} has no tokenizer.ggml.tokens")
    return meta.as_list()
