"""docs/screens.md and docs/screens/ agree: every screenshot the page names exists, every
screenshot in the directory is named, and each is written by a browser test."""

import re
from pathlib import Path

from ui_support import SCREENS

DOC = SCREENS.parent / "screens.md"


def test_every_screenshot_named_in_the_docs_exists_and_is_made_by_a_test():
    named = set(re.findall(r"\]\(screens/([a-z0-9-]+\.png)\)", DOC.read_text()))
    assert len(named) >= 20
    present = {p.name for p in SCREENS.glob("*.png")}
    assert named - present == set(), "named in docs/screens.md but not in docs/screens/"
    assert present - named == set(), "in docs/screens/ but not listed in docs/screens.md"
    tests = "\n".join(p.read_text() for p in Path(__file__).parent.glob("test_ui_browser_*.py"))
    written = {f"{name}.png" for name in re.findall(r'screenshot\(page, "([a-z0-9-]+)"', tests)}
    assert named - written == set(), "no browser test writes these"
