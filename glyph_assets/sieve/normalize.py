"""Normalize: map each listing title onto one canonical GPU model, or say why there is none.

How a title is read. Every rule is driven by the registry's ids (see ``registry.ModelKey``), so a
model added to the CSV is matched without code changes:

1. Tokens. The title is upper-cased and split into words, and words into letter/digit runs
   (``RTX4060Ti`` -> RTX 4060 TI, ``TUF-RX7800XT-O16G`` -> ... RX 7800 XT O 16 G). Glued series
   words are cut off (``GFRTX``, ``RTXPRO``, ``PRIMEGEFORCE``), and a model number glued to its
   memory size is split (``30506GB`` -> 3050 6GB) when the first four digits are a known number.
2. Memory sizes: a number followed by G/GB/GiB/MB (``12G``, ``12GB``, ``12 GB``, ``O8G``, ``4GD5``);
   not when the unit runs on into more digits (part numbers such as ``699-2G150``).
3. Mentions. A model is mentioned by a letter+digit token that is a registry model number (A100,
   L40S, W7900, MI300X, T1000, A10G) or by a series word followed by a number (RTX 4090, RX 7600,
   GT 1030, Flex 140, Radeon HD 7750). "GeForce"/"Radeon" alone stand in for their series, and
   so do "Nvidia"/"AMD" when the number is a registry number ("AMD 7950X3D" is a CPU).
   Variant words after the number (TI, SUPER, XT, XTX, GRE, D, a glued S = SUPER, X2, Dual Slot)
   must equal the id's variant words exactly, so "RX 7600 XT" can only be RX_7600_XT, and a
   variant the registry lacks is a GPU with an unknown model, never its neighbour. Letters glued
   after a letter token (A4000E, T400E) are a variant the registry lacks unless they are noise
   of two or more letters on a known token (HPE "M60AC").
4. Siblings sharing a number (RTX 6000 Ada / Quadro RTX 6000 / RTX PRO 6000 Blackwell, A100
   PCIe/SXM4 40/80GB, RTX 3060 12/8GB) are scored on the title's evidence: edition words (Ada,
   Blackwell, PRO, Quadro, SFF/low-profile, Server Edition, Max-Q), memory size and interface;
   the words a seller chose outweigh a memory size ("Quadro RTX 4000 20GB" is a Quadro RTX 4000).
   An SXM module "converted to PCIe" is still the SXM part; with no interface word the PCIe board
   is assumed. A tie is ambiguous: no model, reason unknown_model. A memory size that fits no
   sibling of an id family split by memory (RTX 3080 20GB) is an unknown model; a size that
   contradicts a single-SKU model (RTX 4090 48GB) keeps the model and enrich warns.
   When the title states no memory size, model_hint/brand_hint/bulk_notes are used as evidence.
5. The first mention decides; later ones are "for RTX A6000" or "equivalent to ..." remarks,
   unless they are more cards on offer: another item ("RX 570, RX 580"), a range ("1060-1080ti",
   "от GTX1060 до GTX1080Ti") or a list of three or more models (not_gpu:multi_item).
6. Not a GPU: accessories, cables, bridges, capture/converter boxes anywhere in the title; and
   servers, workstations, PCs, coolers, software when they come before any model or GPU brand,
   or before "for <model>" ("Graphics card cooling fan for RTX 3060"). "Open box" is a condition.
   A part named last right after the card is the head noun, what is sold ("RTX 3080 hűtő",
   "RTX 4090 FE box"), unless a card word heads the title or a count describes the card's own
   part ("Twin Fan"); "<product> for <card>" sells the product; the "[W]" part of a swap-forum
   title is wanted; "SLI Support" and "Aura Sync" are features, not accessories. A power supply
   sold with a card ("+ 650W PSU") makes a bundle; a picture word naming what is sold ("FE jpg",
   "picture of") makes a picture, not "see photos"; a backplate or waterblock after a described
   card is its feature. NVIDIA board codes (GV-N3070, N710D5) name the card by their number.
7. Registry aliases (ids without a number: TITAN_V, RADEON_VII) and a guarded fuzzy pass
   (rapidfuzz; one vendor, the same model digits, one model left, high threshold) come last.

Matching never crosses vendors: a model whose vendor contradicts the title's vendor words is
rejected. Each distinct title is analysed once and cached for the process.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from rapidfuzz import fuzz

from glyph_assets.sieve.columns import MATCH_COLUMNS, with_columns
from glyph_assets.sieve.lexicon import CJK, scan
from glyph_assets.sieve.registry import ModelKey, Registry, load_registry

MATCH_TYPES: tuple[str, ...] = ("exact", "alias", "pattern", "fuzzy", "inferred", "none")
NOT_GPU = "not_gpu"
UNKNOWN_MODEL = "unknown_model"
# reject_reason values. Every not-a-GPU reason starts with "not_gpu" (count them with a prefix
# match or with is_gpu = false); the part after the colon says which rule decided:
REJECT_REASONS: dict[str, str] = {
    NOT_GPU: "no GPU model and no GPU words (a CPU, a phone, an ASIC miner, an empty title)",
    "not_gpu:box": "the retail box or packaging of a card, not the card",
    "not_gpu:cooler": "a cooler, fan, heatsink or shroud for a card, without the board",
    "not_gpu:accessory": "risers, cables, bridges, brackets, power supplies, enclosures, "
    "capture/converter boxes, adapters, software licences",
    "not_gpu:system": "a PC, laptop, server, workstation or mining rig with a card inside",
    "not_gpu:bundle": "a card sold together with a motherboard, a CPU or a power supply",
    "not_gpu:picture": "a picture of a card (an image file, a photo, a print), not the card",
    "not_gpu:multi_item": "two or more different card models in one listing (a list, a range, "
    "or a swap ad offering one card for another)",
    "not_gpu:wanted": "a wanted-to-buy ad",
    "not_gpu:service": "a repair or other service named with a card",
    UNKNOWN_MODEL: "a GPU, but no registry id can be given (unknown model, or ambiguous)",
}
# Score of an ``inferred`` match: the title names the model but not which memory variant.
INFERRED_SCORE = 0.6

# Brand words that stand in for a series word before a bare number ("GeForce 210", "Radeon 7750",
# "Nvidia 3080"). A vendor name alone only counts when the number is a registry model number
# ("AMD 7950X3D" is a CPU).
WEAK_FAMILIES: dict[str, tuple[str | None, ...]] = {
    "GEFORCE": ("RTX", "GTX", "GT", None),
    "RADEON": ("RX", "HD"),
    "NVIDIA": ("RTX", "GTX", "GT"),
    "AMD": ("RX",),
}
WEAK_FAMILY_VENDOR = {"GEFORCE": "NVIDIA", "RADEON": "AMD", "NVIDIA": "NVIDIA", "AMD": "AMD"}
VENDOR_ONLY_FAMILIES = frozenset({"NVIDIA", "AMD"})
# Series words that say "GPU" on their own; other family words (HD, MAX, FLEX...) need context.
STRONG_FAMILIES = frozenset({"RTX", "GTX", "RX"})
GLUED_SERIES = ("RTX", "GTX", "GEFORCE", "RADEON")
SKIP_BEFORE_NUMBER = frozenset({"PRO"})
CORE_VARIANTS = frozenset({"TI", "SUPER", "XT", "XTX", "GRE", "D"})
GLUED_VARIANT_ALIASES = {"S": "SUPER"}
PLAUSIBLE_VRAM = frozenset({1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96})
MEMORY_UNITS = frozenset({"G", "GB", "GIB", "GD"})
HINT_COLUMNS = ("model_hint", "brand_hint", "bulk_notes")  # evidence, in match_title's order
TRADEMARKS = re.compile("[\u2122\u00ae\u00a9]")

VENDOR_WORDS: dict[str, str] = {
    "NVIDIA": "NVIDIA",
    "NVIDA": "NVIDIA",
    "GEFORCE": "NVIDIA",
    "GEFOCE": "NVIDIA",
    "QUADRO": "NVIDIA",
    "TESLA": "NVIDIA",
    "RTX": "NVIDIA",
    "GTX": "NVIDIA",
    "AMD": "AMD",
    "RADEON": "AMD",
    "FIREPRO": "AMD",
    "INSTINCT": "AMD",
    "ATI": "AMD",
    "INTEL": "Intel",
}
# "Tesla" is left out: alone it is more often a car than a GPU.
GPU_BRAND_WORDS = frozenset(
    {"GEFORCE", "GEFOCE", "RADEON", "QUADRO", "FIREPRO", "INSTINCT", "TITAN", "GRID"}
)
GPU_WORDS = frozenset({"GPU", "GPUS", "ACCELERATOR", "AGP", "MXM"})
CARD_ADJECTIVES = frozenset({"GRAPHIC", "GRAPHICS", "VIDEO"})
CARD_NOUNS = frozenset({"CARD", "CARDS", "BOARD"})
# Board partners that make graphics cards only: their name is GPU evidence on its own, and it
# names the GPU vendor a bare number belongs to ("Sapphire 7900 XT", "Palit 1070").
GPU_PARTNERS: dict[str, str | None] = {
    "SAPPHIRE": "AMD",
    "POWERCOLOR": "AMD",
    "XFX": "AMD",
    "PALIT": "NVIDIA",
    "GAINWARD": "NVIDIA",
    "ZOTAC": "NVIDIA",
    "INNO3D": "NVIDIA",
    "KFA2": "NVIDIA",
    "GALAX": "NVIDIA",
    "EVGA": "NVIDIA",
    "PNY": "NVIDIA",
    "LEADTEK": "NVIDIA",
    "COLORFUL": "NVIDIA",
    "MANLI": "NVIDIA",
    "AFOX": None,
    "YESTON": None,
    "MAXSUN": None,
    "SPARKLE": None,
    "IGAME": "NVIDIA",  # Colorful's line, written as a brand ("iGame RTX 3060 Ultra")
}
# Chip variant words that name the vendor of a bare number before them ("1050 Ti", "6700 XT").
_VARIANT_VENDOR = {"TI": "NVIDIA", "SUPER": "NVIDIA", "XT": "AMD", "XTX": "AMD", "GRE": "AMD"}
# Brands that also make boards, laptops or PSUs: with one of these a bare model number counts
# as a card ("Gigabyte 3070 Vision", "MSI 1060 6gb"), but the name alone is no GPU evidence.
BOARD_BRANDS = frozenset({"ASUS", "MSI", "GIGABYTE", "GYGABYTE", "AORUS", "ASROCK", "BIOSTAR"})
# Words that name a card maker or a GPU (brands between "for" and the card; card evidence)
_BRAND_WORDS = frozenset(VENDOR_WORDS) | GPU_BRAND_WORDS | BOARD_BRANDS | frozenset(GPU_PARTNERS)
_CARD_EVIDENCE = (
    frozenset(VENDOR_WORDS) | GPU_BRAND_WORDS | GPU_WORDS | CARD_ADJECTIVES | CARD_NOUNS
) - {"TESLA"}
# A brand glued to a bare number ("iGame1050Ti", "MSI1060"): the number is the model.
_BRANDS_BEFORE_NUMBER = GPU_PARTNERS.keys() | BOARD_BRANDS
# Series words of cards older than the registry (GTS 450, HD 6850, FX 5500, R9 290): a GPU
# of unknown model, never a modern card with the same digits.
_LEGACY_SERIES = re.compile(
    r"\b(?:GTS|GTX|GT|HD|FX|NVS|R[579]|RX|X|EAH|EN|GV-?[NR]|NX|PX|TI)\s?-?\d{3,4}"
)
_LINE_AFTER_SUPER = frozenset({"JETSTREAM"})
# Series words of older cards the registry has no ids for: a mention of an unknown model, so
# that "RX Vega 56, RX 580" is two items and "GTS 450" a GPU.
LEGACY_FAMILIES: dict[str, str] = {"VEGA": "AMD", "GTS": "NVIDIA"}
# Words after a number that make it a series name ("RTX 30 Series", "GeForce 200 Series").
_SERIES_WORDS = frozenset({"SERIES", "SERIE", "SERIEN", "SERII"})
# A bare number this close after these is a measurement, not a model ("1080 MHz", "2070 mm").
_UNITS_AFTER_NUMBER = frozenset(
    {"MHZ", "MH", "HZ", "W", "MM", "RPM", "BIT", "BITS", "P", "X", "TH", "KH", "V", "FPS", "SP"}
)
# Generation words after Ampere: with one of them, an "A" work-station token (A5000) also
# stands for the later card of the same number (RTX 5000 Ada).
_LATER_GENERATIONS = frozenset({"ADA", "BLACKWELL"})
# Short data-center tokens that are also laptop, phone, CPU and part-number pieces (A2, L4,
# T4, A10): they only count with GPU words, never inside a hyphenated code (N13E-GE-A2).
_SHORT_TOKEN = re.compile(r"^[A-Z]\d{1,2}[A-Z]?$")
_DATACENTER_WORDS = frozenset({"TESLA", "TENSOR", "PCIE", "SXM", "HBM2", "HBM2E", "CUDA", "GPU"})
# Words between two model mentions that make the second a remark, not a second item.
_REMARK_WORDS = frozenset(
    {"FOR", "FUR", "FÜR", "LIKE", "VS", "EQUIVALENT", "TO", "THAN", "UPGRADE", "REPLACES", "NOT"}
    | {"OR", "PARA", "POUR", "PER", "DLA", "TIL", "HEZ", "ΓΙΑ", "ДЛЯ", "ИЛИ", "ВМЕСТО", "КАК"}
    # comparisons in other languages: "equivalente a", "vergleichbar mit", "som", "mint", "σαν"
    | {"EQUIVALENTE", "ÄQUIVALENT", "COMPARABLE", "VERGLEICHBAR", "SIMILAR", "AS", "WIE", "ALS"}
    | {"SOM", "ENN", "MINT", "ΣΑΝ", "COMO", "COMME", "COME", "QUE", "BETTER", "FASTER", "VERSUS"}
)
# "X for <card>": X is what the listing sells.
_FOR_WORDS = frozenset(
    {"FOR", "FUR", "FÜR", "FÖR", "VOOR", "PARA", "POUR", "PER", "DLA", "TIL", "HEZ", "ΓΙΑ", "ДЛЯ"}
)
_ITEM_JOINERS = frozenset({"AND", "UND", "OG", "ÉS", "ES", "KAI", "ΚΑΙ", "И", "E", "Y", "I", "ET"})
# A range of models is an ad for several cards, not one: "1060-1080ti" (a dash between two
# models), "от GTX1060 до GTX1080Ti" / "from 1060 to 1080 Ti" / "von 1060 bis 1080" (an opening
# word before the first model, a closing word before the second).
_RANGE_DASHES = frozenset("-\u2013\u2014")
_RANGE_OPENERS = frozenset({"ОТ", "FROM", "VON", "OD", "DESDE", "FRA", "TOL", "ΑΠΟ"})
_RANGE_CLOSERS = frozenset({"ДО", "TO", "BIS", "DO", "ATE", "ATÉ", "HASTA", "TIL", "IG", "ΕΩΣ"})
# Three or more different models in one title are a list of cards on offer ("GTX 460 GTX 560
# GTX 660"), whatever separates them, unless a remark word sits between them.
_LIST_MIN_MODELS = 3
_MAX_NAME_PIECES = 3  # GTX|1060|TI: a word of more pieces is a part number
_MEMORY_WORD = re.compile(r"\d+(?:G|GB|MB)?")

# Not a GPU wherever these appear: the listing is the accessory, not the card.
ACCESSORY_WORDS = frozenset(
    {
        "BRIDGE",
        "BRG",
        "SLI",
        "HOLDER",
        "RISER",
        "BACKPLATE",
        "WATERBLOCK",
        "CABLE",
        "CABLES",
        "CAPTURE",
        "CAPTURING",
        "CONVERTER",
        "ENCODER",
        "DECODER",
        "EXTENDER",
        "SPLITTER",
        "KVM",
        "SYNC",
        "FRAMELOCK",
        "EDID",
        "ANTISAG",
        "LAPTOP",
        "NOTEBOOK",
        "PREBUILT",
        "SCALER",
        "SWITCHER",
        "DONGLE",
        "EMULATOR",
        "EXTRACTOR",
        "EMBEDDER",
    }
)
ACCESSORY_PHRASES: tuple[tuple[str, ...], ...] = (
    ("WATER", "BLOCK"),
    ("ANTI", "SAG"),
    ("THERMAL", "PAD"),
    ("THERMAL", "PADS"),
    ("POWER", "SUPPLY"),
    ("PRE", "BUILT"),
)
# A PC named anywhere in the title is the listing ("RTX 3060 Gaming PC"), unless the card is
# "for" it or the phrase names what the card is ("Desktop PC graphics card").
SYSTEM_PHRASES: tuple[tuple[str, ...], ...] = (
    ("GAMING", "PC"),
    ("DESKTOP", "PC"),
    ("MINI", "PC"),
)
# Not a GPU when they come before the first model or GPU brand word ("Server with RTX A6000"),
# harmless after it ("RTX 3090 ... for Server", "RTX PRO 6000 Blackwell Workstation Edition").
CONTEXT_WORDS = frozenset(
    {
        "SERVER",
        "SERVERS",
        "WORKSTATION",
        "DESKTOP",
        "PC",
        "COMPUTER",
        "SYSTEM",
        "BAREBONE",
        "POWEREDGE",
        "PROLIANT",
        "THINKSTATION",
        "OPTIPLEX",
        "ALIENWARE",
        "DGX",
        "COOLER",
        "HEATSINK",
        "FAN",
        "FANS",
        "COOLING",
        "ADAPTER",
        "BRACKET",
        "MOUNT",
        "SOFTWARE",
        "LICENSE",
        "LICENCE",
        "SUBSCRIPTION",
        "NVLINK",
        "USB",
        "KIT",
    }
)
# "8-GPU system", "6 GPU mining rig", "12 card mining farm"; a carrier board of several SXM
# modules ("HGX baseboard") is such a system too.
_MULTI_GPU_SYSTEM = re.compile(
    r"\b\d+\s*-?\s*X?\s*-?\s*(?:GPUS?|CARDS?)\s+(?:MINING\s+)?"
    r"(?:SYSTEM|SERVER|NODE|RIG|FARM|WORKSTATION|MACHINE)\b"
)
SYSTEM_WORDS = frozenset({"BASEBOARD"})
# Accessory words that are a card's features in these phrases: "SLI Support", "SLI ready";
# "G-Sync", "Polychrome SYNC", "Aura Sync", "Mystic Light Sync", "RGB Fusion Sync".
_FEATURE_AFTER = frozenset({"SUPPORT", "SUPPORTED", "READY", "CAPABLE", "COMPATIBLE", "SUPORTE"})
_SYNC_FEATURES = frozenset({"G", "POLYCHROME", "AURA", "RGB", "LIGHT", "FUSION", "ARGB"})
# Words that say where a card comes from ("from a 6 GPU rig", "aus Mining-Rig", "ex-mining").
_ORIGIN_WORDS = frozenset({"FROM", "EX", "OUT", "AUS", "FRA", "FRÅN", "IZ", "ИЗ", "С", "Z", "DE"})
_WORD = re.compile(r"[A-Z0-9]+")
_PART = re.compile(r"[A-Z]+|[0-9]+")
_CACHE_LIMIT = 500_000
_FUZZY_THRESHOLD = 90.0


@dataclass(frozen=True)
class Match:
    """The outcome for one listing; ``row()`` gives its MATCH_COLUMNS values.

    ``title_vram_gb`` / ``title_interface`` are what the title itself states (for enrich's
    contradiction warnings); ``detail`` says in words why the match came out this way.
    """

    canonical_model: str | None
    match_type: str
    match_score: float
    vendor: str | None
    is_gpu: bool
    reject_reason: str | None
    title_vram_gb: float | None = None
    title_interface: str | None = None
    detail: str = ""
    # The ids the title leaves open, "|"-joined, the chosen one first: an inferred match's
    # variants (RTX_3080_10GB|RTX_3080_12GB), or the tie of an ambiguous unknown_model row.
    alternatives: str | None = None

    def __post_init__(self) -> None:
        # a title's outcome is read once per chunk that holds the title: its row is made once
        row = (
            self.canonical_model,
            self.match_type,
            self.match_score,
            self.vendor,
            self.is_gpu,
            self.reject_reason,
            self.alternatives,
        )
        object.__setattr__(self, "_row", row)

    def row(self) -> tuple[Any, ...]:
        """The MATCH_COLUMNS values, in order."""
        return self._row  # type: ignore[attr-defined, no-any-return]


@dataclass(slots=True)
class _Tok:
    text: str
    num: bool
    word: int


@dataclass
class _Title:
    """One tokenized title. The word/token sets and the vendor words are worked out once here,
    because every rule asks for them and a title is read by a dozen rules."""

    tokens: list[_Tok]
    words: list[str]
    memory: list[tuple[int, float]]  # (token index of the number, GB)
    text: str
    merged_at: list[int] = field(default_factory=list)  # words joined into the one before
    lex: list[tuple[str, int]] = field(default_factory=list)  # lexicon (kind, offset)
    _starts: list[int] | None = None
    texts: list[str] = field(init=False)  # token texts, in order
    text_set: frozenset[str] = field(init=False)
    word_set: frozenset[str] = field(init=False)
    vendors: frozenset[str] = field(init=False)  # vendors the title's words name

    def __post_init__(self) -> None:
        self.texts = [t.text for t in self.tokens]
        self.text_set = frozenset(self.texts)
        self.word_set = frozenset(self.words)
        self.vendors = frozenset(_title_vendors(self.word_set))

    @property
    def starts(self) -> list[int]:
        """Character offset of each word (worked out only for titles that need offsets)."""
        if self._starts is None:
            starts = [m.start() for m in _WORD.finditer(self.text)]
            for w in self.merged_at:  # highest first, as tokenize merged them
                del starts[w]
            self._starts = starts
        return self._starts

    def joined(self, word: int) -> bool:
        """Is the word a piece of a hyphenated code (N13E-GE-A2, 699-2G150)?"""
        start, text = self.starts[word], self.text
        end = start + len(self.words[word])
        before = start > 1 and text[start - 1] == "-" and text[start - 2].isalnum()
        return before or (end + 1 < len(text) and text[end] == "-" and text[end + 1].isalnum())

    def opens_compound(self, word: int) -> bool:
        """Does the word open a hyphenated compound ("D-RGB" after "RTX 4090 "), joined to the
        next word but not to the one before ("RTX-4090-D-Vulcan" keeps its D)?"""
        start, text = self.starts[word], self.text
        end = start + len(self.words[word])
        after = end + 1 < len(text) and text[end] == "-" and text[end + 1].isalnum()
        return after and not (start > 0 and text[start - 1] == "-")

    def kinds(self) -> set[str]:
        return {kind for kind, _ in self.lex}

    def offset(self, token: int) -> int:
        """Character offset of a token's word (len(text) past the end)."""
        if token >= len(self.tokens):
            return len(self.text)
        return self.starts[self.tokens[token].word]


@dataclass
class _Mention:
    start: int  # token index of the model number
    vendor: str | None
    candidates: list[ModelKey]
    variants: frozenset[str]
    label: str
    unknown_trailing: bool = False


@dataclass
class _Pending:
    """A title whose mention needs evidence from the other columns (its memory size)."""

    mention: _Mention
    title: _Title
    base: Match


@dataclass
class _Index:
    registry: Registry
    by_lookup: dict[tuple[str | None, str], list[ModelKey]]
    families: dict[str, str]  # family word -> vendor
    numbers: frozenset[str]
    letter_tokens: frozenset[str]
    letter_shapes: frozenset[tuple[str, int]]
    variant_words: frozenset[str]
    exact_names: dict[str, set[str]]
    aliases: list[tuple[str, str]]  # (" NORMALIZED ALIAS ", id), longest first
    # first word -> the aliases that open with it, as (place in ``aliases``, alias, id)
    aliases_by_word: dict[str, list[tuple[int, str, str]]]
    aliases_by_id: dict[str, list[str]]
    digits_index: dict[str, list[ModelKey]]
    cache: dict[str, Match | _Pending] = field(default_factory=dict)
    # word -> its tokens and whether each is a number: titles share most of their words, so
    # a word is split once however many distinct titles it appears in
    parts: dict[str, tuple[tuple[str, bool], ...]] = field(default_factory=dict)
    evidence_cache: dict[tuple[str, str, str, str], Match] = field(default_factory=dict)


# Cyrillic letters that look like Latin ones, as sellers type them inside Latin words ("Radeоn").
_LOOKALIKES = str.maketrans("АВЕКМНОРСТУХаекморстухн", "ABEKMHOPCTYXaekmopctyxh")
_MIXED_WORD = re.compile(r"\w*[A-Za-z]\w*")
_CYRILLIC = re.compile("[\u0400-\u04ff]")
_DIGIT_O_DIGIT = re.compile(r"(?<=\d)O(?=\d)")
# Misspellings of the brand words seen in listings; each is the one word it stands for.
SPELLINGS: dict[str, str] = {
    "GEFORSE": "GEFORCE",
    "GEFROCE": "GEFORCE",
    "GEFOFCE": "GEFORCE",
    "GERFORCE": "GEFORCE",
    "GFORCE": "GEFORCE",
    "GEFORECE": "GEFORCE",
    "GF": "GEFORCE",
    "NVDIA": "NVIDIA",
    "NVIDEA": "NVIDIA",
    "NVIDEO": "NVIDIA",
    "NIVIDIA": "NVIDIA",
    "NVIDIAN": "NVIDIA",
    "RADEOM": "RADEON",
    "RAEDON": "RADEON",
    "RADEN": "RADEON",
    "RADION": "RADEON",
}
_SPLIT_BRANDS = {("GE", "FORCE"): "GEFORCE", ("G", "FORCE"): "GEFORCE"}
# Card makers and GPU vendors as Chinese titles write them (traditional and simplified): read
# as their Latin names, so that "技嘉 N710D5-1GL" has the board brand a bare number needs.
_CJK_BRANDS = {
    **dict.fromkeys(("技嘉",), "GIGABYTE"),
    **dict.fromkeys(("微星",), "MSI"),
    **dict.fromkeys(("華碩", "华硕"), "ASUS"),
    **dict.fromkeys(("華擎", "华擎"), "ASROCK"),
    **dict.fromkeys(("麗臺", "丽台"), "LEADTEK"),
    **dict.fromkeys(("撼訊", "撼讯"), "POWERCOLOR"),
    **dict.fromkeys(("藍寶石", "蓝宝石", "藍寶", "蓝宝"), "SAPPHIRE"),
    **dict.fromkeys(("映眾", "映众"), "INNO3D"),
    **dict.fromkeys(("索泰",), "ZOTAC"),
    **dict.fromkeys(("七彩虹",), "COLORFUL"),
    **dict.fromkeys(("影馳", "影驰"), "GALAX"),
    **dict.fromkeys(("耕昇",), "GAINWARD"),
    **dict.fromkeys(("銘瑄", "铭瑄"), "MAXSUN"),
    **dict.fromkeys(("輝達", "英偉達", "英伟达"), "NVIDIA"),
    **dict.fromkeys(("超微",), "AMD"),
    **dict.fromkeys(("英特爾", "英特尔"), "INTEL"),
}
_CJK_BRAND = re.compile("|".join(sorted(_CJK_BRANDS, key=len, reverse=True)))


def _prepare(text: str) -> str:
    text = TRADEMARKS.sub(" ", html.unescape(text))
    if not text.isascii() and _CYRILLIC.search(text):
        text = _MIXED_WORD.sub(
            lambda m: (
                m.group(0).translate(_LOOKALIKES) if _CYRILLIC.search(m.group(0)) else m.group(0)
            ),
            text,
        )
    if not text.isascii() and CJK.search(text):
        text = _CJK_BRAND.sub(lambda m: f" {_CJK_BRANDS[m.group(0)]} ", text)
    text = unicodedata.normalize("NFKC", text).upper()
    if "O" in text and _DIGIT_O_DIGIT.search(text):
        text = _DIGIT_O_DIGIT.sub("0", text)  # RTX3O70 -> RTX3070
    return text


def _norm_phrase(text: str) -> str:
    return " ".join(_WORD.findall(_prepare(text)))


def _build_index(registry: Registry) -> _Index:
    by_lookup: dict[tuple[str | None, str], list[ModelKey]] = {}
    families: dict[str, str] = {}
    numbers: set[str] = set()
    letters: set[str] = set()
    shapes: set[tuple[str, int]] = set()
    variants: set[str] = set()
    digits_index: dict[str, list[ModelKey]] = {}
    for key in registry.keys.values():
        variants |= key.suffixes
        lookup = key.lookup
        if lookup is None:
            continue
        by_lookup.setdefault(lookup, []).append(key)
        digits_index.setdefault(re.sub(r"\D", "", lookup[1]), []).append(key)
        if lookup[1].isdigit():
            numbers.add(lookup[1])
            if key.family:
                families[key.family] = key.vendor
        else:
            letters.add(lookup[1])
            head = re.match(r"^([A-Z]+)(\d+)", lookup[1])
            if head:
                shapes.add((head.group(1), len(head.group(2))))
    exact: dict[str, set[str]] = {}
    drop = {"NVIDIA", "AMD", "INTEL", "GEFORCE", "TESLA"}
    alias_list: list[tuple[str, str]] = []
    aliases_by_id: dict[str, list[str]] = {}
    for model in registry.ids:
        display = str(registry.specs.at[model, "display_name"] or "")
        names = {model.replace("_", " "), _norm_phrase(display)}
        names |= {" ".join(w for w in n.split() if w not in drop) for n in list(names)}
        exact[model] = names
        normalized = [_norm_phrase(a) for a in registry.aliases.get(model, [])]
        aliases_by_id[model] = [f" {a} " for a in normalized if a]
        alias_list.extend((f" {a} ", model) for a in normalized if a)
    alias_list.sort(key=lambda item: -len(item[0]))
    return _Index(
        registry=registry,
        by_lookup=by_lookup,
        families=families,
        numbers=frozenset(numbers),
        letter_tokens=frozenset(letters),
        letter_shapes=frozenset(shapes),
        variant_words=frozenset(variants | CORE_VARIANTS),
        exact_names=exact,
        aliases=alias_list,
        aliases_by_word=_by_first_word(alias_list),
        aliases_by_id=aliases_by_id,
        digits_index=digits_index,
    )


def _by_first_word(aliases: list[tuple[str, str]]) -> dict[str, list[tuple[int, str, str]]]:
    by_word: dict[str, list[tuple[int, str, str]]] = {}
    for place, (alias, model) in enumerate(aliases):
        by_word.setdefault(alias.split()[0], []).append((place, alias, model))
    return by_word


def _index(registry: Registry | None = None) -> _Index:
    return (registry or load_registry()).memo("normalize.index", _build_index)


def _split_word(word: str, idx: _Index) -> list[str]:
    if word.isdigit() or (word.isalpha() and not any(g in word for g in GLUED_SERIES)):
        return [word]  # the common case: nothing to split
    parts = _PART.findall(word)
    out: list[str] = []
    for p, part in enumerate(parts):
        if part.isdigit():
            nxt = parts[p + 1] if p + 1 < len(parts) else ""
            head, tail = part[:4], part[4:]
            if (
                5 <= len(part) <= 6
                and nxt in ("G", "GB")
                and head in idx.numbers
                and int(tail) in PLAUSIBLE_VRAM
            ):
                out.extend([head, tail])  # 30506GB -> 3050 6 GB
            else:
                out.append(part)
            continue
        for series in GLUED_SERIES:
            if part != series and part.startswith(series):
                out.extend([series, part[len(series) :]])  # RTXPRO
                break
            if part != series and part.endswith(series):
                out.extend([part[: -len(series)], series])  # GFRTX, PRIMEGEFORCE
                break
        else:
            out.append(part)
    return out


def _tokenize(title: str, idx: _Index) -> _Title:
    text = _prepare(title)
    words = [SPELLINGS.get(w, w) for w in _WORD.findall(text)]
    merged_at: list[int] = []
    for w in range(len(words) - 1, 0, -1) if "FORCE" in words else ():
        merged = _SPLIT_BRANDS.get((words[w - 1], words[w]))
        if merged:  # "Ge Force" -> GEFORCE
            words[w - 1 : w + 1] = [merged]
            merged_at.append(w)
    parts = idx.parts
    tokens: list[_Tok] = []
    numbers: list[int] = []
    for w, word in enumerate(words):
        pieces = parts.get(word)
        if pieces is None:
            pieces = tuple((t, t.isdigit()) for t in _split_word(word, idx))
            parts[word] = pieces
        for t, num in pieces:
            if num:
                numbers.append(len(tokens))
            tokens.append(_Tok(t, num, w))
    memory: list[tuple[int, float]] = []
    for i in numbers:
        if i + 1 >= len(tokens):
            break
        tok, unit = tokens[i], tokens[i + 1]
        if unit.text not in MEMORY_UNITS and unit.text != "MB":
            continue
        after = tokens[i + 2] if i + 2 < len(tokens) else None
        glued = after is not None and after.word == unit.word
        if unit.text == "GD" and glued and not after.num:
            continue  # 4GD5 / 12GD are 4GB GDDR5 / 12GB GDDR, "GDX" is not
        if unit.text != "GD" and glued and after.num:
            continue  # 699-2G150 is a part number
        value = float(tok.text) if len(tok.text) <= 5 else 0.0
        if unit.text == "MB":
            value /= 1024.0
        if 0 < value <= 1024:
            memory.append((i, value))
    return _Title(tokens, words, memory, text, merged_at, scan(text))


def _glued(tokens: list[_Tok], i: int, j: int) -> bool:
    return 0 <= i < len(tokens) and 0 <= j < len(tokens) and tokens[i].word == tokens[j].word


def _variant_window(
    title: _Title, idx: _Index, last: int, family_number: bool
) -> tuple[frozenset[str], bool]:
    """Variant words after a model number: glued letters, then whole words or memory sizes."""
    tokens = title.tokens
    found: set[str] = set()
    unknown = False
    i = last + 1
    while i < len(tokens) and _glued(tokens, last, i):
        text = tokens[i].text
        word = GLUED_VARIANT_ALIASES.get(text, text) if family_number else text
        if word in idx.variant_words:
            found.add(word)
        elif not (family_number and (tokens[i].num or text in MEMORY_UNITS)):
            unknown = True
        i += 1
    memory_at = {pos for pos, _ in title.memory}
    while i < len(tokens):
        if i in memory_at:
            i += 2
            continue
        word = title.words[tokens[i].word]
        nxt_word = title.words[tokens[i].word + 1] if tokens[i].word + 1 < len(title.words) else ""
        if word == "SUPER" and nxt_word in _LINE_AFTER_SUPER:
            break  # Palit "Super JetStream" is a product line, not a SUPER chip
        if word == "S" and family_number and (found or i == last + 1):
            found.add("SUPER")  # "RTX 4070 Ti S", "RTX 4080 S": the short form of SUPER
            i += 1
            continue
        if len(word) == 1 and title.opens_compound(tokens[i].word):
            break  # "RTX 4090 D-RGB": a letter that opens a hyphenated word is no variant
        if word in idx.variant_words and word not in GLUED_VARIANT_ALIASES:
            found.add(word)
            i += sum(1 for t in tokens[i:] if t.word == tokens[i].word)
            continue
        break
    return frozenset(found), unknown


def _family_before(tokens: list[_Tok], i: int, idx: _Index) -> str | None:
    j = i - 1
    while j >= 0 and tokens[j].text in SKIP_BEFORE_NUMBER:
        j -= 1
    if j < 0 or tokens[j].num:
        return None
    word = tokens[j].text
    if word in idx.families or word in WEAK_FAMILIES or word in LEGACY_FAMILIES:
        return word
    return None


def _letter_mention(title: _Title, idx: _Index, i: int, context: bool) -> _Mention | None:
    tokens = title.tokens
    letters, digits = tokens[i - 1].text, tokens[i].text
    token = letters + digits
    nxt = tokens[i + 1] if _glued(tokens, i, i + 1) else None
    last = i
    if nxt is not None and not nxt.num and token + nxt.text in idx.letter_tokens:
        token += nxt.text
        last = i + 1
    elif token not in idx.letter_tokens:
        starts_word = i < 2 or tokens[i - 2].word != tokens[i - 1].word
        if (
            context
            and starts_word
            and (letters, len(digits)) in idx.letter_shapes
            and not title.joined(tokens[i].word)  # 912-V397-019 is a part number
        ):
            # W5700-like: a GPU, not registered; letters inside a part number (R6B53A) are not
            return _Mention(i, None, [], frozenset(), token)
        return None
    if _SHORT_TOKEN.match(token) and (
        title.joined(tokens[i].word) or not (context or _DATACENTER_WORDS & title.word_set)
    ):
        return None  # "Galaxy A10", "N13E-GE-A2": not the data-center card
    variants, unknown = _variant_window(title, idx, last, family_number=False)
    if unknown and nxt is not None and len(nxt.text) >= 2 and not nxt.num:
        unknown = False  # two or more letters of SKU noise on a known token (HPE "M60AC")
    candidates = list(idx.by_lookup.get((None, token), []))
    if letters == "A" and not _LATER_GENERATIONS.isdisjoint(title.word_set):
        # "RTX A5000 32GB Ada": the A is Ampere, the title's generation word says otherwise;
        # the same number's later cards compete and the generation and memory decide
        candidates += idx.by_lookup.get(("RTX", digits), [])
    vendors = {k.vendor for k in candidates}
    return _Mention(
        i,
        vendors.pop() if len(vendors) == 1 else None,
        candidates,
        variants,
        token,
        unknown_trailing=unknown,
    )


def _number_mention(title: _Title, idx: _Index, i: int, context: bool) -> _Mention | None:
    tokens = title.tokens
    family = _family_before(tokens, i, idx)
    if family is None:
        return None
    if family not in STRONG_FAMILIES and not context:
        return None  # "HD 1080", "MAX 300": not GPU words without GPU context
    number = tokens[i].text
    if len(number) < 3 and family in STRONG_FAMILIES:
        return None  # "RX 78" (a Gundam), "RTX 30": no card is numbered with two digits
    if i + 1 < len(tokens) and tokens[i + 1].text in _SERIES_WORDS:
        return None  # "RTX 30 Series", "GeForce 200 Series": a series, not a model
    if family in LEGACY_FAMILIES:
        return _Mention(i, LEGACY_FAMILIES[family], [], frozenset(), f"{family} {number}")
    candidates = list(idx.by_lookup.get((family, number), [])) if family in idx.families else []
    if not candidates and family == "GT":  # the GeForce 210 is sold as "GT 210"
        candidates = [k for k in idx.by_lookup.get((None, number), []) if k.vendor == "NVIDIA"]
    vendor = idx.families.get(family)
    if not candidates and family in WEAK_FAMILIES:
        vendor = WEAK_FAMILY_VENDOR[family]
        for fam in WEAK_FAMILIES[family]:
            keys = idx.by_lookup.get((fam, number), [])
            candidates.extend(k for k in keys if k.vendor == vendor)
    if not candidates and family in VENDOR_ONLY_FAMILIES:
        return None
    variants, unknown = _variant_window(title, idx, i, family_number=True)
    if family == "RX" and i + 1 < len(tokens) and tokens[i + 1].text == "X":
        unknown = True  # RX 550 X / RX 580 X: a refresh the registry lists apart, if at all
    return _Mention(i, vendor, candidates, variants, f"{family} {number}", unknown)


def _bare_vendor(title: _Title) -> tuple[bool, str | None]:
    """May a bare number name a card here (a card word or a GPU/board brand), and whose?"""
    words = title.word_set
    partners = {GPU_PARTNERS[w] for w in words & GPU_PARTNERS.keys()} - {None}
    vendors = title.vendors | partners
    allowed = bool(
        vendors
        or words & GPU_BRAND_WORDS
        or words & BOARD_BRANDS
        or words & GPU_PARTNERS.keys()
        or any(kind == "card" for kind, _ in title.lex)
    )
    return allowed, (next(iter(vendors)) if len(vendors) == 1 else None)


def _bare_mention(title: _Title, idx: _Index, i: int, vendor: str | None) -> _Mention | None:
    """A model number without its series word ("Gigabyte 3070 Vision", "2070S", "Palit 1070").

    Four digits may stand alone when the registry's consumer series (RTX, GTX, GT, RX) give the
    number to one vendor, or the title names the vendor; three digits (RX 580 / GTX 580) only
    when the title names the vendor. A unit after the number (MHz, mm, W, p) makes it no model.
    """
    tokens = title.tokens
    number = tokens[i].text
    if len(number) not in (3, 4) or (len(number) == 3 and vendor is None):
        return None
    nxt = tokens[i + 1].text if i + 1 < len(tokens) else ""
    if nxt in _UNITS_AFTER_NUMBER or (i > 0 and tokens[i - 1].num and _glued(tokens, i - 1, i)):
        return None
    candidates = [
        k
        for family in ("RTX", "GTX", "GT", "RX")
        for k in idx.by_lookup.get((family, number), [])
        if (vendor is None or k.vendor == vendor) and not k.prefix and not k.markers
    ]
    families = {k.family for k in candidates}
    if not candidates or len(families) != 1 or len({k.vendor for k in candidates}) != 1:
        return None
    variants, unknown = _variant_window(title, idx, i, family_number=True)
    label = f"{families.pop()} {number}"
    return _Mention(i, candidates[0].vendor, candidates, variants, label, unknown)


def _variant_named(title: _Title, idx: _Index, i: int) -> _Mention | None:
    """A four-digit number followed by its chip variant word names a card without any other
    word ("1050 ti", "3060Ti", "6700 XT", "2070S"): the variant word says whose (Ti/SUPER are
    NVIDIA's, XT/XTX/GRE AMD's)."""
    tokens = title.tokens
    if len(tokens[i].text) != 4 or i + 1 >= len(tokens):
        return None
    nxt = tokens[i + 1]
    word = nxt.text if nxt.word == tokens[i].word else title.words[nxt.word]
    if nxt.word == tokens[i].word:
        word = GLUED_VARIANT_ALIASES.get(word, word)
    vendor = _VARIANT_VENDOR.get(word)
    return _bare_mention(title, idx, i, vendor) if vendor else None


def _glued_family_mention(title: _Title, idx: _Index, i: int, family: str) -> _Mention:
    """A number with its series word glued after it, as older listings write it ("730GT")."""
    number = title.tokens[i].text
    keys = idx.by_lookup.get((family, number), []) if family in idx.families else []
    return _Mention(i, "NVIDIA", list(keys), frozenset(), f"{family} {number}")


def _board_code(title: _Title, i: int) -> bool:
    """Is token ``i`` the number of an NVIDIA board maker's code ("GV-N3070GAMING OC-8GD",
    "N710D5-2GL", "N730K-2GD3", "N210-MD1G"): an N glued before three or four digits at the
    start of a word, in a title that names a card maker, a GPU brand or a card word?"""
    tokens = title.tokens
    return (
        len(tokens[i].text) in (3, 4)
        and (i < 2 or tokens[i - 2].word != tokens[i - 1].word)
        and _bare_vendor(title)[0]
    )


def _board_code_mention(title: _Title, idx: _Index, i: int) -> _Mention | None:
    """The NVIDIA card a board code names by its number (consumer series, or the GeForce 210
    the registry lists without one); no variant letters are read from the code."""
    number = title.tokens[i].text
    keys = [
        k
        for family in ("RTX", "GTX", "GT")
        for k in idx.by_lookup.get((family, number), [])
        if k.vendor == "NVIDIA" and not k.prefix and not k.markers
    ] or [k for k in idx.by_lookup.get((None, number), []) if k.vendor == "NVIDIA"]
    return _Mention(i, "NVIDIA", keys, frozenset(), f"N{number}") if keys else None


def _mentions(title: _Title, idx: _Index, context: bool) -> list[_Mention]:
    """Every model mention in reading order, known to the registry or not."""
    tokens = title.tokens
    memory_at = {pos for pos, _ in title.memory}
    found: list[_Mention] = []
    bare: tuple[bool, str | None] | None = None
    for i, tok in enumerate(tokens):
        if not tok.num:
            continue
        glued_letters = i > 0 and _glued(tokens, i - 1, i) and not tokens[i - 1].num
        after = tokens[i + 1].text if _glued(tokens, i, i + 1) else ""
        family_word = tokens[i - 1].text if glued_letters else ""
        if glued_letters and family_word == "N" and _board_code(title, i):
            mention = _board_code_mention(title, idx, i)
        elif (
            glued_letters
            and family_word not in idx.families
            and family_word not in LEGACY_FAMILIES
            and family_word not in _BRANDS_BEFORE_NUMBER
        ):
            mention = _letter_mention(title, idx, i, context)
        elif i in memory_at:
            continue
        elif (
            not glued_letters
            and after in ("GT", "GTX", "GTS")
            and len(tok.text) >= 3  # MSI "1050 Ti 4GT OC": 4 GB, not a GT 4
            and _family_before(tokens, i, idx) is None
        ):
            mention = _glued_family_mention(title, idx, i, after)  # 730GT, 560GTX, 8600GT
        else:
            mention = _number_mention(title, idx, i, context)
            if mention is None and _family_before(tokens, i, idx) is None:
                brand_glued = glued_letters and family_word in _BRANDS_BEFORE_NUMBER
                if not glued_letters or brand_glued:  # "iGame1050Ti", "MSI1060": a brand
                    bare = bare or _bare_vendor(title)
                    if bare[0] or brand_glued:
                        mention = _bare_mention(title, idx, i, bare[1])
                    if mention is None:  # "RTX 3060 Ti mot 6700 XT": XT names another vendor
                        mention = _variant_named(title, idx, i)
        if mention is not None:
            found.append(mention)
    return found


@dataclass
class _Features:
    markers: set[str]
    rtx_pro: bool
    quadro: bool
    interface: str | None
    sxm_version: str | None
    words: frozenset[str]
    stated: str | None  # every interface word the title uses: "SXM", "PCIE", "PCIE,SXM"...


def _pairs(texts: list[str]) -> Iterable[tuple[str, str]]:
    return zip(texts, texts[1:], strict=False)


def _features(title: _Title, mention: _Mention) -> _Features:
    texts = title.texts
    words = title.text_set
    markers = {m for m in ("ADA", "BLACKWELL", "SFF") if m in words}
    if "SERVER" in texts[mention.start :]:
        markers.add("SERVER")
    if not words.isdisjoint(("MAX", "LOW", "SMALL")):  # most titles have none: skip the pairs
        for pair in _pairs(texts):
            if pair == ("MAX", "Q"):
                markers.add("MAX_Q")
            elif pair in {("LOW", "PROFILE"), ("SMALL", "FORM")}:
                markers.add("SFF")
    if "MAXQ" in words:
        markers.add("MAX_Q")
    if "LP" in words:
        markers.add("SFF")
    if "SFF" not in words and {"FULL", "HEIGHT"} <= words:
        markers.discard("SFF")  # "Full-height/Low-profile" bracket: says nothing
    interface = None
    sxm_version = None
    for i, text in enumerate(texts if "SXM" in words else ()):
        if text == "SXM" and not (i > 0 and texts[i - 1] in {"NOT", "NON", "NO"}):
            interface = "SXM"
            nxt = title.tokens[i + 1] if i + 1 < len(texts) else None
            if nxt is not None and nxt.num and nxt.word == title.tokens[i].word:
                sxm_version = f"SXM{nxt.text}"
    pcie = "PCIE" in words or (
        "PCI" in words and any(a == "PCI" and b in {"E", "EXPRESS"} for a, b in _pairs(texts))
    )
    if interface is None:
        interface = "NVL" if "NVL" in words else "PCIE" if pcie else None
    stated = ",".join(sorted({interface} | ({"PCIE"} if pcie else set()))) if interface else None
    return _Features(
        markers=markers,
        rtx_pro="PRO" in words and ("RTX", "PRO") in set(_pairs(texts)),
        quadro="QUADRO" in words,
        interface=interface,
        sxm_version=sxm_version,
        words=words,
        stated=stated,
    )


def _mention_memory(title: _Title, mention: _Mention, stop: int) -> tuple[float | None, set[float]]:
    """The size nearest after the mention (else the last one before it) and all sizes after it."""
    after = [gb for pos, gb in title.memory if mention.start < pos < stop]
    if after:
        return after[0], set(after)
    before = [gb for pos, gb in title.memory if pos < mention.start]
    return (before[-1], set(before[-1:])) if before else (None, set())


def _candidate_score(
    key: ModelKey, f: _Features, vram: float | None, vram_weight: float
) -> tuple[float, list[str]]:
    """How well one sibling fits the title; the words a seller chose outweigh a memory size."""
    score = 0.0
    conflicts: list[str] = []
    if vram is not None and key.vram_gb is not None:
        if abs(key.vram_gb - vram) < 0.5:
            score += vram_weight
        else:
            score -= vram_weight
            conflicts.append("vram")
    elif vram is None and key.id_vram_gb is not None:
        score -= 0.5
    for gen in ("ADA", "BLACKWELL"):
        if gen in f.markers:
            score += 5 if gen in key.markers else -5
        elif gen in key.markers:
            score -= 1
    if key.family == "RTX":
        if f.rtx_pro:
            score += 3 if "PRO" in key.prefix else -3
        elif "PRO" in key.prefix:
            score -= 2
        if f.quadro:
            score += 6 if "QUADRO" in key.prefix else -2
        elif "QUADRO" in key.prefix:
            score -= 1
    elif key.family is None and key.prefix:
        present = len(key.prefix & f.words)
        score += 1.5 * present - 1.0 * (len(key.prefix) - present)
    for marker in ("SFF", "SERVER", "MAX_Q"):
        if marker in f.markers:
            score += 2 if marker in key.markers else -2
        elif marker in key.markers:
            score -= 2
    iface = key.interface or ("SXM" if key.form_factor == "SXM" else None)
    sxm = bool(iface and iface.startswith("SXM"))
    if f.interface == "SXM":
        score += (3 + (0.5 if iface == f.sxm_version else 0)) if sxm else -3
        if not sxm:
            conflicts.append("interface")
    elif f.interface == "NVL":
        score += 3 if iface == "NVL" else -3
        if iface != "NVL":
            conflicts.append("interface")
    elif f.interface == "PCIE":
        score += {"PCIE": 2.0, "NVL": 1.0}.get(iface or "", -1.0 if sxm else 0.0)
    else:
        score += {"PCIE": 1.5, "NVL": 1.0}.get(iface or "", 0.0)
    return score, conflicts


def _title_vendors(words: Iterable[str]) -> set[str]:
    words = set(words)
    vendors = {VENDOR_WORDS[w] for w in words if w in VENDOR_WORDS}
    if "ARC" in words and "INTEL" in words:
        vendors.add("Intel")
    return vendors


def _unknown(
    vendor: str | None, detail: str, vram: float | None = None, alternatives: str | None = None
) -> Match:
    return Match(None, "none", 0.0, vendor, True, UNKNOWN_MODEL, vram, None, detail, alternatives)


def _not_gpu(detail: str, kind: str | None = None) -> Match:
    reason = f"{NOT_GPU}:{kind}" if kind else NOT_GPU
    return Match(None, "none", 0.0, None, False, reason, None, None, detail)


def _classify(idx: _Index, title: _Title, model: str) -> tuple[str, float]:
    names = idx.exact_names.get(model, set())
    plain = " ".join(title.words)
    stripped = " ".join(w for w in title.words if w not in {"NVIDIA", "AMD", "INTEL", "GEFORCE"})
    if plain in names or stripped in names:
        return "exact", 1.0
    padded = f" {plain} "
    if any(alias in padded for alias in idx.aliases_by_id.get(model, [])):
        return "alias", 0.95
    return "pattern", 0.9


def _resolve(
    idx: _Index,
    title: _Title,
    mention: _Mention,
    next_start: int,
    evidence_vram: float | None = None,
    kind: str | None = None,
) -> Match | _Pending:
    """Pick one sibling for a mention, or explain why none can be picked."""
    vram, sizes = _mention_memory(title, mention, next_start)
    if not mention.candidates:
        return _unknown(mention.vendor, f"{mention.label}: not in the registry", vram)
    relevant = CORE_VARIANTS.union(*(k.suffixes for k in mention.candidates))
    variants = mention.variants & relevant
    candidates = [k for k in mention.candidates if k.suffixes == variants]
    if mention.unknown_trailing or not candidates:
        vendor = mention.vendor or mention.candidates[0].vendor
        shown = " ".join(sorted(variants)) or "no variant word"
        return _unknown(vendor, f"{mention.label} ({shown}): variant not in the registry", vram)
    vendor_words = title.vendors | ({mention.vendor} if mention.vendor else set())
    if len({k.vendor for k in candidates}) > 1 and vendor_words & {k.vendor for k in candidates}:
        candidates = [k for k in candidates if k.vendor in vendor_words]
    f = _features(title, mention)
    used, weight, source = vram, 4.0, "title"
    if used is None and evidence_vram is not None:
        used, weight, source = evidence_vram, 3.0, "evidence"
    scored = sorted(
        ((*_candidate_score(k, f, used, weight), k) for k in candidates), key=lambda s: -s[0]
    )
    best_score, conflicts, best = scored[0]
    tied = [k.canonical_model for s, _, k in scored if abs(s - best_score) < 1e-9]
    vendor = best.vendor
    if "vram" in conflicts and best.id_vram_gb is not None:
        return _unknown(vendor, f"{used:g}GB {mention.label} is not in the registry", vram)
    if len(tied) > 1:
        if used is None and len({k.vram_gb for k in candidates}) > 1:
            base = _inferred(idx, [k for s, _, k in scored if abs(s - best_score) < 1e-9])
            base = base or _unknown(
                vendor, f"ambiguous without a memory size: {'|'.join(tied)}", None, "|".join(tied)
            )
            return _Pending(mention, title, base)
        return _unknown(vendor, f"ambiguous: {'|'.join(tied)}", vram, "|".join(tied))
    if source == "title" and len(sizes) > 1:
        fitting = {k.canonical_model for k in candidates if k.vram_gb in sizes}
        if len(fitting) > 1:
            return _unknown(vendor, f"several memory sizes: {'|'.join(sorted(fitting))}", vram)
    if "interface" in conflicts:
        return _unknown(vendor, f"{f.interface} {mention.label} is not in the registry", vram)
    if vendor_words and vendor not in vendor_words:
        return _unknown(None, f"{best.canonical_model} contradicts the vendor words", vram)
    if kind is not None:
        match_type, score = kind, 0.75
    elif source == "evidence":
        match_type, score = "pattern", 0.8
    else:
        match_type, score = _classify(idx, title, best.canonical_model)
        if conflicts:
            score = min(score, 0.75)
    detail = f"{mention.label} -> {best.canonical_model} ({source} evidence)"
    return Match(
        best.canonical_model, match_type, score, vendor, True, None, vram, f.stated, detail
    )


def _inferred(idx: _Index, tied: list[ModelKey]) -> Match | None:
    """The variant a title without a memory size most likely means, by one documented rule.

    Only for consumer cards whose siblings differ by memory alone (GTX 1060 3/6GB, RTX 3060
    8/12GB, RTX 3080 10/12GB, RX 580 4/8GB): the first-launched variant, and among variants
    launched the same year the larger memory (the launch and volume SKU: a Founders Edition
    RTX 3080 only shipped with 10 GB, the RTX 3060 launched as 12 GB). Work-station and
    data-center siblings (A2000 6/12GB, A100 40/80GB) differ too much in price to guess.
    """
    specs = idx.registry.specs
    shapes = {(k.family, k.number, k.prefix, k.suffixes, k.markers, k.interface) for k in tied}
    if len(shapes) != 1 or any(specs.at[k.canonical_model, "segment"] != "consumer" for k in tied):
        return None

    def launch(key: ModelKey) -> tuple[float, float]:
        year = specs.at[key.canonical_model, "launch_year"]
        return (float(year) if pd.notna(year) else 9999.0, -(key.vram_gb or 0.0))

    ordered = sorted(tied, key=launch)
    pick = ordered[0]
    others = "|".join(k.canonical_model for k in ordered[1:])
    detail = f"no memory size: {pick.canonical_model} inferred (first launched), also {others}"
    return Match(
        pick.canonical_model,
        "inferred",
        INFERRED_SCORE,
        pick.vendor,
        True,
        None,
        None,
        None,
        detail,
        "|".join(k.canonical_model for k in ordered),
    )


def _multi_gpu_system(title: _Title) -> bool:
    """Is a multi-GPU system ("6 GPU mining rig") what is sold, not where a card comes from
    ("RTX 3070 from a 6 GPU rig", "ex 8-card mining farm")?"""
    found = _MULTI_GPU_SYSTEM.search(title.text)
    if found is None:
        return False
    before = _GAP_WORD.findall(title.text[: found.start()])[-2:]
    return _ORIGIN_WORDS.isdisjoint(before)


def _feature(texts: list[str], i: int) -> bool:
    """Is the accessory word at token ``i`` a feature of the card ("SLI Support", "Polychrome
    SYNC", "G-Sync", "Aura Sync RGB"), not an accessory sold ("SLI bridge", "Quadro Sync II")?"""
    word = texts[i]
    before = texts[i - 1] if i > 0 else ""
    after = texts[i + 1] if i + 1 < len(texts) else ""
    if word == "SLI":
        return after in _FEATURE_AFTER
    return word == "SYNC" and before in _SYNC_FEATURES


def _has_phrase(title: _Title, phrases: tuple[tuple[str, ...], ...]) -> bool:
    if title.text_set.isdisjoint(_phrase_heads(phrases)):
        return False  # the common case, without building the title's word pairs
    spans = set(_pairs(title.texts))
    return any(phrase in spans for phrase in phrases)


def _system_phrase(title: _Title) -> bool:
    """A SYSTEM_PHRASES phrase that is the listing: not "for gaming PC" and not followed by the
    words of a card ("Desktop PC graphics card")."""
    texts = title.texts
    if title.text_set.isdisjoint(_phrase_heads(SYSTEM_PHRASES)):
        return False
    for i, pair in enumerate(_pairs(texts)):
        if pair not in SYSTEM_PHRASES:
            continue
        named_for = i > 0 and texts[i - 1] in _FOR_WORDS
        after = texts[i + 2] if i + 2 < len(texts) else ""
        if not (named_for or after in CARD_ADJECTIVES or after in CARD_NOUNS or after in GPU_WORDS):
            return True
    return False


@functools.cache
def _phrase_heads(phrases: tuple[tuple[str, ...], ...]) -> frozenset[str]:
    """The first words of ``phrases``: a title without any of them has none of the phrases."""
    return frozenset(phrase[0] for phrase in phrases)


def _gpu_brand_position(title: _Title) -> int | None:
    for i, tok in enumerate(title.tokens):
        if tok.text in GPU_BRAND_WORDS:
            return i
    return None


def _gpu_evidence(title: _Title) -> bool:
    """Does the title say it is a graphics card, whether or not the model is known?"""
    texts = title.texts
    words = title.text_set
    if words & GPU_BRAND_WORDS or words & GPU_WORDS or words & GPU_PARTNERS.keys():
        return True
    if {"ARC", "INTEL"} <= words or {"TESLA", "NVIDIA"} <= words:
        return True
    if any(kind == "card" for kind, _ in title.lex):
        return True
    if words & CARD_ADJECTIVES and any(
        a in CARD_ADJECTIVES and b in CARD_NOUNS for a, b in _pairs(texts)
    ):
        return True
    return _LEGACY_SERIES.search(title.text) is not None and bool(
        words & BOARD_BRANDS or title.vendors or title.memory or words & LEGACY_FAMILIES.keys()
    )


def _alias_match(idx: _Index, title: _Title, context: bool) -> str | None:
    """The first alias, longest first, that the title's words hold. An alias held opens with
    one of the title's words (both are words between spaces), so only the aliases opening with
    one are tried, in their order: not every alias of the registry, a substring test each."""
    padded = f" {' '.join(title.words)} "
    by_word = idx.aliases_by_word
    tried = sorted(a for w in title.word_set if w in by_word for a in by_word[w])
    for _, alias, model in tried:
        if alias in padded:
            if not context and _SHORT_TOKEN.match(alias.strip()):
                continue  # "Galaxy A10": a short data-center alias needs GPU words
            return model
    return None


def _fuzzy(idx: _Index, title: _Title) -> Match | _Pending | None:
    """Last resort, guarded: one vendor, the same model digits, one model left, a high ratio."""
    vendors = title.vendors
    if len(vendors) != 1:
        return None
    vendor = next(iter(vendors))
    tokens = title.tokens
    sizes = {gb for _, gb in title.memory if gb >= 1}
    for i, tok in enumerate(tokens):
        if not tok.num or len(tok.text) < 3:
            continue
        keys = [k for k in idx.digits_index.get(tok.text, []) if k.vendor == vendor]
        if sizes:
            keys = [k for k in keys if k.vram_gb is None or k.vram_gb in sizes]
        lookups = {k.lookup for k in keys}
        if len(lookups) != 1:
            continue  # A100/V100/P100 share digits: never guess between them
        first = max(0, tokens[i].word - 3)
        window = " ".join(title.words[first : tokens[i].word + 3])
        ratio = max(
            (
                max(fuzz.token_set_ratio(alias, window), fuzz.partial_ratio(alias.strip(), window))
                for k in keys
                for alias in idx.aliases_by_id.get(k.canonical_model, [])
            ),
            default=0.0,
        )
        if ratio < _FUZZY_THRESHOLD:
            continue
        variants, unknown = _variant_window(title, idx, i, family_number=True)
        mention = _Mention(i, vendor, keys, variants, f"~{keys[0].number}", unknown)
        return _resolve(idx, title, mention, len(tokens), kind="fuzzy")
    return None


# CONTEXT_WORDS by the reject reason they give when they come before the model.
_CONTEXT_KIND = {
    **dict.fromkeys(("COOLER", "HEATSINK", "FAN", "FANS", "COOLING"), "cooler"),
    **dict.fromkeys(
        ("ADAPTER", "BRACKET", "MOUNT", "NVLINK", "USB", "KIT", "SOFTWARE", "LICENSE", "LICENCE"),
        "accessory",
    ),
    **dict.fromkeys(("SUBSCRIPTION",), "accessory"),
}
_LAPTOP_WORDS = frozenset({"LAPTOP", "NOTEBOOK"})
# "Open box" is a condition (clean reads it as condition open_box), not the retail box alone.
_OPEN_BOX = re.compile(r"(?<![A-Z0-9])OPEN[\s\-]*$")
_GAP_WORD = re.compile(r"[^\W_]+")
_GLUED_MODEL = re.compile(r"\d{3,4}(?:TI|S|SUPER|XT|XTX|GRE)")
# A part named at the end of the title, right after the card, is what the listing sells:
# English, German, Nordic and Hungarian put the head noun last ("RTX 3080 cooler", "RTX 3080
# hűtő", "RTX 4090 FE box"). Words that may follow it without changing that, words before it
# that make it a description of the card ("3 ventiladores", "twin fan", "new in box"), and
# marks that end the card's clause ("RTX 3080, quiet cooler").
_TAIL_WORDS = frozenset(
    {"ONLY", "REPLACEMENT", "NEW", "USED", "ORIGINAL", "OEM", "STOCK", "SET", "ASSEMBLY"}
    | {"PART", "PARTS", "NUR", "KUN", "CSAK", "TYLKO", "ΜΟΝΟ", "ТОЛЬКО"}
    | {"PCS", "PC", "PIECES", "STK", "STÜCK", "DB", "SZT", "ШТ", "X"}
)
_DESCRIBING_WORDS = frozenset(
    {"DUAL", "DOUBLE", "TWIN", "TRIPLE", "TRI", "QUAD", "IN", "NIB", "AIO"}
    # "neu OVP", "new box", "ny eske": a condition, the card comes in its box
    | {"NEU", "NEW", "NY", "NYTT", "NUEVO", "NOVO", "NEUF", "NUOVO", "ÚJ", "SEALED"}
)
_CLAUSE_BREAKS = frozenset(",;()[]|")
# A power rating (300-1999 W, "750W", "GP-P650B(650W)"): in an extra sold with a card it names a
# power supply ("RTX 3070 + Antec 650W Gold").
_RATED_POWER = re.compile(r"(?<!\d)(?:[3-9]\d\d|1\d\d\d)\s?W(?![A-Z0-9])")
# Words before a picture word that make it a description of the listing's photos ("see
# photos", "real pictures", "ver fotos", "stock photo"), not the picture sold.
_PICTURE_REMARKS = frozenset(
    {"SEE", "SEEN", "ACTUAL", "REAL", "MORE", "CHECK", "VIEW", "LOOK", "WITH", "W", "IN", "READ"}
    | {"ORIGINAL", "OWN", "STOCK", "AS", "PER", "ON", "NO", "ALL", "VER", "VEJA", "SIEHE", "SE"}
    | {"VOIR", "ZOBACZ", "DETAILED", "MY", "OUR"}
)
# Parts of a card that cards are sold with and advertise ("10GB GDDR6X, metal backplate"):
# named after a described card they are its features, not the accessory alone.
_CARD_PARTS = frozenset({"BACKPLATE", "WATERBLOCK"})
# AMD's A-series APUs (A10-7850K, A8 6500, A12-9800E) are CPUs: their "A10" is not the NVIDIA
# A10, and their Radeon graphics are no card.
_AMD_APU = re.compile(r"(?<![A-Z0-9])A(?:4|6|8|9|10|12)[-\s]?\d{4}[A-Z]{0,2}(?![A-Z0-9])")
_APU_WORDS = frozenset({"AMD", "APU", "RADEON"})


def _picture_listing(title: _Title, offsets: list[int]) -> bool:
    """Does a picture word name what is sold ("RTX 3060 Ti FE jpg", "Picture of RTX 3080",
    "RTX 3090 XC3 pictures"), not the listing's photos ("see photos", "real pictures")?"""
    for at in offsets:
        before = _GAP_WORD.findall(title.text[max(0, at - 24) : at])[-2:]
        if _PICTURE_REMARKS.isdisjoint(before):
            return True
    return False


def _psu_bundle(title: _Title, lead: int, psus: list[int]) -> bool:
    """Is a power supply sold with the card ("RTX 3070 + 750W PSU", "GTX 1660 + Antec NE550
    (550W)")? A PSU word or a power rating after a with-word that follows the card."""
    if any(_with_extra(title, lead, off) for off in psus):
        return True
    withs = [off for kind, off in title.lex if kind == "with" and off >= lead]
    return bool(withs) and _RATED_POWER.search(title.text, withs[0]) is not None


def _card_part(title: _Title, i: int, anchor: int) -> bool:
    """Is the card part at token ``i`` (backplate, waterblock) a feature of the card named
    before it: after the card, not the head noun nor made "for" it, and the card described
    in between (a memory size, a card word, or a mark that ends the card's clause)?"""
    at, start = title.offset(i), title.offset(anchor)
    if at <= _lead(title, anchor) or _made_for(title, at, anchor) or _head_part(title, at, anchor):
        return False
    described = any(pos < i for pos, _ in title.memory) or any(
        kind == "card" and off < at for kind, off in title.lex
    )
    return described or not _CLAUSE_BREAKS.isdisjoint(title.text[start:at])


def _with_extra(title: _Title, lead: int, at: int) -> bool:
    """Is the word at offset ``at`` an extra sold with a card named before it ("RTX 3080 w/
    waterblock", "Видеокарта с водоблоком")?"""
    return any(kind == "with" and lead <= off < at for kind, off in title.lex)


def _made_for(title: _Title, at: int, anchor: int) -> bool:
    """Is the word at offset ``at`` the thing sold "for" the card named after it ("Graphics
    card cooling fan for ASUS RTX 3060", "вентилятор для GTX 1060")? A card word before it
    ("graphics card") then describes what the part fits, not what is sold."""
    end = title.offset(anchor)
    return at < end and not _FOR_WORDS.isdisjoint(_GAP_WORD.findall(title.text[at:end]))


def _wanted_section(title: _Title, anchor: int) -> bool:
    """Is the card named in the "[W]" (want) part of a swap-forum title ("[H] PayPal [W] RTX
    3070"), the "[H]" (have) part being what is offered?"""
    at = title.offset(anchor)
    want = title.text.rfind("[W]", 0, at)
    return want >= 0 and title.text.find("[H]", want, at) < 0


def _sold_for(title: _Title, anchor: int) -> bool:
    """Is the title "<a product> for <card>" ("Alphacool Eisblock für RTX 3080", "EKWB Vector
    for ASUS RTX 4090"): words naming no card, then a for-word, then at most brand words before
    the card? What is sold is the product, made for the card."""
    if title.word_set.isdisjoint(_FOR_WORDS) and title.text.isascii():
        return False  # the common case (FÜR, ΓΙΑ, ДЛЯ are not ASCII words: looked for below)
    at = title.offset(anchor)
    words = _GAP_WORD.findall(title.text[:at])
    fors = [i for i, w in enumerate(words) if w in _FOR_WORDS]
    if not fors or fors[-1] == 0:
        return False
    head, brands = words[: fors[-1]], words[fors[-1] + 1 :]
    if len(brands) > 3 or not all(w in _BRAND_WORDS for w in brands):
        return False
    if any(kind == "card" and off < at for kind, off in title.lex):
        return False
    return not any(w in _CARD_EVIDENCE or w.isdigit() for w in head)


def _opens_for(title: _Title) -> bool:
    """Does the title open with "for" ("Para MSI RTX 3070 ... ventoinha", "For RTX 3080 FE
    cooler", "Til RTX 3090 vifte")? Then a part it names is sold for the card, wherever it is."""
    first = _GAP_WORD.search(title.text)
    return first is not None and first.group(0) in _FOR_WORDS


def _head_part(title: _Title, at: int, anchor: int) -> bool:
    """Is the part word at offset ``at`` the head noun after the card's name ("RTX 3080 hűtő",
    "RTX 3060 Ti baffle", "RTX 4090 FE box", "RTX 3070 videókártya hűtő")? Not when a card word
    heads the title (it comes before the part, and not just before it as a modifier: "Placa de
    vídeo RTX 3060 ventoinhas", "... Video Card NVIDIA Double Fans"), a mark ends the card's
    clause first, a number or count word describes the card's own part, or other words than
    "only", "replacement", counts follow it."""
    start = title.offset(anchor)
    if at <= start or any(
        kind == "card" and off < at and len(_GAP_WORD.findall(title.text[off:at])) > 2
        for kind, off in title.lex
    ):
        return False  # "Placa de vídeo RTX 4070 ventoinhas": the card word heads the title
    if not _CLAUSE_BREAKS.isdisjoint(title.text[start:at]) or " - " in title.text[start:at]:
        return False
    before = _GAP_WORD.findall(title.text[start:at])
    after = _GAP_WORD.findall(title.text[at:])[1:]
    if not _ORIGIN_WORDS.isdisjoint(before[-3:]):
        return False  # "RTX 3070 from a mining rig": where the card comes from
    if len(before) > 1 and (before[-1] in _DESCRIBING_WORDS or before[-1].isdigit()):
        return False
    return all(word in _TAIL_WORDS or word.isdigit() for word in after)


def _second_item(idx: _Index, title: _Title, mentions: list[_Mention]) -> _Mention | None:
    """A different model named after the first as another item ("RX 570, RX 580", "HD 5450 и
    GeForce 8600 GT"), not as a remark ("for RTX A6000", "like a 4060 Ti", "vs 3080"). In a
    swap ad (byttes, tausche, csere, trade...) every other model is the card wanted in exchange:
    the ad names two cards, whatever word joins them ("for", "mot", "gegen", "με")."""
    first = mentions[0]
    swap = any(kind == "swap" for kind, _ in title.lex)
    for other in mentions[1:]:
        if _model(other) == _model(first):
            continue
        gap = title.text[title.offset(first.start) : title.offset(other.start)]
        if not _standalone(title, other) and not _dash_range(idx, gap):
            continue  # a piece of a part number ("RX-665X8TBDY", "912-V397-019") is no item
        if swap:
            return other  # "Tausche RTX 3070 gegen RX 6800", "trade 3070 for 6800": two cards
        words = set(_GAP_WORD.findall(gap))
        if words & _RANGE_CLOSERS and _range_opened(title, first):
            return other  # "от GTX1060 до GTX1080Ti": checked before "to" reads as a remark
        if words & _REMARK_WORDS:
            return None
        if words & _ITEM_JOINERS or any(c in gap for c in ",/&+;") or _dash_range(idx, gap):
            return other
        if _only_model_words(idx, _GAP_WORD.findall(gap)[1:]):
            return other  # "RTX 3080 3090", "rtx 3060 3060ti": the series word serves both
        return _listed(title, mentions)
    return None


def _model(mention: _Mention) -> tuple[str, frozenset[str]]:
    """What tells two mentions' models apart: the number and its variant words ("RTX 4070" and
    "4070 Ti" are two cards; "RTX 4080 SUPER" and "RTX4080S" one)."""
    return mention.label, mention.variants


def _only_model_words(idx: _Index, words: list[str]) -> bool:
    """Are these words only series, variant, memory words and model names glued to their
    variant ("4060TI", "4070S"), what a list of models is made of?"""
    return all(
        w in idx.variant_words
        or _GLUED_MODEL.fullmatch(w)
        or w in idx.families
        or w in WEAK_FAMILIES
        or w in LEGACY_FAMILIES
        or _MEMORY_WORD.fullmatch(w)
        for w in words
    )


def _dash_range(idx: _Index, gap: str) -> bool:
    """Is the gap from the first model to the next one only that model's words, a dash and a
    series word ("1060-1080ti", "GTX 1070 - GTX 1080", "RTX 3080 10GB - RTX 3090")? A dash inside
    a part number or after other words ("Storm X 4GB (NE5105T018G1-1070F)") is no range."""
    if _RANGE_DASHES.isdisjoint(gap):
        return False
    head, _, tail = gap.partition(next(c for c in gap if c in _RANGE_DASHES))
    return _only_model_words(idx, _GAP_WORD.findall(head)[1:] + _GAP_WORD.findall(tail))


def _standalone(title: _Title, mention: _Mention) -> bool:
    """Is the mention's word a model name of its own ("GTX1060TI", "8600GT", "1070"), not a
    piece of a code (three or more pieces, or hyphenated to other letters and digits)?"""
    word = title.tokens[mention.start].word
    pieces = sum(1 for t in title.tokens if t.word == word)
    return pieces <= _MAX_NAME_PIECES and not title.joined(word)


def _range_opened(title: _Title, first: _Mention) -> bool:
    """Does a range word ("от", "from", "von") come just before the first model's series word,
    and no remark word before it ("upgrade from GTX 1060 to RTX 3060" sells the RTX 3060)?"""
    before = _GAP_WORD.findall(title.text[: title.offset(first.start)])[-4:]
    return not _RANGE_OPENERS.isdisjoint(before) and _REMARK_WORDS.isdisjoint(before)


def _listed(title: _Title, mentions: list[_Mention]) -> _Mention | None:
    """The third different model of a plain list ("GTX 460 GTX 560 GTX 660"), when no remark
    word separates the models; None for two models side by side (too little to call a list)."""
    labels: list[tuple[str, frozenset[str]]] = []
    for mention in mentions:
        if not _standalone(title, mention):
            continue  # a piece of a part number ("(NE5105T018G1-1070F)") lists nothing
        if _model(mention) not in labels:
            labels.append(_model(mention))
        if len(labels) == _LIST_MIN_MODELS:
            gap = title.text[title.offset(mentions[0].start) : title.offset(mention.start)]
            if set(_GAP_WORD.findall(gap)) & _REMARK_WORDS:
                return None
            return mention
    return None


def _lead(title: _Title, anchor: int) -> int:
    """Offset where the listing first names a card: its first model mention or card word."""
    return min([title.offset(anchor), *(off for kind, off in title.lex if kind == "card")])


def _lexicon_reason(title: _Title, anchor: int, mentioned: bool) -> Match | None:
    """The not-a-card reasons the lexicon words give (box, system, accessory, cooler, bundle),
    or a laptop's GPU module; None when the lexicon says nothing against a card."""
    if not title.lex:
        return None
    kinds = title.kinds()
    lead = _lead(title, anchor)
    offsets: dict[str, list[int]] = {}
    for kind, off in title.lex:
        offsets.setdefault(kind, []).append(off)
    boxes = [
        off
        for off in offsets.get("box", [])
        if not _OPEN_BOX.search(title.text[:off]) and not _with_extra(title, lead, off)
    ]
    if boxes and (
        "empty" in kinds or min(boxes) <= lead or any(_head_part(title, b, anchor) for b in boxes)
    ):
        return _not_gpu("the box of a card", "box")
    if (
        "picture" in kinds
        and (mentioned or "card" in kinds)
        and _picture_listing(title, offsets["picture"])
    ):
        return _not_gpu("a picture of a card", "picture")
    laptop = not _LAPTOP_WORDS.isdisjoint(title.words) or "laptop" in kinds
    system_before = [
        off
        for off in offsets.get("system", [])
        if off < lead or _head_part(title, off, anchor)  # "RX 580 8GB mining rig"
    ]
    if laptop or system_before:
        if not kinds.isdisjoint(("module", "mxm")) or ("card" in kinds and not system_before):
            return _unknown(None, "a laptop GPU module: no desktop id")
        return _not_gpu("a system with a card inside", "system")
    if not kinds.isdisjoint(("mobile", "mxm")) and mentioned:  # not the desktop RTX 3060
        vendors = title.vendors
        return _unknown(next(iter(vendors)) if len(vendors) == 1 else None, "a laptop GPU")
    if ("psu" in kinds or "with" in kinds) and (mentioned or "card" in kinds):
        psus = offsets.get("psu", [])
        if _psu_bundle(title, lead, psus):
            return _not_gpu("a card sold with a power supply", "bundle")
        if psus:
            return _not_gpu("a power supply for a card", "accessory")
    elif "psu" in kinds:
        return _not_gpu("a power supply", "accessory")
    extras = [off for off in offsets.get("accessory", []) if not _with_extra(title, lead, off)]
    if extras:
        return _not_gpu("an accessory for a card", "accessory")
    coolers = [off for off in offsets.get("cooler", []) if not _with_extra(title, lead, off)]
    if coolers and (
        min(coolers) < lead
        or "empty" in kinds
        or _opens_for(title)
        or any(_made_for(title, c, anchor) or _head_part(title, c, anchor) for c in coolers)
    ):
        return _not_gpu("a cooler for a card", "cooler")  # "with Accelero cooler" stays a card
    if "bundle" in kinds and (mentioned or "card" in kinds):
        return _not_gpu("a card sold with a motherboard or CPU", "bundle")
    return None


def _analyse(idx: _Index, raw_title: str) -> Match | _Pending:
    title = _tokenize(raw_title, idx)
    texts = title.texts
    kinds = title.kinds()
    if not texts and not kinds:
        return _not_gpu("empty title")
    if "wanted" in kinds:
        return _not_gpu("a wanted-to-buy ad", "wanted")
    if "service" in kinds:
        return _not_gpu("a service, not a card", "service")
    if not title.word_set.isdisjoint(_APU_WORDS) and _AMD_APU.search(title.text):
        return _not_gpu("an AMD A-series APU, a CPU")
    context = bool(title.vendors) or _gpu_evidence(title)
    mentions = _mentions(title, idx, context)
    brand = _gpu_brand_position(title)
    anchor = mentions[0].start if mentions else (brand if brand is not None else len(texts))
    if "[W]" in title.text and _wanted_section(title, anchor):
        return _not_gpu("the card is what the ad wants ([W])", "wanted")
    lexicon = _lexicon_reason(title, anchor, bool(mentions))
    if lexicon is not None:
        return lexicon
    hard = (
        [
            w
            for i, w in enumerate(texts)
            if w in ACCESSORY_WORDS
            and not _feature(texts, i)
            and not (w in _CARD_PARTS and mentions and _card_part(title, i, anchor))
        ]
        if title.text_set & ACCESSORY_WORDS
        else []
    )
    if hard and "with" in kinds:
        lead = _lead(title, anchor)
        hard = [w for w in hard if not _with_extra(title, lead, title.offset(texts.index(w)))]
    if hard or _has_phrase(title, ACCESSORY_PHRASES):
        laptop = [w for w in hard if w in _LAPTOP_WORDS]
        if laptop:
            return _not_gpu(f"a {laptop[0].lower()} with a card inside", "system")
        return _not_gpu(f"accessory: {' '.join(hard) or 'phrase'}", "accessory")
    if (
        _system_phrase(title)
        or not title.text_set.isdisjoint(SYSTEM_WORDS)
        or (("GPU" in title.text or "CARD" in title.text) and _multi_gpu_system(title))
    ):
        return _not_gpu("a PC or a multi-GPU system with a card inside", "system")
    before = (
        [w for w in texts[:anchor] if w in CONTEXT_WORDS] if title.text_set & CONTEXT_WORDS else []
    )
    if before and "card" in kinds:
        lead = _lead(title, anchor)
        before = [
            w
            for w in before
            if (at := title.offset(texts.index(w))) < lead or _made_for(title, at, anchor)
        ]
    if before:
        kind = _CONTEXT_KIND.get(before[0], "system")
        return _not_gpu(f"{' '.join(before)} before any GPU model", kind)
    if mentions and _sold_for(title, anchor):
        return _not_gpu("a product made for the card named after 'for'", "accessory")
    if len(mentions) > 1:
        other = _second_item(idx, title, mentions)
        if other is not None:
            return _not_gpu(f"{mentions[0].label} and {other.label}", "multi_item")
    if mentions:
        # The first mention's text runs until a different model is named ("T1000 4 GB/8 GB").
        later = [m.start for m in mentions[1:] if m.label != mentions[0].label]
        return _resolve(idx, title, mentions[0], later[0] if later else len(texts))
    model = _alias_match(idx, title, context)
    if model is not None:
        vendor = idx.registry.vendor_of(model)
        vendors = title.vendors
        if not vendors or vendor in vendors:
            vram = title.memory[0][1] if title.memory else None
            return Match(model, "alias", 0.95, vendor, True, None, vram, None, f"alias of {model}")
    fuzzy = _fuzzy(idx, title)
    if fuzzy is not None:
        return fuzzy
    if _gpu_evidence(title):
        vendors = title.vendors
        vendor = next(iter(vendors)) if len(vendors) == 1 else None
        return _unknown(vendor, "GPU words without a registry model")
    return _not_gpu("no GPU model or GPU words")


def _evidence_vram(idx: _Index, texts: Iterable[str]) -> float | None:
    sizes: list[float] = []
    for text in texts:
        if text:
            sizes.extend(gb for _, gb in _tokenize(text, idx).memory if gb >= 1)
    return sizes[0] if len(set(sizes)) == 1 else None


def _cached(idx: _Index, title: str) -> Match | _Pending:
    hit = idx.cache.get(title)
    if hit is None:
        hit = _analyse(idx, title)
        _keep(idx, title, hit)
    return hit


def _keep(idx: _Index, title: str, outcome: Match | _Pending) -> None:
    if len(idx.cache) >= _CACHE_LIMIT:
        _clear(idx)
    idx.cache[title] = outcome


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    return str(value)


def _with_evidence(idx: _Index, pending: _Pending, hints: tuple[Any, ...]) -> Match:
    key = (pending.title.text, _text(hints[0]), _text(hints[1]), _text(hints[2]))
    hit = idx.evidence_cache.get(key)
    if hit is not None:
        return hit
    result: Match = pending.base
    vram = _evidence_vram(idx, key[1:])
    if vram is not None:
        resolved = _resolve(
            idx, pending.title, pending.mention, len(pending.title.tokens), evidence_vram=vram
        )
        result = resolved.base if isinstance(resolved, _Pending) else resolved
    idx.evidence_cache[key] = result
    return result


def match_title(
    title: Any,
    model_hint: Any = None,
    brand_hint: Any = None,
    notes: Any = None,
    registry: Registry | None = None,
) -> Match:
    """Match one listing title; the hints only decide what the title leaves open."""
    idx = _index(registry)
    result = _match_cached(idx, title)
    if isinstance(result, _Pending):
        return _with_evidence(idx, result, (model_hint, brand_hint, notes))
    return result


def title_facts(title: Any, registry: Registry | None = None) -> Match:
    """The title-only reading (memory size and interface the title states), cached."""
    return match_title(title, registry=registry)


def _clear(idx: _Index) -> None:
    idx.cache.clear()
    idx.evidence_cache.clear()
    idx.parts.clear()


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series(None, index=frame.index, dtype=object)


def normalize(
    clean: pd.DataFrame,
    registry: Registry | None = None,
    analyse_new: Callable[[list[str]], None] | None = None,
    titles: ChunkTitles | None = None,
) -> pd.DataFrame:
    """Add MATCH_COLUMNS to cleaned rows; row errors pass through with null match columns.

    Each distinct title is matched once (and cached for the process); only titles that leave
    the memory size open look at model_hint, brand_hint and bulk_notes, once per combination.
    ``analyse_new`` is handed the distinct titles not cached yet, to analyse them and
    :func:`keep_titles` the outcomes first (in other processes: ``TitleHelpers``); it works on
    the default registry, as those functions do. ``titles``: the chunk's :func:`chunk_titles`,
    if the caller has them already.
    """
    if analyse_new is not None and registry is not None:
        raise ValueError("analyse_new analyses against the default registry; pass no registry")
    idx = _index(registry)
    out = clean  # new columns only (``with_columns``): the input frame is not modified
    n = len(out)
    columns = {
        "canonical_model": np.full(n, None, dtype=object),
        "match_type": np.full(n, None, dtype=object),
        "match_score": np.full(n, np.nan, dtype=float),
        "vendor": np.full(n, None, dtype=object),
        "is_gpu": np.full(n, None, dtype=object),
        "reject_reason": np.full(n, None, dtype=object),
        "match_alternatives": np.full(n, None, dtype=object),
    }
    positions, codes, distinct = titles or chunk_titles(out)
    if len(positions):
        if analyse_new is not None:
            new = _unanalysed(distinct, idx)
            if new:
                analyse_new(new)
        known = idx.cache.get  # a title already analysed is its own key: no _text, no strip
        outcomes: list[Match | _Pending] = [known(t) or _match_cached(idx, t) for t in distinct]
        outcomes.append(_not_gpu("no title"))  # code -1
        table = np.array(
            [(o if isinstance(o, Match) else o.base).row() for o in outcomes], dtype=object
        )
        _assign(columns, positions, table[codes])
        pending = [c for c, o in enumerate(outcomes) if isinstance(o, _Pending)]
        if pending:
            mask = np.isin(codes, pending)
            rows = positions[mask]
            hints = pd.DataFrame(
                {c: _column(out, c).iloc[rows].map(_text).to_numpy() for c in HINT_COLUMNS}
            )
            hints.insert(0, "code", codes[mask])
            sub_codes = hints.groupby(list(hints.columns), sort=False).ngroup().to_numpy()
            firsts = hints.drop_duplicates()
            resolved = []
            for code, *values in firsts.itertuples(index=False, name=None):
                item = outcomes[int(code)]
                assert isinstance(item, _Pending)
                resolved.append(_with_evidence(idx, item, tuple(values)).row())
            _assign(columns, rows, np.array(resolved, dtype=object)[sub_codes])
    return with_columns(out, columns)


def _unanalysed(distinct: list[Any], idx: _Index) -> list[str]:
    """The titles among ``distinct`` (cells) that this process has not analysed."""
    cache = idx.cache  # a cell analysed before is a str and its own key: nothing to convert
    texts = (t if type(t) is str else _text(t) for t in distinct if t not in cache)
    return [t for t in texts if t not in cache and t.strip()]


class ChunkTitles(NamedTuple):
    """A cleaned chunk's titles, factorized once: the rows ``normalize`` matches (those
    without a row error), each one's code into ``distinct`` (-1: no title)."""

    positions: np.ndarray
    codes: np.ndarray
    distinct: list[Any]


def chunk_titles(clean: pd.DataFrame) -> ChunkTitles:
    """The chunk's :class:`ChunkTitles` (factorized in C, on the Arrow text as it is)."""
    positions = np.flatnonzero(_column(clean, "error_stage").isna().to_numpy())
    codes, uniques = pd.factorize(_column(clean, "title").iloc[positions], use_na_sentinel=True)
    return ChunkTitles(positions, codes, np.asarray(uniques, dtype=object).tolist())


def new_titles(clean: pd.DataFrame | ChunkTitles) -> list[str]:
    """The distinct titles of a cleaned chunk's rows (those ``normalize`` matches) that this
    process has not analysed yet, against the default registry: what a caller can have
    analysed elsewhere before it normalizes the chunk."""
    titles = clean if isinstance(clean, ChunkTitles) else chunk_titles(clean)
    return _unanalysed(titles.distinct, _index())


# A title's outcome before the other columns are read: a Match, or a title that waits for
# their evidence. Opaque outside this module: it only travels between processes and caches.
TitleOutcome = Match | _Pending


def analyse_titles(titles: list[str], registry: Registry | None = None) -> list[TitleOutcome]:
    """Each title's outcome, analysed (and cached) in this process."""
    idx = _index(registry)
    return [_cached(idx, title) for title in titles]


def analysed_titles(registry: Registry | None = None) -> int:
    """How many titles this process holds analysed (its cache), against ``registry``."""
    return len(_index(registry).cache)


def keep_titles(
    titles: list[str], outcomes: list[TitleOutcome], registry: Registry | None = None
) -> None:
    """Cache outcomes another process analysed, so ``normalize`` reads them as its own."""
    idx = _index(registry)
    for title, outcome in zip(titles, outcomes, strict=True):
        _keep(idx, title, outcome)


def _match_cached(idx: _Index, title: Any) -> Match | _Pending:
    """Title-only outcome from the process cache (normalize's per-distinct-title step)."""
    text = _text(title)
    return _cached(idx, text) if text.strip() else _not_gpu("no title")


def _assign(columns: dict[str, np.ndarray], rows: np.ndarray, values: np.ndarray) -> None:
    for j, name in enumerate(MATCH_COLUMNS):
        columns[name][rows] = values[:, j].astype(float) if name == "match_score" else values[:, j]


__all__ = [
    "MATCH_TYPES",
    "Match",
    "NOT_GPU",
    "TitleOutcome",
    "UNKNOWN_MODEL",
    "analyse_titles",
    "analysed_titles",
    "keep_titles",
    "ChunkTitles",
    "chunk_titles",
    "match_title",
    "new_titles",
    "normalize",
    "title_facts",
]
