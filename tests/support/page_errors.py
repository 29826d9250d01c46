"""Script and console errors of a Chromium page, collected so a test can fail on them."""

from __future__ import annotations

from playwright.sync_api import ConsoleMessage, Page


def collect_errors(page: Page) -> list[str]:
    """Returns the list that ``page``'s console errors and uncaught script errors go into."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"page: {error}"))
    return errors
