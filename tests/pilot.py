"""Helpers for driving the chat UI with Textual's Pilot."""

from __future__ import annotations

import time
from collections.abc import Callable

from tui.widgets import TurnView


async def wait_for(pilot, condition: Callable[[], bool], timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for the UI")
        await pilot.pause(0.05)


async def ask(pilot, question: str) -> TurnView:
    """Type a question, submit it and wait until its answer is finished (or stopped)."""
    app = pilot.app
    before = len(app.turn_views)
    await pilot.press(*question)
    await pilot.press("enter")
    await wait_for(pilot, lambda: len(app.turn_views) > before)
    view = app.turn_views[-1]
    await wait_for(pilot, lambda: view.state != "running" and not app.is_answering)
    await pilot.pause()
    return view
