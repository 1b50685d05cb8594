"""The established market report (``ReportDTO``): summary statistics of the warehouse, the
models with the best scores, and the weights the score uses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from glyph_assets.sieve.score import ScoreConfig
from glyph_assets.store import warehouse
from glyphd_api.service import Context


class MarketReport(BaseModel):
    """The established ``ReportDTO``: the report as Markdown and its parts as data."""

    markdown: str
    summary_stats: dict[str, str]
    top_ranked: list[str]
    scoring_weights: dict[str, float]


def build_report(ctx: Context, top: int = 10) -> MarketReport:
    stats = warehouse.warehouse_stats(ctx.engine)
    ranked = warehouse.top_ranked_models(ctx.engine, top)
    weights = {
        name.removeprefix("score_") + "_weight": value
        for name, value in ScoreConfig().weights().items()
    }
    summary = {key: _text(value) for key, value in stats.items()}
    lines = ["# GPU market report", "", "## Summary", ""]
    lines += [f"- {key.replace('_', ' ')}: {value}" for key, value in summary.items()]
    lines += ["", f"## Top {top} models by best score", ""]
    if ranked:
        lines += ["| model | best score | listings | median price |", "| --- | --- | --- | --- |"]
        lines += [
            f"| {r['canonical_model']} | {r['best_score']:.1f} | {r['listings']} | "
            f"{_text(r['median_price'])} |"
            for r in ranked
        ]
    else:
        lines.append("No scored listings yet.")
    lines += ["", "## Scoring weights", ""]
    lines += [f"- {name}: {value:g}" for name, value in weights.items()]
    return MarketReport(
        markdown="\n".join(lines) + "\n",
        summary_stats=summary,
        top_ranked=[r["canonical_model"] for r in ranked],
        scoring_weights=weights,
    )


def _text(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)
