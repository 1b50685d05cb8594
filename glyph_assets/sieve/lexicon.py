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
Russian, Polish, Czech, Portuguese, Spanish, French, Italian, Dutch; Chinese and Japanese words
(``CJK_LEXICON``) are found anywhere in a title, as those scripts put no spaces between words.
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
        "refrigerador",  # pt/es: a cooler
        "kuhlkorper",  # de Kühlkörper: a heatsink
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
        "bolster$",  # a card jack ("graphics card bolster")
        "uchwyt",  # pl holder / bracket / support
        "wspornik",
        "podporka",
        "halter$",  # de
        "stutze$",
        "suporte para",  # pt/es/it supports
        "suporte de placa",
        "suporte de gpu",
        "suporte gpu",
        "soporte para",
        "soporte de gpu",
        "soporte gpu",
        "supporto",
        "eisblock",  # de Alphacool's water block line
        "thermal paste",  # pastes and pads
        "warmeleitpaste",
        "pasta termica",
        "pasta termiczna",
        "termopasta",
        "термопаст",
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
    # a power supply: for a card it is an accessory, sold with a card ("RTX 3070 + 750W PSU")
    # it makes the listing a bundle of two components
    "psu": (
        "psu$",
        "psus$",
        "power supply",
        "netzteil",
        "stromforsyning",
        "natagg",  # sv nätaggregat
        "tapegyseg",
        "τροφοδοτικ",
        "блок питания",
        "бп$",
        "zasilacz",
        "fonte de alimentacao",
        "fuente de alimentacion",
        "alimentation$",
        "alimentatore",
        "voeding$",
        "80 plus",
    ),
    # a picture of a card sold as the card (a scam of the 2020-2021 shortage): an image file,
    # a photo, a print. "see photos", "real pictures" describe a card's listing (see
    # normalize._picture_listing).
    "picture": (
        "picture$",
        "pictures$",
        "photo$",
        "photos$",
        "image$",
        "images$",
        "img$",
        "jpg$",
        "jpeg$",
        "png$",
        "pic$",
        "pics$",
        "printed$",
        "foto$",
        "fotos$",
        "zdjecie$",
        "фото$",
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
        # gaming laptop lines: the line name with its model number (Legion alone is also a
        # game, ROG Strix and TUF Gaming are also card lines, Nitro+ a Sapphire card)
        "legion 5",
        "legion 7",
        "legion pro",
        "legion slim",
        "legion y",
        "loq$",
        "rog strix g1",
        "rog strix g5",
        "rog strix g7",
        "rog strix scar",
        "strix scar",
        "rog flow",
        "tuf gaming a1",
        "tuf gaming f1",
        "tuf dash",
        "nitro 5$",
        "nitro 16",
        "nitro 17",
        "nitro an",
        "predator helios",
        "predator triton",
        "omen 15",
        "omen 16",
        "omen 17",
        "omen transcend",
        "victus",
        "katana gf",
        "katana 15",
        "katana 17",
        "sword 15",
        "stealth 15",
        "stealth 16",
        "raider ge",
        "pulse gl",
        "crosshair 15",
        "dell g15",
        "dell g16",
        "aorus 15",
        "aorus 17",
        "alienware m1",
        "alienware x1",
        "razer blade",
        "xps 15",
        "xps 17",
        "ideapad gaming",
    ),
    # a laptop GPU on its own (an MXM board, a "mobile" chip): a GPU without a desktop id;
    # "mobile" with a laptop named is the laptop's GPU, an MXM board is a module either way
    "mxm": ("mxm$", "mxm3", "mxm2"),
    "mobile": ("mobile$", "mobil$"),
}
KINDS = tuple(LEXICON)
# Chinese and Japanese titles do not put spaces between words, so these are found anywhere in
# the title (longest first), not at word starts. Words that also name a card's own features
# (風扇 fan in 雙風扇 "twin fan", 背板 backplate, 水冷 water-cooled) are left out.
CJK_LEXICON: dict[str, str] = {
    **dict.fromkeys(
        ("顯示卡", "显示卡", "顯卡", "显卡", "繪圖卡", "绘图卡", "グラフィックボード", "グラボ"),
        "card",
    ),
    **dict.fromkeys(
        ("支架", "支撐架", "支撑架", "千斤頂", "千斤顶", "橋接器", "桥接器", "轉接盒", "转接盒")
        + ("顯示盒", "显示盒", "外接顯卡", "外接显卡", "延長線", "延长线", "轉接線", "转接线")
        + ("水冷頭", "水冷头", "ライザー"),
        "accessory",
    ),
    # power supplies, and the 80 Plus grades only power supplies are sold by (金牌 gold, 銅牌
    # bronze)
    **dict.fromkeys(("電源供應器", "电源供应器", "電源", "电源", "電源ユニット"), "psu"),
    **dict.fromkeys(("金牌", "銅牌", "铜牌", "白金牌", "鈦金牌", "钛金牌"), "psu"),
    # a free gift or an extra with the card (送 "given with", 贈 "gift")
    **dict.fromkeys(("送", "贈", "赠"), "with"),
    **dict.fromkeys(("散熱器", "散热器", "顯卡風扇", "显卡风扇", "クーラー"), "cooler"),
    **dict.fromkeys(("空盒", "包裝盒", "包装盒", "外盒", "空箱", "元箱"), "box"),
    **dict.fromkeys(("收購", "收购", "求購", "求购"), "wanted"),
    **dict.fromkeys(("維修", "维修", "修理"), "service"),
    **dict.fromkeys(("主機板", "主机板", "主板", "處理器", "处理器", "マザーボード"), "bundle"),
    **dict.fromkeys(
        ("主機", "主机", "電腦", "电脑", "整機", "整机", "桌機", "礦機", "矿机", "パソコン"),
        "system",
    ),
    **dict.fromkeys(("筆電", "笔电", "筆記型", "笔记本", "ノートパソコン"), "laptop"),
}
CJK = re.compile("[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
_CJK_SCAN = re.compile("|".join(sorted(map(re.escape, CJK_LEXICON), key=len, reverse=True)))

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
    ascii_text = text.isascii()
    folded = text.lower() if ascii_text else fold(text)
    cjk = not ascii_text and CJK.search(text) is not None
    if _PROBE.isdisjoint(map(_HEAD_OF, _WORDS.findall(folded))) and not cjk:
        return []  # the common case: no lexicon word at all
    exact = len(folded) == len(text)  # a rare script whose folding changes length: offset 0
    found: list[tuple[str, int]] = []
    if cjk:
        found.extend(
            (CJK_LEXICON[m.group(0)], m.start() if exact else 0) for m in _CJK_SCAN.finditer(folded)
        )
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
    if cjk:
        found.sort(key=operator.itemgetter(1))
    return found


__all__ = ["CJK", "CJK_LEXICON", "KINDS", "LEXICON", "fold", "scan"]
