"""The WCAG contrast formula on pairs whose ratios are published (WebAIM, the WCAG examples)."""

from __future__ import annotations

import pytest

from atiende.web.tests.browser.contrast import (
    AA_LARGE,
    AA_NORMAL,
    TextSample,
    composite,
    contrast_ratio,
    parse_css_color,
    required_ratio,
)

BLACK = (0.0, 0.0, 0.0, 1.0)
WHITE = (255.0, 255.0, 255.0, 1.0)


@pytest.mark.parametrize(
    ("foreground", "background", "expected"),
    [
        ("rgb(0, 0, 0)", "rgb(255, 255, 255)", 21.0),
        ("rgb(255, 255, 255)", "rgb(255, 255, 255)", 1.0),
        ("rgb(118, 118, 118)", "rgb(255, 255, 255)", 4.54),  # #767676: the lightest AA grey
        ("rgb(119, 119, 119)", "rgb(255, 255, 255)", 4.48),  # #777: just fails
        ("rgb(0, 0, 255)", "rgb(255, 255, 255)", 8.59),
        ("rgb(255, 0, 0)", "rgb(255, 255, 255)", 4.0),
        ("rgb(255, 255, 255)", "rgb(0, 102, 204)", 5.57),  # #0066cc
    ],
)
def test_contrast_ratio_matches_published_values(foreground, background, expected):
    ratio = contrast_ratio(parse_css_color(foreground), parse_css_color(background))
    assert ratio == pytest.approx(expected, abs=0.01)


def test_contrast_ratio_is_symmetric():
    grey = parse_css_color("rgb(118, 118, 118)")
    assert contrast_ratio(grey, WHITE) == pytest.approx(contrast_ratio(WHITE, grey))


def test_parsing_reads_alpha_in_both_serialisations():
    assert parse_css_color("rgba(10, 20, 30, 0.5)") == (10, 20, 30, 0.5)
    assert parse_css_color("rgb(10 20 30 / 50%)") == (10, 20, 30, 0.5)
    assert parse_css_color("transparent")[3] == 0
    with pytest.raises(ValueError, match="not a computed"):
        parse_css_color("#fff")


def test_half_transparent_black_over_white_is_mid_grey():
    assert composite((0, 0, 0, 0.5), WHITE) == pytest.approx((127.5, 127.5, 127.5, 1.0))
    # Faint text loses contrast: 50 % black on white is about 3.98:1, below AA for body text.
    assert contrast_ratio((0, 0, 0, 0.5), WHITE) == pytest.approx(3.98, abs=0.01)


def test_large_text_needs_three_to_one_and_body_text_four_and_a_half():
    assert required_ratio(16, 400) == AA_NORMAL
    assert required_ratio(18.66, 400) == AA_NORMAL
    assert required_ratio(18.66, 700) == AA_LARGE
    assert required_ratio(24, 400) == AA_LARGE


def test_a_sample_composites_its_backgrounds_from_the_root_down():
    sample = TextSample(
        description="p",
        color="rgb(255, 255, 255)",
        # A transparent paragraph in a half-transparent black card on a white page.
        backgrounds=["rgba(0, 0, 0, 0)", "rgba(0, 0, 0, 0.5)", "rgb(255, 255, 255)"],
        font_size_px=16,
        font_weight=400,
    )
    assert sample.background() == pytest.approx((127.5, 127.5, 127.5, 1.0))
    assert sample.ratio() == pytest.approx(contrast_ratio(WHITE, (127.5, 127.5, 127.5, 1.0)))
    assert sample.ratio() < sample.required()
