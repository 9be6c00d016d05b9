"""WCAG 2 contrast of the text a page shows: the formula in plain Python, the colours from the
browser (computed styles, backgrounds composited up the ancestors).

AA asks for 4.5:1, or 3:1 for large text (at least 24 px, or 18.66 px when bold). Text over a
background image or gradient is not judged (its background is not one colour); disabled controls
are exempt in WCAG and skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

RGBA = tuple[float, float, float, float]
WHITE: RGBA = (255.0, 255.0, 255.0, 1.0)
AA_NORMAL = 4.5
AA_LARGE = 3.0
LARGE_PX = 24.0
LARGE_BOLD_PX = 18.66

_NUMBERS = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?%?", re.IGNORECASE)


def parse_css_color(text: str) -> RGBA:
    """A computed colour, as browsers serialise it: ``rgb(r, g, b)`` or ``rgba(r, g, b, a)``,
    also the space-separated ``rgb(r g b / a)``; ``transparent`` is fully transparent black."""
    text = text.strip().lower()
    if text == "transparent":
        return (0.0, 0.0, 0.0, 0.0)
    if not text.startswith(("rgb(", "rgba(")):
        raise ValueError(f"not a computed rgb() colour: {text!r}")
    parts = _NUMBERS.findall(text)
    if len(parts) not in (3, 4):
        raise ValueError(f"not a computed rgb() colour: {text!r}")
    red, green, blue = (float(part.rstrip("%")) for part in parts[:3])
    alpha = 1.0
    if len(parts) == 4:
        alpha = float(parts[3].rstrip("%")) / (100 if parts[3].endswith("%") else 1)
    return (red, green, blue, alpha)


def _linear(channel: float) -> float:
    value = channel / 255
    return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4


def relative_luminance(colour: RGBA) -> float:
    red, green, blue, _alpha = colour
    return 0.2126 * _linear(red) + 0.7152 * _linear(green) + 0.0722 * _linear(blue)


def composite(top: RGBA, bottom: RGBA) -> RGBA:
    """``top`` painted over an opaque ``bottom`` (source-over)."""
    alpha = top[3]
    mixed = (top[i] * alpha + bottom[i] * (1 - alpha) for i in range(3))
    red, green, blue = mixed
    return (red, green, blue, 1.0)


def contrast_ratio(foreground: RGBA, background: RGBA) -> float:
    """The WCAG contrast ratio, 1 to 21, of a foreground over an opaque background."""
    seen = composite(foreground, background)
    lighter, darker = sorted(
        (relative_luminance(seen), relative_luminance(background)), reverse=True
    )
    return (lighter + 0.05) / (darker + 0.05)


def required_ratio(font_size_px: float, font_weight: int) -> float:
    large = font_size_px >= LARGE_PX or (font_size_px >= LARGE_BOLD_PX and font_weight >= 700)
    return AA_LARGE if large else AA_NORMAL


@dataclass(frozen=True)
class TextSample:
    """One element with its own visible text, as the browser computed it."""

    description: str
    color: str
    # Background colours from the element up to the root; the canvas below them is white.
    backgrounds: list[str]
    font_size_px: float
    font_weight: int

    def background(self) -> RGBA:
        below = WHITE
        for layer in reversed(self.backgrounds):
            below = composite(parse_css_color(layer), below)
        return below

    def ratio(self) -> float:
        return contrast_ratio(parse_css_color(self.color), self.background())

    def required(self) -> float:
        return required_ratio(self.font_size_px, self.font_weight)


# Every visible element with text of its own (or a form control showing a value), skipping text
# hidden for screen readers only (a 1 px box), disabled controls and text over an image.
COLLECT_TEXT = """
() => {
  const samples = [];
  const described = (el) => {
    const text = (el.value !== undefined && el.tagName !== 'BUTTON' && el.tagName !== 'LI'
      ? el.value : el.textContent).trim().replace(/\\s+/g, ' ');
    return `${el.tagName.toLowerCase()}${el.className ? '.' + String(el.className).split(' ').join('.') : ''} "${text.slice(0, 40)}"`;
  };
  for (const el of document.body.querySelectorAll('*')) {
    if (['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'svg', 'OPTION'].includes(el.tagName)) continue;
    const ownText = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const control = ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName) && el.type !== 'hidden'
      && el.value && !['checkbox', 'radio', 'color', 'range', 'file'].includes(el.type);
    if (!ownText && !control) continue;
    if (el.disabled || el.closest('[disabled], [aria-disabled="true"]')) continue;
    if (!el.checkVisibility({opacityProperty: true, visibilityProperty: true})) continue;
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) continue;
    const backgrounds = [];
    let overImage = false;
    for (let node = el; node; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.backgroundImage !== 'none') { overImage = true; break; }
      backgrounds.push(style.backgroundColor);
      if (style.backgroundColor.startsWith('rgb(')) break;
    }
    if (overImage) continue;
    const style = getComputedStyle(el);
    samples.push({
      description: described(el),
      color: style.color,
      backgrounds,
      font_size_px: parseFloat(style.fontSize),
      font_weight: parseInt(style.fontWeight, 10),
    });
  }
  return samples;
}
"""


def text_samples(page: Any) -> list[TextSample]:
    """The text samples of what ``page`` (a Playwright page) shows now."""
    return [TextSample(**sample) for sample in page.evaluate(COLLECT_TEXT)]


def below_aa(samples: list[TextSample]) -> list[str]:
    """The samples below AA, described for an assertion message."""
    return [
        f"{sample.description}: {sample.ratio():.2f} < {sample.required()} "
        f"({sample.color} on {sample.backgrounds})"
        for sample in samples
        if sample.ratio() < sample.required()
    ]


def assert_aa_contrast(page: Any) -> None:
    """Every text on ``page`` passes AA; the page must show some text for this to mean anything."""
    samples = text_samples(page)
    assert len(samples) >= 3, f"only {len(samples)} texts found on {page.url}"
    failures = below_aa(samples)
    assert not failures, "text below WCAG AA contrast:\n" + "\n".join(failures)
