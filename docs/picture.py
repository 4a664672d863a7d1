"""The README's picture of the chat UI: a copy of the snapshot test's SVG that shows a follow-up answered beside
its sources, the cited sentence highlighted. Run after `pytest tests/test_tui_snapshots.py --snapshot-update`.

    python3 docs/picture.py        (or: make picture)
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "tests" / "__snapshots__" / "test_tui_snapshots" / "test_answered_follow_up_with_sources.svg"
PICTURE = ROOT / "docs" / "chat.svg"


def main() -> None:
    shutil.copyfile(SNAPSHOT, PICTURE)
    print(f"{PICTURE.relative_to(ROOT)} is now {SNAPSHOT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
