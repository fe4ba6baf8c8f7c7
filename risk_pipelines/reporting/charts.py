"""Small PNG charts for asset metadata and reports (matplotlib, imported lazily)."""

from __future__ import annotations

import base64
import io

import pandas as pd


def forecast_chart_png(history: pd.DataFrame, forecast: pd.DataFrame, title: str) -> bytes:
    """History (ds, y) and one forecast (ds, yhat, 80/95 % bounds) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 2.6), dpi=90)
    ax.plot(history["ds"], history["y"], color="#333333", linewidth=1, label="actual")
    ax.fill_between(
        forecast["ds"],
        forecast["yhat_lo_95"],
        forecast["yhat_hi_95"],
        color="#4c72b0",
        alpha=0.18,
        label="95%",
    )
    ax.fill_between(
        forecast["ds"],
        forecast["yhat_lo_80"],
        forecast["yhat_hi_80"],
        color="#4c72b0",
        alpha=0.32,
        label="80%",
    )
    ax.plot(forecast["ds"], forecast["yhat"], color="#4c72b0", linewidth=1.4, label="forecast")
    return _png(fig, ax, title, legend_columns=4)


def indicator_chart_png(frame: pd.DataFrame, title: str) -> bytes:
    """An indicator's actuals (ds, value) against its expected value and 95 % band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 2.6), dpi=90)
    ax.fill_between(
        frame["ds"], frame["lower"], frame["upper"], color="#4c72b0", alpha=0.2, label="95%"
    )
    ax.plot(frame["ds"], frame["expected"], color="#4c72b0", linewidth=1.2, label="expected")
    ax.plot(frame["ds"], frame["value"], color="#c44e52", linewidth=1.4, label="actual")
    return _png(fig, ax, title, legend_columns=3)


def bar_chart_png(frame: pd.DataFrame, title: str, stacked: bool = True) -> bytes:
    """One bar per row of ``frame`` (its index labels the bars), one coloured segment per
    column: the shape every asset's summary chart takes (rows per day, series per model...)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 2.6), dpi=90)
    bottom = pd.Series(0.0, index=frame.index)
    width = 0.8 / (1 if stacked else max(1, len(frame.columns)))
    positions = pd.Series(range(len(frame)), index=frame.index, dtype=float)
    for i, (column, colour) in enumerate(zip(frame.columns, _PALETTE, strict=False)):
        values = frame[column].astype(float).fillna(0.0)
        x = positions if stacked else positions + (i - (len(frame.columns) - 1) / 2) * width
        ax.bar(x, values, width=width, bottom=bottom if stacked else 0, color=colour,
               label=str(column))  # fmt: skip
        if stacked:
            bottom = bottom + values
    step = max(1, len(frame) // 12)  # at most a dozen labels, however many bars
    ax.set_xticks(list(positions.iloc[::step]), [str(i) for i in frame.index[::step]])
    ax.tick_params(axis="x", rotation=30 if len(frame) > 4 else 0)
    return _png(fig, ax, title, legend_columns=max(1, len(frame.columns)))


_PALETTE = ("#4c72b0", "#c44e52", "#dd8452", "#55a868", "#8172b3", "#937860")


def _png(fig, ax, title: str, legend_columns: int) -> bytes:
    """The house style shared by every chart, rendered to PNG bytes."""
    import matplotlib.pyplot as plt

    ax.set_title(title, fontsize=9, loc="left")
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="upper left", ncol=legend_columns, frameon=False)
    ax.grid(alpha=0.25)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def png_markdown(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
