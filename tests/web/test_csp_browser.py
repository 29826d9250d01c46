"""The Content-Security-Policy in Chromium: every page loads under it without a violation, and
an injected inline script does not run.

The policy (web.middleware.CSP) allows scripts, styles and connections from the app's own
origin only. A page that needed more (an inline handler, a style attribute, a foreign host)
would log a violation here before an owner ever saw a broken page.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page

from hearthcam.web import ServerHandle, start_server
from hearthcam.web.middleware import CSP
from tests.support.world import PASSWORD, World

MS = 1000
SETTLE_MS = 1500  # scripts run, fetches and streams start
# Collected in the page itself: Chromium also logs each violation, but the event says which
# directive refused what.
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} refused ${e.blockedURI || "inline"}`);
});
"""


@pytest.fixture
def server(world: World) -> Iterator[ServerHandle]:
    handle = start_server(world.services, "127.0.0.1", 0)
    yield handle
    handle.stop()


def _context(browser: Browser, server: ServerHandle, token: str | None) -> BrowserContext:
    context = browser.new_context()
    context.set_default_timeout(10 * MS)
    context.add_init_script(WATCH)
    if token is not None:
        context.add_cookies([{"name": "hc_session", "value": token, "url": server.url}])
    return context


def _visit(page: Page, url: str) -> list[str]:
    """Opens ``url`` and returns every CSP violation and console error it caused."""
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            problems.append(f"console: {message.text}")

    page.on("console", on_console)
    response = page.goto(url, wait_until="load")
    assert response is not None
    assert response.headers["content-security-policy"] == CSP
    page.wait_for_timeout(SETTLE_MS)
    problems += page.evaluate("window.__violations")
    page.remove_listener("console", on_console)
    return problems


def test_csp_names_scripts_and_a_default() -> None:
    directives = {d.split()[0]: d.split()[1:] for d in CSP.split("; ")}
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert not any("unsafe" in " ".join(v) for v in directives.values())


@pytest.mark.integration
def test_every_page_loads_without_a_violation(
    world: World, server: ServerHandle, browser: Browser
) -> None:
    event = world.add_event("front")
    world.feed_frame("front")
    pending = world.accounts.authenticate(
        "ada", PASSWORD, ip="127.0.0.1", user_agent="chromium", now=world.clock()
    ).token
    visits: list[tuple[str | None, str]] = [
        (None, "/login"),
        (None, "/setup"),  # redirects to /login: the owner exists
        (pending, "/login/mfa"),
        *[
            (world.session_token("alice"), path)
            for path in (
                "/",
                "/live",
                f"/events/{event.id}",
                "/history/front",
                "/settings",
                "/account",
                "/shared",
                "/views",
                "/exports",
                "/people",
            )
        ],
        (world.session_token("ann"), "/review"),
        (world.session_token("ada"), "/account"),
    ]
    found: dict[str, list[str]] = {}
    for token, path in visits:
        context = _context(browser, server, token)
        try:
            problems = _visit(context.new_page(), server.url + path)
        finally:
            context.close()
        if problems:
            found[path] = problems
    assert not found, found


@pytest.mark.integration
def test_an_injected_inline_script_does_not_run(
    world: World, server: ServerHandle, browser: Browser
) -> None:
    context = _context(browser, server, None)
    try:
        page = context.new_page()
        page.goto(server.url + "/login", wait_until="load")
        page.evaluate(
            """() => {
              const s = document.createElement("script");
              s.textContent = "window.__ran = true";
              document.body.append(s);
              const img = document.createElement("img");
              img.setAttribute("onerror", "window.__ran = true");
              img.src = "/nope.png";
              document.body.append(img);
            }"""
        )
        page.wait_for_timeout(500)
        assert page.evaluate("window.__ran === undefined")
        assert any("script-src" in v for v in page.evaluate("window.__violations"))
    finally:
        context.close()
