"""Words that say what a listing is, in the languages GPU listings come in.

Why a lexicon: a model number says which card a title is about, not whether the listing sells
that card. "Empty box for RTX 4080", "kaufe RTX 3080", "Gamer-PC mit RTX 3070", "Ферма на 8
видеокарт RX 580" all name a card and sell something else. Each kind below is one reason a
user can filter on (``reject_reason = not_gpu:<kind>``); ``card`` is the opposite signal, the
local word for "graphics card", which makes a bare number ("Grafikkarte 3060") a GPU mention.

The words are matched as word prefixes (so inflections match: видеокарта/видеокарты/
видеокарту), case-insensitively, on the title after accents are folded. One compiled regular
expression scans a title once; the scan result is a list of (kind, character offset).

Languages covered: English, German, Norwegian/Swedish/Danish, Finnish, Hungarian, Greek,
Russian, Polish, Czech, Portuguese, Spanish, French, Italian, Dutch.
"""

from __future__ import annotations

import operator
import re
import unicodedata

# kind -> word prefixes (lower case, accents folded). A prefix ending in "$" must be the whole word.
LEXICON: dict[str, tuple[str, ...]] = {
    # the local word for graphics card: a GPU, even without a series word before the number
    "card": (
        "grafikkart",  # de Grafikkarte, no/sv/da grafikkort
        "grafikkort",
        "skjermkort",  # no skjermkort
        "grafische kaart",
        "ekran kart",  # tr ekran karti
        "graficka kartic",  # hr/sr/sl graficka kartica
        "vaizdo plokst",
        "відеокарт",
        "grafikus kartya",
        "videokart",  # hu videokartya, ru translit
        "videokaart",
        "naytonohjain",
        "karta graficzn",
        "karta graficka",
        "graficka karta",
        "placa de video",
        "placa video",
        "placa grafica",
        "tarjeta grafica",
        "tarjeta de video",
        "carte graphique",
        "scheda video",
        "scheda grafica",
        "καρτα γραφικων",
        "καρτες γραφικων",
        "видеокарт",
        "видео карт",
        "видеоускорител",
        "graphics card",
        "graphic card",
        "video card",
        "gpu$",
    ),
    "wanted": (
        "wtb$",
        "wanted$",
        "looking for",
        "want to buy",
        "kaufe$",
        "suche$",
        "gesucht$",
        "kjoper$",
        "kjopes$",
        "kjope$",
        "onsker$",
        "lf$",
        "sokes$",
        "kopes$",
        "onskes kjopt",
        "soker$",
        "koper$",
        "kobes$",
        "ostetaan$",
        "keresek$",
        "keresem$",
        "veszek$",
        "vennek$",
        "ζητειται",
        "ζηταω",
        "αγοραζω",
        "куплю$",
        "ищу$",
        "kupie$",
        "poszukuj",
        "szukam$",
        "koupim$",
        "compro$",
        "procuro$",
        "busco$",
        "cherche$",
        "recherche$",
        "achete$",
        "cerco$",
        "gezocht$",
        "zoek$",
        "buying$",
        "ζητω$",
    ),
    # a swap ad: with a second, different card named it offers one card for another
    "swap": (
        "byttes$",
        "bytte$",
        "bytes$",
        "tausche$",
        "tausch$",
        "trade$",
        "swap$",
        "csere",
        "ανταλλαγ",
        "обмен",
        "меняю$",
        "wymienie$",
        "zamienie$",
        "troco$",
        "cambio$",
        "echange$",
        "scambio$",
    ),
    "service": (
        "repair",
        "reballing",
        "reflow",
        "reparatur",
        "reparasjon",
        "reparation",
        "reparatie",
        "korjaus",
        "javitas",
        "szerviz",
        "επισκευ",
        "ремонт",
        "naprawa",
        "oprava",
        "conserto",
        "reparo$",
        "reparacion",
        "riparazione",
        "diagnostic",
    ),
    "box": (
        "box$",
        "boxes$",
        "packaging",
        "verpackung",
        "karton$",
        "ovp$",  # de Originalverpackung: "mit OVP" is an extra, "nur OVP" the box
        "leerkarton",
        "originalkarton",
        "originalverpackung",
        "eske$",
        "esken$",
        "emballasje",
        "forpackning",
        "doboz",
        "κουτι",
        "коробк",
        "pudelko",
        "pudelk",
        "opakowan",
        "krabice",
        "caixa",
        "caja$",
        "scatola",
        "laatikko",
        "emballage",
        "boite$",
    ),
    "empty": (
        "only$",
        "empty$",
        "leer",
        "nur$",
        "tom$",
        "tomt$",
        "tomme$",
        "ures$",
        "αδει",
        "пуст",
        "без карт",
        "без видеокарт",
        "pusty$",
        "puste$",
        "pusta$",
        "prazdna$",
        "vazi",
        "vacia$",
        "vuota$",
        "vide$",
        "no card",
        "no gpu",
        "without card",
        "without gpu",
    ),
    "cooler": (
        "cooler$",
        "coolers$",
        "heatsink",
        "shroud",
        "baffle",
        "fan$",
        "fans$",
        "gpu fan",
        "gpu cooler",
        "кулер",
        "куллер",
        "охлажден",
        "вентилятор",
        "радиатор",
        "lufter",
        "kuhler",
        "wasserkuhler",
        "grafikkartenkuhler",
        "grafikkartenlufter",
        "skjermkortvifte",
        "vannkjoler",
        "kylare",
        "flakt$",
        "vizhuto",
        "vifte",
        "kjoler",
        "huto$",
        "ventilator",
        "ψυκτρ",
        "ανεμιστηρ",
        "wentylator",
        "chlodzenie",
        "chladic",
        "ventoinha",
        "dissipador",
        "ventilador",
        "disipador",
        "ventirad",
        "ventilateur",
        "radiateur",
        "refroidiss",
        "dissipatore",
        "ventola",
        "watercooler",
        "water cooler",
        "refrigeraca",  # pt refrigeração
        "refrigeracion",
        "radiador",
        "fa da placa",  # pt "fã da placa de vídeo": a fan
        "fa de placa",
        "fa para",
    ),
    "accessory": (
        "riser",
        "корпус",
        "райзер",
        "рейзер",
        "переходник",
        "кабел",
        "шлейф",
        "коннектор",
        "разветвител",
        "кронштейн",
        "док-станц",
        "водоблок",
        "блок питания",
        "бп$",
        "netzteil",
        "stromforsyning",
        "tapegyseg",
        "τροφοδοτικ",
        "zasilacz",
        "fonte de alimentacao",
        "fuente de alimentacion",
        "alimentatore",
        "psu$",
        "halterung",
        "grafikkartenhalter",
        "grafikkartenstutze",
        "skjermkortholder",
        "skjermkortstotte",
        "grafikkortshallare",
        "mining frame",
        "rig frame",
        "open air frame",
        "brakett",
        "tarto$",
        "slot cover",
        "support bracket",
        "gpu bracket",
        "gpu mount",
        "gpu support",
        "gpu stand",
        "gpu sag",
        "gpu holder",
        "egpu",
        "enclosure",
        "dock$",
        "docking",
        "gearbox",
        "emulator",
        "bloco de agua",  # pt/es/pl/no/hu water blocks
        "bloco de gpu",
        "bloco da gpu",
        "bloco gpu",
        "bloque de agua",
        "blok wodny",
        "vannblokk",
        "vizblokk",
        "placa traseira",  # pt backplate
        "io shield",
        "i/o shield",
        "escudo$",
        "blende$",
        "substituic",  # pt "placa de substituição": a spare part
        "reposicao",
        "repuesto",
        "ersatzteil",
        "эмулятор",
    ),
    "system": (
        "gaming pc",
        "gamer pc",
        "gamer-pc",
        "gaming-pc",
        "pc gamer",
        "komplett pc",
        "komplett-pc",
        "desktop pc",
        "mini pc",
        "gamingpc",
        "gamerpc",
        "gaming computer",
        "gamer computer",
        "spill pc",
        "spillpc",
        "speldator",
        "gamingdator",
        "dator$",
        "komplettsystem",
        "komplett system",
        "komplettrechner",
        "konfig$",
        "pc completo",
        "pc da gaming",
        "pc de gaming",
        "pc gaming",
        "stasjoner$",
        "stasjonaer",
        "datamaskin",
        "rechner$",
        "szamitogep",
        "υπολογιστ",
        "компьютер",
        "системный блок",
        "системник",
        "computador",
        "ordenador",
        "ordinateur",
        "komputer",
        "zestaw komputerowy",
        "tietokone",
        "pocitac",
        "ноутбук",
        "laptop",
        "notebook",
        "ферма",
        "ферму",
        "ферме",
        "фермы",
        "риг$",
        "mining rig",
        "mining farm",
        "rig$",
    ),
    "bundle": (
        "motherboard",
        "mainboard",
        "mobo$",
        "материнск",
        "мать$",
        "mutterbrett",
        "hovedkort",
        "moderkort",
        "emolevy",
        "alaplap",
        "μητρικ",
        "plyta glowna",
        "zakladni deska",
        "placa mae",
        "placa-mae",
        "placa base",
        "carte mere",
        "scheda madre",
        "moederbord",
        "ryzen",
        "athlon",
        "xeon$",
        "pentium",
        "phenom",
        "celeron",
        "процессор",
        "prozessor",
        "processzor",
        "επεξεργαστ",
        "processador",
        "procesador",
        "procesor",
    ),
    # a card sold together with an extra ("w/ waterblock", "mit OVP", "с водоблоком")
    "with": (
        "with$",
        "w$",
        "m$",  # no "m/ eske"
        "incl",
        "inkl",
        "including",
        "included",
        "mit$",
        "med$",
        "с$",
        "со$",
        "+$",
        "plus$",
        "com$",
        "con$",
        "avec$",
        "z$",
        "ze$",
        "egyutt",
        "dobozzal",  # hu: the box suffixed "with" (dobozzal, dobozával, dobozostul)
        "dobozaval",
        "dobozostul",
        "μαζι",
        "με$",
    ),
    # a laptop's GPU module is a GPU (no desktop id), not a laptop
    "module": ("для ноутбука", "ноутбука$", "видеочип", "module$", "modul$"),
    # a laptop wherever it is named (a laptop's GPU module is the exception, see "module")
    "laptop": (
        "mobile workstation",
        "kannettava",
        "φορητ",
        "berbar$",
        "barbar$",
        # laptop lines whose name is the laptop
        "thinkpad",
        "zbook",
        "macbook",
        "ideapad",
        "vivobook",
        "zenbook",
        "zephyrus",
        "elitebook",
        "probook",
        "latitude",
        "inspiron",
    ),
    # a laptop GPU on its own (an MXM board, a "mobile" chip): a GPU without a desktop id;
    # "mobile" with a laptop named is the laptop's GPU, an MXM board is a module either way
    "mxm": ("mxm$", "mxm3", "mxm2"),
    "mobile": ("mobile$", "mobil$"),
}
KINDS = tuple(LEXICON)

# Letters NFD does not decompose, folded to one letter so that offsets stay put: Nordic ø/æ
# (kjøper -> kjoper, æske -> eske), Polish ł (pudełko -> pudelko), đ, and Russian ё.
_FOLD = str.maketrans("ёЁøØæÆłŁđĐ", "еЕoOeElLdD")


def fold(text: str) -> str:
    """Lower case without accents (vídeo -> video, κάρτα -> καρτα), same length as ``text``
    for the scripts listings use, so offsets found here point into the upper-cased title."""
    decomposed = unicodedata.normalize("NFD", text.translate(_FOLD))
    out = "".join(c for c in decomposed if not unicodedata.combining(c))
    return out.lower()


def _entry(prefix: str) -> re.Pattern[str]:
    whole = prefix.endswith("$")
    body = re.escape(prefix.rstrip("$")).replace(r"\ ", r"[\s\-/]+")
    return re.compile(body + (r"(?!\w)" if whole else ""))


_HEAD = 4


def _index() -> tuple[dict[str, list[tuple[re.Pattern[str], str]]], dict[str, str]]:
    """Entries by the first four characters of their first word (the whole first word when it
    is shorter: such words must be whole, as in "gpu bracket", "box$"), longest entry first
    (so a compound such as grafikkartenhalterung is the holder, not the card word it starts
    with); one-word entries shorter than three characters by the whole word. Four characters
    keep common title words (Radeon, Pro, blower, Instinct, Data Center) off entries that share
    three with them (radiador, probook, bloco, inspiron, dator)."""
    heads: dict[str, list[tuple[int, re.Pattern[str], str]]] = {}
    short: dict[str, str] = {}
    for kind, words in LEXICON.items():
        for entry in words:
            prefix = fold(entry)  # as titles are folded: "системный" -> "системныи"
            body = prefix.rstrip("$")
            first = re.split(r"[\s\-/]", body)[0]
            if body == first and len(body) < 3:
                short.setdefault(body, kind)
            else:
                heads.setdefault(first[:_HEAD], []).append((len(body), _entry(prefix), kind))
    ordered = {
        head: [(pattern, kind) for _, pattern, kind in sorted(entries, key=lambda e: -e[0])]
        for head, entries in heads.items()
    }
    return ordered, short


_HEADS, _SHORT = _index()
_WORDS = re.compile(r"[^\W_]+|\+")
# The first four characters of a word (the whole word when shorter) that can start an entry:
# a title none of whose words has one is skipped without per-word Python work.
_PROBE = frozenset(_HEADS) | frozenset(_SHORT)
_HEAD_OF = operator.itemgetter(slice(0, _HEAD))


def scan(text: str) -> list[tuple[str, int]]:
    """(kind, offset) for every lexicon word in ``text``, in reading order.

    Each word of the title is looked up by its first four characters, so a title costs a few
    dictionary look-ups, not a pass of every lexicon entry over it."""
    folded = text.lower() if text.isascii() else fold(text)
    if _PROBE.isdisjoint(map(_HEAD_OF, _WORDS.findall(folded))):
        return []  # the common case: no lexicon word at all
    exact = len(folded) == len(text)  # a rare script whose folding changes length: offset 0
    found: list[tuple[str, int]] = []
    for m in _WORDS.finditer(folded):
        word, at = m.group(0), m.start()
        kind = _SHORT.get(word)
        if kind is None:
            for pattern, candidate in _HEADS.get(word[:_HEAD], ()):
                if pattern.match(folded, at):
                    kind = candidate
                    break
        if kind is not None:
            found.append((kind, at if exact else 0))
    return found


__all__ = ["KINDS", "LEXICON", "fold", "scan"]
