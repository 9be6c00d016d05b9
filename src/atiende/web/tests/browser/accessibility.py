"""Keyboard and screen-reader checks a browser test runs on a page: every control has an
accessible name, Tab reaches every control in document order, and focus is visible."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

MAX_TAB_ROUNDS = 4
INTERACTIVE_ROLES = {
    "button", "checkbox", "combobox", "link", "listbox", "menuitem", "radio", "searchbox",
    "slider", "spinbutton", "switch", "tab", "textbox",
}  # fmt: skip

# Marks every element a keyboard user can reach with Tab (visible, enabled, tabindex >= 0) with
# its position in document order; returns how many there are.
MARK_TABBABLE = """
() => {
  const selector = 'a[href], button, input:not([type="hidden"]), select, textarea, summary, '
    + '[tabindex], [contenteditable="true"]';
  let count = 0;
  for (const el of document.querySelectorAll(selector)) {
    if (el.disabled || el.tabIndex < 0 || el.closest('[inert]')) continue;
    if (!el.checkVisibility({visibilityProperty: true})) continue;
    // A radio group is one Tab stop: only the checked (or first) radio of a name is reached.
    if (el.type === 'radio' && el.name) {
      const group = [...document.querySelectorAll(`input[type="radio"][name="${el.name}"]`)];
      const stop = group.find((radio) => radio.checked) || group[0];
      if (stop !== el) continue;
    }
    el.dataset.tabStop = String(count++);
  }
  return count;
}
"""

POSITIVE_TABINDEX = """
() => [...document.querySelectorAll('[tabindex]')]
  .filter((el) => el.tabIndex > 0)
  .map((el) => `${el.tagName.toLowerCase()} "${el.textContent.trim().slice(0, 40)}"`)
"""

# Records every element that receives focus, with whether its focus is drawn (an outline or a
# ring), so that a run of Tab presses is read back in one call.
RECORD_FOCUS = """
() => {
  window.__focusLog = [];
  document.addEventListener('focusin', (event) => {
    const el = event.target;
    const style = getComputedStyle(el);
    const drawn = (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0)
      || style.boxShadow !== 'none';
    window.__focusLog.push({stop: el.dataset.tabStop ?? null, drawn, tag: el.tagName,
                            text: (el.textContent || el.name || '').trim().slice(0, 40)});
  });
}
"""

START_AT_THE_TOP = """
() => {
  const start = document.createElement('span');
  start.tabIndex = -1;
  document.body.prepend(start);
  start.focus();
  start.addEventListener('blur', () => start.remove(), {once: true});
}
"""


def unnamed_controls(page: Page) -> list[str]:
    """Controls in Chromium's accessibility tree whose accessible name is empty."""
    session = page.context.new_cdp_session(page)
    try:
        tree = session.send("Accessibility.getFullAXTree")
    finally:
        session.detach()
    unnamed = []
    for node in tree["nodes"]:
        if node.get("ignored"):
            continue
        role = node.get("role", {}).get("value")
        name = str(node.get("name", {}).get("value", "")).strip()
        if role in INTERACTIVE_ROLES and not name:
            unnamed.append(f"{role} (backend node {node.get('backendDOMNodeId')})")
    return unnamed


def tab_through(page: Page) -> list[dict[str, Any]]:
    """Press Tab from the top of the page once per tabbable element; returns what received focus
    after each press (a focus trap or a skipped control shows as a wrong order)."""
    stops = page.evaluate(MARK_TABBABLE)
    page.evaluate(RECORD_FOCUS)
    # Start from the top, whatever has focus (an autofocus field): focus a temporary element
    # placed before everything, outside the Tab order, as a freshly loaded page would start.
    page.evaluate(START_AT_THE_TOP)
    last = str(stops - 1)
    # A date field takes one Tab per part (day, month, year), so more presses than stops may be
    # needed; the log is read back after each round of them.
    for _round in range(MAX_TAB_ROUNDS):
        for _ in range(stops):
            page.keyboard.press("Tab")
        reached: list[dict[str, Any]] = page.evaluate("() => window.__focusLog.slice(1)")
        if any(item["stop"] == last for item in reached):
            break
    # Parts of one control (the date field's) show as the same stop several times in a row;
    # after the last stop, focus wraps around to the top.
    distinct: list[dict[str, Any]] = []
    for item in reached:
        if not distinct or item["stop"] != distinct[-1]["stop"]:
            distinct.append(item)
        if item["stop"] == last:
            break
    return distinct


def assert_keyboard_reaches_every_control(page: Page) -> None:
    """Every control on the page has an accessible name; Tab reaches every tabbable element in
    document order (no positive tabindex reorders it), and focus is drawn on each."""
    unnamed = unnamed_controls(page)
    assert not unnamed, f"controls without an accessible name: {unnamed}"
    reordered = page.evaluate(POSITIVE_TABINDEX)
    assert not reordered, f"a positive tabindex changes the Tab order: {reordered}"
    reached = tab_through(page)
    total = page.evaluate("() => document.querySelectorAll('[data-tab-stop]').length")
    assert total > 0, "nothing on the page can be reached with Tab"
    order = [item["stop"] and int(item["stop"]) for item in reached]
    assert order == list(range(total)), f"Tab order {order} of {total} stops: {reached}"
    undrawn = [item for item in reached if not item["drawn"]]
    assert not undrawn, f"focus is not drawn on: {undrawn}"
    for stop in range(total):
        control = page.locator(f'[data-tab-stop="{stop}"]')
        expect(control).to_have_accessible_name(re.compile(r"\S"))
