"""Figures for the case studies (notebook 07): where the parameters live, ILSVRC errors.

These functions only draw what they are given: layer kinds come from the one classifier
`cnncourse.aids.summary.layer_kind` (via `SummaryRow.kind`) or from the caller, parameter
counts from `cnncourse.aids` or the notebook. Learning curves are drawn by
`cnncourse.viz.training.plot_history`. matplotlib is imported inside each drawing function, so
importing this module is cheap. The helpers without a leading ``plot_`` are plain logic
(colours, bar labels) with unit tests.
"""
from __future__ import annotations

from typing import Sequence

__all__ = ["KIND_COLORS", "bar_colors", "shares", "plot_layer_params", "plot_ilsvrc_errors"]

# One colour per layer family (the kinds of cnncourse.aids.summary.LAYER_KINDS that hold
# parameters), so conv and FC bars read apart at a glance; every other kind is gray.
KIND_COLORS = {"conv": "tab:blue", "fc": "tab:orange", "norm": "tab:green", "other": "tab:gray"}


def bar_colors(kinds: Sequence[str]) -> list[str]:
    """Matplotlib colours for a list of kinds ('conv', 'fc', 'norm'; anything else -> gray)."""
    return [KIND_COLORS.get(kind, KIND_COLORS["other"]) for kind in kinds]


def shares(params: Sequence[int]) -> list[float]:
    """Each count's fraction of the sum: out[i] = params[i] / sum(params).

    Inputs: N non-negative counts with a positive sum. Output: N floats summing to 1.
    """
    counts = [int(p) for p in params]
    if any(c < 0 for c in counts):
        raise ValueError(f"parameter counts must be non-negative, got {counts}")
    total = sum(counts)
    if total == 0:
        raise ValueError("all parameter counts are 0, so shares are undefined")
    return [c / total for c in counts]


def plot_layer_params(names: Sequence[str], params: Sequence[int], kinds: Sequence[str], *,
                      title: str | None = None, log: bool = False, ax=None):
    """Bar chart of parameters per layer, conv bars and FC bars in different colours, each bar
    labelled with its share of the total (e.g. AlexNet's fc6 holds 62% of all weights).

    Inputs: names and params, N layer names and their parameter counts; kinds, N layer kinds
    ('conv', 'fc', ...: `SummaryRow.kind` of `cnncourse.summary`'s rows, or written by the
    caller); log puts the y axis on a log scale (to see the small conv layers beside the FC
    giants).
    Output: the matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    if len(names) != len(params):
        raise ValueError(f"{len(names)} names but {len(params)} parameter counts")
    if len(kinds) != len(names):
        raise ValueError(f"{len(kinds)} kinds for {len(names)} layers")
    fractions = shares(params)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(names) + 2), 3.8))
    positions = range(len(names))
    bars = ax.bar(positions, [int(p) for p in params], color=bar_colors(kinds))
    for bar, fraction in zip(bars, fractions):
        if fraction >= 0.005:
            ax.annotate(f"{100 * fraction:.1f}%", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=7)
    ax.set_xticks(list(positions))
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("parameters")
    if log:
        ax.set_yscale("log")
    total = sum(int(p) for p in params)
    by_kind = {}
    for kind, count in zip(kinds, params):
        by_kind[kind] = by_kind.get(kind, 0) + int(count)
    legend = [plt.Rectangle((0, 0), 1, 1, color=KIND_COLORS.get(k, KIND_COLORS["other"]))
              for k in by_kind]
    ax.legend(legend, [f"{k}: {v:,} ({100 * v / total:.1f}%)" for k, v in by_kind.items()],
              fontsize=8, loc="upper left")
    ax.set_title(title or f"parameters per layer (total {total:,})")
    ax.figure.tight_layout()
    return ax


def plot_ilsvrc_errors(labels: Sequence[str], errors: Sequence[float], *,
                       highlight: Sequence[str] = (), ax=None):
    """Bar chart of ILSVRC top-5 classification error (%) by entry.

    Inputs: labels, N strings such as '2012\\nAlexNet'; errors, N percentages; highlight, the
    labels to draw in a stronger colour (e.g. the CNN winners). Output: the matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    if len(labels) != len(errors):
        raise ValueError(f"{len(labels)} labels but {len(errors)} error values")
    if any(not 0 <= e <= 100 for e in errors):
        raise ValueError(f"errors are percentages in [0, 100], got {list(errors)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    colors = ["tab:red" if label in highlight else "tab:gray" for label in labels]
    bars = ax.bar(range(len(labels)), errors, color=colors)
    for bar, error in zip(bars, errors):
        ax.annotate(f"{error:g}%", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("top-5 error (%)")
    ax.set_title("ILSVRC image classification, top-5 error of the winners")
    ax.figure.tight_layout()
    return ax
