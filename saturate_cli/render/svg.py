"""Hand-made SVG: a few element builders and the linear scales the pictures are drawn with."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape


def num(v: float) -> str:
    """A coordinate with one decimal, without a trailing '.0'."""
    text = f"{v:.1f}"
    return text[:-2] if text.endswith(".0") else text


def attrs(**kw) -> str:
    """Attributes from keywords: class_ -> class, data_x -> data-x; None values left out."""
    out = []
    for k, v in kw.items():
        if v is None:
            continue
        name = k.rstrip("_").replace("_", "-")
        value = num(v) if isinstance(v, float) else str(v)
        out.append(f' {name}="{escape(value)}"')
    return "".join(out)


def title(text: str) -> str:
    return f"<title>{escape(text)}</title>" if text else ""


def rect(x: float, y: float, w: float, h: float, tip: str = "", **kw) -> str:
    body = title(tip)
    tag = f"<rect{attrs(x=float(x), y=float(y), width=float(max(w, 0.0)), height=float(max(h, 0.0)), **kw)}"
    return f"{tag}>{body}</rect>" if body else f"{tag}/>"


def line(x1: float, y1: float, x2: float, y2: float, **kw) -> str:
    return f"<line{attrs(x1=float(x1), y1=float(y1), x2=float(x2), y2=float(y2), **kw)}/>"


def polyline(points, **kw) -> str:
    pts = " ".join(f"{num(x)},{num(y)}" for x, y in points)
    return f"<polyline{attrs(points=pts, **kw)}/>"


def text(x: float, y: float, content: str, **kw) -> str:
    return f"<text{attrs(x=float(x), y=float(y), **kw)}>{escape(content)}</text>"


def group(body: str, tip: str = "", **kw) -> str:
    return f"<g{attrs(**kw)}>{title(tip)}{body}</g>"


def svg(width: int, height: int, body: str, label: str, **kw) -> str:
    """A scalable picture (fills its box, keeps its aspect) with an accessible name. Inline SVG
    in HTML needs no namespace declaration."""
    return (f"<svg{attrs(viewBox=f'0 0 {width} {height}', role='img', aria_label=label, **kw)}>"
            f"{body}</svg>")


def columns(boxes, bottom: float, **kw) -> str:
    """Bars standing on `bottom` as one path: boxes are (x0, x1, top) in pixels."""
    d = "".join(f"M{num(x0)} {num(bottom)}V{num(top)}H{num(x1)}V{num(bottom)}Z"
                for x0, x1, top in boxes)
    return f"<path{attrs(d=d, **kw)}/>" if d else ""


@dataclass(frozen=True)
class Scale:
    """Linear map from data [lo, hi] to pixels [start, stop] (stop < start flips the axis)."""

    lo: float
    hi: float
    start: float
    stop: float

    def __call__(self, v: float) -> float:
        span = (self.hi - self.lo) or 1.0
        return self.start + (v - self.lo) / span * (self.stop - self.start)
