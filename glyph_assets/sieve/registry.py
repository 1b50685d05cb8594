"""The GPU registry: canonical model ids, their specs and aliases, validated once per process.

The registry file (``data/reference/gpu_models.csv``) is a contract shared with the test oracle
and the database, so it is checked on load and a broken file fails loudly with every problem at
once instead of mis-matching listings later. Besides the spec table, each id is parsed into a
:class:`ModelKey` (family, model number, variant tokens, interface, VRAM) following the id rules
in the reference README; the matcher in ``normalize`` works on those keys, so a model added to
the CSV is matched without code changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from glyph_assets.sieve.columns import REGISTRY_SPECS

ID_PATTERN = re.compile(r"^[A-Z0-9_]+$")
VENDORS: frozenset[str] = frozenset({"NVIDIA", "AMD", "Intel"})
SEGMENTS: frozenset[str] = frozenset({"datacenter", "workstation", "consumer"})
FORM_FACTORS: frozenset[str] = frozenset({"PCIe", "SXM", "OAM"})

OPTIONAL_COLUMNS: list[str] = ["memory_bus_bits", "pcie_gen", "slot_width", "source_note"]
# Every spec the enrich stage copies onto a listing, unless the column is optional (pcie_gen).
REQUIRED_COLUMNS: list[str] = [
    "canonical_model",
    "vendor",
    "display_name",
    *(c for c in REGISTRY_SPECS if c not in OPTIONAL_COLUMNS),
    "aliases",
]
SPEC_FIELDS: list[str] = [c for c in REQUIRED_COLUMNS + OPTIONAL_COLUMNS if c != "canonical_model"]

# column -> (low, high, low_inclusive); values must be numbers inside the range.
NUMERIC_RANGES: dict[str, tuple[float, float, bool]] = {
    "vram_gb": (0.0, 1024.0, False),
    "tdp_watts": (0.0, 2000.0, False),
    "mig_instances": (0.0, 7.0, True),
    "launch_year": (1990.0, 2100.0, True),
    "pcie_gen": (1.0, 7.0, True),
    "memory_bus_bits": (0.0, 16384.0, False),
    "slot_width": (1.0, 6.0, True),
}
INTEGER_COLUMNS: frozenset[str] = frozenset(
    {"mig_instances", "launch_year", "pcie_gen", "memory_bus_bits", "slot_width"}
)
_TRUE = {"true", "yes", "1", "t", "y"}
_FALSE = {"false", "no", "0", "f", "n"}

# Id tokens after the model number that name the board interface (README rule 4).
INTERFACE_TOKENS: frozenset[str] = frozenset({"PCIE", "SXM", "SXM2", "SXM3", "SXM4", "SXM5", "NVL"})
# Id tokens that mark a variant of the same number by edition rather than by chip (rule 3).
MARKER_TOKENS: frozenset[str] = frozenset({"SFF", "ADA", "BLACKWELL", "SERVER", "MAX_Q"})
_VRAM_TOKEN = re.compile(r"^(\d+)GB$")
_MODEL_TOKEN = re.compile(r"^([A-Z]*)(\d+)([A-Z]*)$")

T = TypeVar("T")


class RegistryError(ValueError):
    """The registry file is unusable; ``problems`` lists every problem found."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"GPU registry {self.path} has {len(problems)} problem(s):\n{listing}")


@dataclass(frozen=True)
class ModelKey:
    """An id split into what a listing title can say about it (see the reference README).

    ``number`` is the model number as printed: digits for families that print a series word
    before them (RTX 4090, RX 7600, Flex 140), or a letter+digit token (A100, W7900, MI300X).
    """

    canonical_model: str
    vendor: str
    family: str | None  # series word before a bare number: RTX, GTX, GT, RX, FLEX, MAX, WX
    number: str | None  # None for ids without a model number (TITAN_RTX): aliases only
    prefix: frozenset[str]  # other words before the number (QUADRO, PRO, ARC, INSTINCT...)
    suffixes: frozenset[str]  # chip variant words after the number (TI, SUPER, XT, XTX, GRE, D)
    markers: frozenset[str]  # edition words (SFF, ADA, BLACKWELL, SERVER, MAX_Q)
    interface: str | None  # PCIE, SXM, SXM2, SXM4, SXM5, NVL
    id_vram_gb: int | None  # the _<N>GB suffix when the id carries one
    vram_gb: float | None
    form_factor: str | None

    @property
    def lookup(self) -> tuple[str | None, str] | None:
        """Index key: (family, digits) for bare numbers, (None, token) for letter tokens."""
        if self.number is None:
            return None
        return (self.family, self.number) if self.number.isdigit() else (None, self.number)


def parse_model_id(
    canonical_model: str, vendor: str, vram: float | None, form: str | None
) -> ModelKey:
    """Split an id such as RTX_4060_TI_16GB or H100_SXM5_80GB into its parts."""
    tokens = canonical_model.replace("MAX_Q", "MAXQ").split("_")
    tokens = ["MAX_Q" if t == "MAXQ" else t for t in tokens]
    id_vram: int | None = None
    if len(tokens) > 1 and _VRAM_TOKEN.match(tokens[-1]):
        id_vram = int(tokens[-1][:-2])
        tokens = tokens[:-1]
    position = next((i for i, t in enumerate(tokens) if any(ch.isdigit() for ch in t)), None)
    if position is None:  # TITAN_RTX, RADEON_VII: matched through aliases only
        tokens.append("")
        position = len(tokens) - 1
    prefix = tokens[:position]
    token = tokens[position]
    suffixes: set[str] = set()
    markers: set[str] = set()
    interface = None
    for word in tokens[position + 1 :]:
        if word in INTERFACE_TOKENS:
            interface = word
        elif word in MARKER_TOKENS:
            markers.add(word)
        else:
            suffixes.add(word)
    parts = _MODEL_TOKEN.match(token)
    family: str | None = None
    number: str | None
    if not token:
        number, rest = None, frozenset(prefix)
    elif parts and not parts.group(1):
        # A bare number is named by the series word before it (README rule 1 keeps those).
        family = "RTX" if "RTX" in prefix else (prefix[-1] if prefix else None)
        number = parts.group(2)
        if parts.group(3):
            suffixes.add(parts.group(3))  # RTX_4090D: a letter printed next to the number
        rest = frozenset(w for w in prefix if w != family)
    else:
        number = token
        rest = frozenset(prefix)
    return ModelKey(
        canonical_model=canonical_model,
        vendor=vendor,
        family=family,
        number=number,
        prefix=rest,
        suffixes=frozenset(suffixes),
        markers=frozenset(markers),
        interface=interface,
        id_vram_gb=id_vram,
        vram_gb=vram,
        form_factor=form,
    )


@dataclass
class Registry:
    """Validated registry: ``specs`` is indexed by canonical_model; ``keys`` are parsed ids."""

    path: Path
    specs: pd.DataFrame
    aliases: dict[str, list[str]]
    keys: dict[str, ModelKey]
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ids(self) -> list[str]:
        return list(self.specs.index)

    def vendor_of(self, canonical_model: str) -> str:
        return str(self.specs.at[canonical_model, "vendor"])

    def memo(self, name: str, build: Callable[[Registry], T]) -> T:
        """Build a derived structure (e.g. the matcher's index) once per registry and process."""
        if name not in self._memo:
            self._memo[name] = build(self)
        return self._memo[name]  # type: ignore[no-any-return]


def _cell(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _validate(frame: pd.DataFrame) -> list[str]:
    problems: list[str] = []
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        return [f"missing column(s): {', '.join(missing)}"]
    seen_ids: dict[str, int] = {}
    alias_owner: dict[str, str] = {}
    for position, row in enumerate(frame.to_dict("records")):
        line = position + 2  # header is line 1
        model = _cell(row["canonical_model"]).strip()
        where = f"line {line} ({model or 'no id'})"
        if not model:
            problems.append(f"line {line}: canonical_model is empty")
        elif not ID_PATTERN.match(model):
            problems.append(f"{where}: id does not match ^[A-Z0-9_]+$")
        key = model.upper()
        if key in seen_ids:
            problems.append(f"{where}: duplicate id (first on line {seen_ids[key]})")
        seen_ids.setdefault(key, line)
        if _cell(row["vendor"]) not in VENDORS:
            problems.append(f"{where}: vendor {_cell(row['vendor'])!r} not in NVIDIA/AMD/Intel")
        if not _cell(row["display_name"]).strip():
            problems.append(f"{where}: display_name is empty")
        segment = _cell(row["segment"])
        if segment and segment not in SEGMENTS:
            problems.append(f"{where}: segment {segment!r} not in datacenter/workstation/consumer")
        form = _cell(row["form_factor"])
        if form and form not in FORM_FACTORS:
            problems.append(f"{where}: form_factor {form!r} not in PCIe/SXM/OAM")
        nvlink = _cell(row["nvlink"]).strip().lower()
        if nvlink and nvlink not in _TRUE | _FALSE:
            problems.append(f"{where}: nvlink {nvlink!r} is not true/false")
        for column, (low, high, inclusive) in NUMERIC_RANGES.items():
            text = _cell(row.get(column)).strip()
            if not text:
                continue
            try:
                number = float(text)
            except ValueError:
                problems.append(f"{where}: {column} {text!r} is not a number")
                continue
            below = number < low if inclusive else number <= low
            if below or number > high or number != number:
                bracket = "[" if inclusive else "("
                problems.append(f"{where}: {column} {text} outside {bracket}{low:g}, {high:g}]")
            elif column in INTEGER_COLUMNS and not float(number).is_integer():
                problems.append(f"{where}: {column} {text} is not a whole number")
        for alias in _split_aliases(row["aliases"]):
            folded = alias.casefold()
            owner = alias_owner.get(folded)
            if owner is not None and owner != key:
                problems.append(f"{where}: alias {alias!r} also belongs to {owner}")
            alias_owner.setdefault(folded, key)
    return problems


def _split_aliases(value: Any) -> list[str]:
    return [a.strip() for a in _cell(value).split("|") if a.strip()]


def _typed_specs(frame: pd.DataFrame) -> pd.DataFrame:
    specs = frame.copy()
    for column in OPTIONAL_COLUMNS:
        if column not in specs.columns:
            specs[column] = None
    specs = specs.set_index("canonical_model")
    specs.index = specs.index.map(lambda v: str(v).strip())
    for column in ("vram_gb", "tdp_watts"):
        specs[column] = pd.to_numeric(specs[column].replace("", None), errors="coerce")
    for column in ("mig_instances", "launch_year", "pcie_gen", "memory_bus_bits", "slot_width"):
        values = pd.to_numeric(specs[column].replace("", None), errors="coerce")
        specs[column] = values.round().astype("Int64")
    specs["nvlink"] = (
        specs["nvlink"]
        .map(
            lambda v: (
                True
                if _cell(v).strip().lower() in _TRUE
                else False if _cell(v).strip().lower() in _FALSE else None
            )
        )
        .astype(object)
    )
    for column in ("vendor", "display_name", "segment", "architecture", "memory_type"):
        specs[column] = specs[column].map(lambda v: _cell(v).strip() or None).astype(object)
    specs["form_factor"] = specs["form_factor"].map(lambda v: _cell(v).strip() or None)
    return specs[SPEC_FIELDS]


def build_registry(frame: pd.DataFrame, path: Path | str = "<frame>") -> Registry:
    """Validate a registry table (all cells as text) and parse its ids; raise RegistryError."""
    frame = frame.fillna("")
    problems = _validate(frame)
    if problems:
        raise RegistryError(path, problems)
    specs = _typed_specs(frame)
    aliases = {
        str(model).strip(): _split_aliases(value)
        for model, value in zip(frame["canonical_model"], frame["aliases"], strict=True)
    }
    keys = {
        model: parse_model_id(
            model,
            str(specs.at[model, "vendor"]),
            None if pd.isna(specs.at[model, "vram_gb"]) else float(specs.at[model, "vram_gb"]),
            specs.at[model, "form_factor"],
        )
        for model in specs.index
    }
    return Registry(path=Path(path), specs=specs, aliases=aliases, keys=keys)


@lru_cache(maxsize=8)
def _load(path: Path) -> Registry:
    if not path.exists():
        raise RegistryError(path, ["file not found"])
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise RegistryError(path, [f"cannot be parsed as CSV: {exc}"]) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return build_registry(frame, path)


def load_registry(path: Path | str | None = None) -> Registry:
    """The registry at ``path`` (default: settings.registry_path), parsed once per process."""
    if path is None:
        from glyph_assets.settings import get_settings

        path = get_settings().registry_path
    return _load(Path(path).resolve())


def clear_registry_cache() -> None:
    """Forget loaded registries (tests that rewrite the file)."""
    _load.cache_clear()


__all__ = [
    "ModelKey",
    "Registry",
    "RegistryError",
    "build_registry",
    "clear_registry_cache",
    "load_registry",
    "parse_model_id",
]
