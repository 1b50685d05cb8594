"""A stable key per listing, so the same item can be followed across imports.

The same eBay item or shop product is scraped again and again; its price changes, it
disappears when sold, new ones appear. ``listing_key`` names it the same way every time:

1. **The marketplace's item id** when the URL carries one: eBay ``/itm/<id>`` (with or without a
   title slug) is ``ebay:<id>``, whatever tracking parameters follow.
2. **The normalised URL** otherwise: no scheme (``http`` and ``https`` are one), host lower-case
   without ``www.``, no fragment, no tracking parameters (``utm_*``, ``gclid``, ``fbclid``,
   ``ref``, eBay's ``_trk*``/``hash``/``itmmeta``, ...), the other parameters sorted, no trailing
   slash. A Shopify ``handle`` (a URL without a host) is qualified by the seller.
3. **No URL**: seller + normalised title + canonical model, within one source (the import's
   source label): the best identity a plain price sheet offers.

A URL that several rows of one chunk share (a search page, a category page) does not identify
one listing: those rows' keys are qualified by their title as well. A row with neither a URL nor
a title (an already-scored DTO row) gets no key: it cannot be followed. Keys are hashed to a
fixed, URL-safe length (``u-`` for URL keys, ``t-`` for text keys) so that they can be used in a
path and indexed cheaply.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from glyph_assets.sieve.clean import empty_as_null, stripped_or_null

# The columns a listing key is made of (what ``listing_keys`` reads).
KEY_INPUTS: list[str] = ["source_url", "seller", "title", "canonical_model"]
KEY_CHARS = 20  # hex characters of the digest kept: 80 bits, no collision in practice
TRACKING_PARAMS = re.compile(
    r"^(utm_.*|gclid|gbraid|wbraid|fbclid|msclkid|mc_[ce]id|ref|ref_|referrer|source|"
    r"_trk.*|_ul|hash|itmmeta|mkevt|mkcid|mkrid|campid|customid|toolid|siteid|amdata|"
    r"epid|_skw|srsltid|spm|scm|trk|tracking)$",
    re.IGNORECASE,
)
EBAY_ITEM = re.compile(r"(?:^|\.)ebay\.[a-z.]+$")
EBAY_ITEM_PATH = re.compile(r"/itm/(?:[^/]+/)?(\d{9,15})(?:[/?]|$)")
_SPACES = re.compile(r"\s+")


def _digest(prefix: str, text: str) -> str:
    return prefix + hashlib.sha1(text.encode("utf-8")).hexdigest()[:KEY_CHARS]  # noqa: S324


# The common shape, ``http(s)://host/path?query#fragment`` with a lower-case ASCII host and no
# port, user or characters that ``urlsplit`` would drop: split by one regex, ``urlsplit`` parses
# the rest. Both give the same host, path and query for what the regex accepts.
_PLAIN_URL = re.compile(r"https?://([a-z0-9.-]+)(/[^?#\t\r\n]*)?(?:\?([^#\t\r\n]*))?(?:#.*)?")
_SLASHES = re.compile(r"/+")


def normalize_url(url: str) -> str | None:
    """The identity a URL carries (see the module docstring), or None for no URL."""
    text = url.strip()
    if not text:
        return None
    plain = _PLAIN_URL.fullmatch(text)
    if plain is not None:
        host, path, query = plain.group(1), plain.group(2) or "", plain.group(3) or ""
    else:
        parts = urlsplit(
            text if "//" in text else f"//{text}" if "." in text.split("/")[0] else text
        )
        host, path, query = (parts.hostname or "").lower(), parts.path or "", parts.query
    host = host.removeprefix("www.")
    path = _SLASHES.sub("/", path).rstrip("/")
    if host and EBAY_ITEM.search(host):
        item = EBAY_ITEM_PATH.search(path + "/")
        if item:
            return f"ebay:{item.group(1)}"
    params = sorted(
        (k, v) for k, v in parse_qsl(query, keep_blank_values=True) if not TRACKING_PARAMS.match(k)
    )
    query = f"?{urlencode(params)}" if params else ""
    return f"{host}{path}{query}" if host else f"{path}{query}" or None


def normalize_title(title: str) -> str:
    """Case, accents, punctuation and runs of spaces do not make another listing."""
    text = unicodedata.normalize("NFKC", title).casefold()
    text = re.sub(r"[^\w]+", " ", text)
    return _SPACES.sub(" ", text).strip()


def _text(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def _texts(frame: pd.DataFrame, column: str) -> list[str]:
    """A column's cells as text ("" for a missing cell or column), one list per column."""
    if column not in frame:
        return [""] * len(frame)
    return [v if type(v) is str else _text(v) for v in frame[column].astype(object).tolist()]


# An eBay item URL in the plain shape ``normalize_url`` reads with ``_PLAIN_URL`` and whose
# item id it finds: the same regex structure (optional slug tried first, 9-15 digits), anchored
# and without whitespace, so where this matches, ``normalize_url`` returns ``ebay:<id>``.
# Anything else (an upper-case host, ``//`` in the path, a longer id) goes through
# ``normalize_url`` itself.
#
# Printable ASCII only (``[!-~]``; the slug: that less ``/``, ``?`` and ``#``): RE2's ``\d`` and
# ``\s`` are ASCII where Python's are Unicode (other scripts' digits; ``\xa0``, ``\x0b`` and
# ``\x1c``, which ``str.strip`` also removes), so a URL holding anything else is left to
# ``normalize_url``. eBay's own URLs are percent-encoded ASCII.
_EBAY_ITEM_URL = (
    r'^https?://(?:[a-z0-9-]+\.)*ebay\.[a-z.]+/itm/(?:[!"$-.0->@-~]+/)?(?P<item>[0-9]{9,15})'
    r"(?:[/?#][!-~]*)?$"
)


# "//" after the scheme: ``normalize_url`` reads the path with its slashes collapsed, so such a
# URL ("/itm/123456789//987654321") is left to it.
_DOUBLED_SLASH = r"^[a-z]+://.*//"


def _ebay_items(text: pa.Array) -> pa.Array:
    """The item id of each URL ``_EBAY_ITEM_URL`` matches (null for the others): the id the
    regex captures, taken apart by Arrow's string kernels instead (a regex that captures cost
    twice the match and the splits). After ``/itm/`` and up to ``?`` or ``#``, the path's
    second segment is the id when it is all digits (9-15: the regex tries the slug first),
    else the first."""
    matched = pc.and_(
        pc.fill_null(pc.match_substring_regex(text, _EBAY_ITEM_URL), False),
        pc.invert(pc.fill_null(pc.match_substring_regex(text, _DOUBLED_SLASH), False)),
    )
    urls = text.filter(matched)
    after = pc.list_element(pc.split_pattern(urls, "/itm/", max_splits=1), 1)
    path = pc.list_element(pc.split_pattern_regex(after, "[?#]", max_splits=1), 0)
    segments = pc.split_pattern(pc.binary_join_element_wise(path, "/", ""), "/", max_splits=2)
    first, second = pc.list_element(segments, 0), pc.list_element(segments, 1)
    items = pc.if_else(pc.match_substring_regex(second, r"^\d{9,15}$"), second, first)
    return pc.replace_with_mask(pa.nulls(len(text), pa.string()), matched, items)


def _column(frame: pd.DataFrame, column: str) -> pa.Array:
    """A column as Arrow text, "" and missing as null (an Arrow-backed column is not copied)."""
    if column in frame and isinstance(frame[column].dtype, pd.StringDtype):
        text = pa.array(frame[column], type=pa.string())
        if isinstance(text, pa.ChunkedArray):
            text = text.combine_chunks()
    else:
        text = pa.array(_texts(frame, column), type=pa.string())
    return empty_as_null(text)


def normalized_urls(frame: pd.DataFrame) -> pa.Array:
    """``normalize_url`` of every row's ``source_url`` (null for no URL).

    Scraped files give nearly every row its own URL, so a per-row ``normalize_url`` was most of
    the listing keys' cost (4.5 s of a 1,000,000-row file here). eBay item URLs in the plain
    shape are read column-wise in Arrow (``_ebay_items``); the rest go through
    ``normalize_url`` once per distinct value."""
    text = _column(frame, "source_url")
    urls = pc.binary_join_element_wise("ebay:", _ebay_items(text), "")
    rest = pc.and_(pc.is_null(urls), pc.is_valid(text))
    if pc.any(rest).as_py():
        codes, distinct = pd.factorize(text.filter(rest).to_numpy(zero_copy_only=False))
        found = np.array([normalize_url(u) for u in distinct], dtype=object)[codes]
        urls = pc.replace_with_mask(urls, rest, pa.array(found, type=pa.string()))
    return urls


def _casefolded(values: pa.Array) -> pa.Array:
    """``str.casefold`` of every value, computed once per distinct value (sellers repeat)."""
    encoded = pc.dictionary_encode(values)
    folded = pa.array([v.casefold() for v in encoded.dictionary.to_pylist()], type=pa.string())
    return folded.take(encoded.indices)


def listing_keys(frame: pd.DataFrame, source: str = "") -> pd.Series:
    """``listing_key`` for every row of a cleaned (and matched) frame; None where the row has no
    identity at all.

    A row whose URL no other row of the frame shares (nearly every row of a scrape) is keyed
    column-wise: its URL's owner, then one digest. The others (shared URLs, rows without a URL)
    are keyed one distinct (url, seller, title, model) at a time by ``_key``, the rule itself."""
    urls = normalized_urls(frame)
    repeated = pd.Series(pd.arrays.ArrowExtensionArray(urls)).duplicated(keep=False).to_numpy()
    alone = pc.and_(pc.is_valid(urls), pa.array(~repeated)).to_numpy(zero_copy_only=False)
    keys = np.full(len(frame), None, dtype=object)
    if alone.any():
        mine = urls.filter(alone)
        sellers = pc.fill_null(_column(frame, "seller").filter(alone), "")
        # a URL with a host (or an eBay item) names the listing; a bare path (a Shopify handle)
        # is the seller's own
        qualified = pc.match_substring_regex(mine, r"^(?:[^/]*\.|ebay:)")
        owners = pc.if_else(qualified, "", _casefolded(sellers))
        sha1 = hashlib.sha1
        keys[alone] = [
            "u-" + sha1(text.encode()).hexdigest()[:KEY_CHARS]  # noqa: S324
            for text in pc.binary_join_element_wise(owners, mine, "|").to_pylist()
        ]
    # neither a URL nor a title (an already-scored DTO row): nothing to follow, no key
    titled = pc.is_valid(stripped_or_null(_column(frame, "title")))
    rest = ~alone & pc.or_(pc.is_valid(urls), titled).to_numpy(zero_copy_only=False)
    if rest.any():
        shared_urls = urls.filter(rest).to_pylist()
        part = frame.loc[rest]
        sellers, titles, models = (_texts(part, c) for c in ("seller", "title", "canonical_model"))
        memo: dict[tuple[str | None, str, str, str], str | None] = {}
        out: list[str | None] = []
        for url, seller, title, model in zip(shared_urls, sellers, titles, models, strict=True):
            shared = url is not None  # a URL several rows share: a search or category page
            wanted = (url, seller, title if (shared or not url) else "", model if not url else "")
            key = memo.get(wanted, memo)
            if key is memo:
                key = memo[wanted] = _key(url, seller, title, model, source, shared)
            out.append(key)  # type: ignore[arg-type]
        keys[rest] = out
    return pd.Series(keys, index=frame.index, dtype=object)


def _key(
    url: str | None, seller: str, title: str, model: str, source: str, shared: bool
) -> str | None:
    if url:
        owner = "" if "." in url.split("/")[0] or url.startswith("ebay:") else seller.casefold()
        base = f"{owner}|{url}"
        return _digest("u-", f"{base}|{normalize_title(title)}" if shared else base)
    if not title.strip():
        return None
    return _digest(
        "t-", "|".join([source.casefold(), seller.casefold(), normalize_title(title), model])
    )


__all__ = ["KEY_INPUTS", "listing_keys", "normalize_title", "normalize_url"]
