"""Title rules that generalise across marketplaces and languages (issue 15): each rule is
tested on made-up titles in several languages, and with the opposite error (a real card whose
title uses the same words stays that card). The titles are tables under
tests/fixtures/titles/title_rules/, each row naming the rule it tests (the test's id)."""

from __future__ import annotations

import pytest

from glyph_assets.sieve.lexicon import fold, scan
from glyph_assets.sieve.normalize import NOT_GPU, match_title
from tests.support.cases import cases

TABLES = "titles/title_rules"


def assert_rejected(title: str, reason: str) -> None:
    """The title is no card, for ``reason``; a failure shows the matcher's detail."""
    match = match_title(title)
    assert (match.is_gpu, match.reject_reason) == (False, reason), match.detail


def assert_card(title: str, model: str | None) -> None:
    """The title is the card ``model`` (None: no card); a failure shows the matcher's detail."""
    match = match_title(title)
    assert match.canonical_model == model, match.detail


@pytest.mark.parametrize(
    ("title", "model"), cases(f"{TABLES}/cards.csv", "title", "model", blank_is_none={"model"})
)
def test_a_title_names_the_card_its_rule_finds(title: str, model: str | None) -> None:
    assert_card(title, model)


@pytest.mark.parametrize(("title", "reason"), cases(f"{TABLES}/rejected.csv", "title", "reason"))
def test_a_title_that_sells_no_card_is_rejected_for_its_rule(title: str, reason: str) -> None:
    assert_rejected(title, reason)


@pytest.mark.parametrize(
    ("title", "model", "reason"),
    cases(f"{TABLES}/outcomes.csv", "title", "model", "reason", blank_is_none={"model", "reason"}),
)
def test_a_rule_decides_between_the_card_and_no_card(
    title: str, model: str | None, reason: str | None
) -> None:
    """The model and the reject reason together; a GPU is any title not rejected as not_gpu
    (an unknown model, a card from a rig, a forum title that has the card)."""
    match = match_title(title)
    assert (match.canonical_model, match.reject_reason) == (model, reason), match.detail
    assert match.is_gpu is not (reason or "").startswith(NOT_GPU)


def test_nordic_and_polish_letters_fold_to_one_letter() -> None:
    assert fold("KJØPER ÆSKE PUDEŁKO") == "kjoper eske pudelko"
    assert len(fold("Grafikkortshållare ØÆŁ")) == len("Grafikkortshållare ØÆŁ")


def test_a_compound_word_is_read_by_its_longest_entry() -> None:
    assert scan("grafikkartenhalterung") == [("accessory", 0)]
    assert scan("grafikkarte") == [("card", 0)]
    assert scan("skjermkortholder") == [("accessory", 0)]


def test_a_laptop_gpu_board_alone_is_an_unknown_gpu() -> None:
    match = match_title("RTX 3070 Laptop MXM Type B 8GB")
    assert (match.is_gpu, match.canonical_model, match.reject_reason) == (
        True,
        None,
        "unknown_model",
    )


def test_a_hyphenated_word_opened_by_a_letter_is_no_variant() -> None:
    assert match_title("Lian Li strimer RTX 4090 D-RGB 12VHPWR cable").canonical_model is None
    assert match_title("Asus TUF RTX 4080 D-RGB 16GB").canonical_model == "RTX_4080"
    assert match_title("Colorful RTX-4090-D-Vulcan 24GB").canonical_model == "RTX_4090D"


def test_a_swap_for_a_card_of_another_vendor_names_two_cards() -> None:
    match = match_title("Bytte Asus RTX 3060 Ti mot 6700 XT")  # XT names AMD's card
    assert match.reject_reason == "not_gpu:multi_item"


def test_lexicon_heads_of_four_letters_keep_common_words_out() -> None:
    assert scan("radeon pro instinct data center blower") == []
    assert scan("radiador bloco de agua probook") == [
        ("cooler", 0),
        ("accessory", 9),
        ("laptop", 23),
    ]
    assert scan("mxm3.0 gpu") == [("mxm", 0), ("card", 7)]


def test_an_image_format_without_a_card_is_no_picture_of_a_card() -> None:
    assert match_title("AMX JPEG 2000 4K60 Encoder").reject_reason == "not_gpu:accessory"
