"""The browser's view-log checks (static/js/merkle.js) in Debian's headless Chromium: they accept
the proofs and checkpoints the Python log makes and reject tampered ones.

The module is served from a routed http://localhost origin (a secure context, so WebCrypto is
there) with nothing listening: Playwright answers every request itself.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route

from hearthcam.store.db import Store
from hearthcam.viewlog import merkle
from hearthcam.viewlog.log import AuditLog, Derivative, ViewEntry
from hearthcam.viewlog.signing import AuditKey, Checkpoint, key_path

pytestmark = pytest.mark.integration

MODULE = Path(__file__).resolve().parents[2] / "src/hearthcam/web/static/js/merkle.js"
ORIGIN = "http://localhost:9"
PAGE = """<!doctype html><meta charset="utf-8"><title>merkle</title>
<script type="module">
import * as merkle from "/static/js/merkle.js";
window.merkle = merkle;
window.ready = true;
</script>"""
T0 = 1_760_000_000.0


def serve(route: Route) -> None:
    if route.request.url.endswith("/static/js/merkle.js"):
        route.fulfill(body=MODULE.read_text(), content_type="text/javascript")
    elif route.request.url.endswith("/index.html"):
        route.fulfill(body=PAGE, content_type="text/html")
    else:
        route.fulfill(status=404)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    context.route(f"{ORIGIN}/**", serve)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{ORIGIN}/index.html")
    page.wait_for_function("window.ready === true")
    yield page
    context.close()
    assert not errors, errors


@pytest.fixture
def proven(tmp_path: Path) -> Iterator[tuple[AuditLog, AuditKey, Checkpoint]]:
    """A real log of 37 views (one with non-ASCII text), checkpointed."""
    key = AuditKey.load_or_create(key_path(tmp_path))
    with Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        log = AuditLog(store, key)
        for i in range(37):
            clip = "café-7" if i == 7 else f"share-{i}"
            log.append(ViewEntry(3, "annotator", 1 + i % 2, clip, Derivative.REDACTED, T0 + i))
        yield log, key, log.checkpoint(T0 + 60)


VERIFY_ALL = """async (cases) => {
  const out = [];
  for (const c of cases) {
    const leaf = c.entry !== undefined ? new TextEncoder().encode(c.entry) : c.leaf;
    out.push(await window.merkle.verifyInclusion(leaf, c.index, c.size, c.proof, c.root));
  }
  return out;
}"""


def flip(hex_text: str) -> str:
    """One hex digit of ``hex_text`` changed (one to four bits)."""
    first = "1" if hex_text[0] == "0" else "0"
    return first + hex_text[1:]


def test_it_accepts_the_logs_own_proofs_for_each_entry(
    page: Page, proven: tuple[AuditLog, AuditKey, Checkpoint]
) -> None:
    log, _key, checkpoint = proven
    cases = [
        {
            "entry": item.logged.data.decode("utf-8"),
            "index": item.logged.index,
            "size": checkpoint.size,
            "proof": [p.hex() for p in item.proof],
            "root": checkpoint.root.hex(),
        }
        for household in (1, 2)
        for item in log.proven_entries(household, checkpoint)
    ]
    assert len(cases) == 37
    assert any("café" in c["entry"] for c in cases)  # type: ignore[operator]
    assert page.evaluate(VERIFY_ALL, cases) == [True] * 37


def test_it_accepts_a_leaf_hash_and_every_index_of_small_trees(page: Page) -> None:
    cases = []
    for size in range(1, 18):
        leaves = [merkle.leaf_hash(f"entry {i}".encode()) for i in range(size)]
        tree = merkle.MerkleTree(leaves)
        for index in range(size):
            proof = [p.hex() for p in tree.inclusion_proof(index)]
            root = tree.root().hex()
            cases.append(
                {
                    "leaf": leaves[index].hex(),
                    "index": index,
                    "size": size,
                    "proof": proof,
                    "root": root,
                }
            )
    assert all(page.evaluate(VERIFY_ALL, cases))


def test_it_rejects_tampered_claims(
    page: Page, proven: tuple[AuditLog, AuditKey, Checkpoint]
) -> None:
    log, _key, checkpoint = proven
    item = log.proven_entries(2, checkpoint)[3]  # entry 7, the one with "café"
    good = {
        "entry": item.logged.data.decode("utf-8"),
        "index": item.logged.index,
        "size": checkpoint.size,
        "proof": [p.hex() for p in item.proof],
        "root": checkpoint.root.hex(),
    }
    entry = str(good["entry"])
    proof = [p.hex() for p in item.proof]
    bad = [
        {**good, "entry": entry.replace('"viewer":3', '"viewer":4')},
        {**good, "entry": entry.replace("café", "cafe")},
        {**good, "index": item.logged.index + 1},
        {**good, "index": item.logged.index - 1},
        # (not size ± 1: a tree one larger can have the same path; the signature binds the size)
        {**good, "size": checkpoint.size // 2},
        {**good, "size": checkpoint.size * 2},
        {**good, "root": flip(checkpoint.root.hex())},
        {**good, "proof": proof[:-1]},
        {**good, "proof": [*proof, checkpoint.root.hex()]},
        {**good, "proof": ["zz" * 32, *proof[1:]]},
        *({**good, "proof": [*proof[:i], flip(p), *proof[i + 1 :]]} for i, p in enumerate(proof)),
    ]
    assert page.evaluate(VERIFY_ALL, [good]) == [True]
    assert page.evaluate(VERIFY_ALL, bad) == [False] * len(bad)


def test_it_checks_consistency_between_checkpoints(page: Page) -> None:
    tree = merkle.MerkleTree([merkle.leaf_hash(bytes([i])) for i in range(40)])
    script = """async (c) => window.merkle.verifyConsistency(c.m, c.n, c.r1, c.r2, c.proof)"""
    for m, n in ((1, 40), (6, 8), (7, 40), (16, 40), (33, 39), (40, 40), (0, 5)):
        case = {
            "m": m,
            "n": n,
            "r1": tree.root(m).hex(),
            "r2": tree.root(n).hex(),
            "proof": [p.hex() for p in tree.consistency_proof(m, n)],
        }
        assert page.evaluate(script, case) is True, (m, n)
        if case["proof"]:
            forged = {**case, "proof": [flip(case["proof"][0]), *case["proof"][1:]]}  # type: ignore[index]
            assert page.evaluate(script, forged) is False, (m, n)
            assert page.evaluate(script, {**case, "r1": case["r2"]}) is False, (m, n)


def test_it_checks_the_checkpoint_signature(
    page: Page, proven: tuple[AuditLog, AuditKey, Checkpoint]
) -> None:
    _log, key, checkpoint = proven
    note = page.evaluate(
        "([s, r, t]) => window.merkle.checkpointNote(s, r, t)",
        [checkpoint.size, checkpoint.root.hex(), checkpoint.time_ms],
    )
    assert note == checkpoint.note.decode()
    signed = {
        "size": checkpoint.size,
        "rootHex": checkpoint.root.hex(),
        "timeMs": checkpoint.time_ms,
        "signature": base64.b64encode(checkpoint.signature).decode(),
    }
    public = base64.b64encode(key.public_raw()).decode()
    script = "([c, k]) => window.merkle.verifyCheckpoint(c, k)"
    assert page.evaluate(script, [signed, public]) is True
    for changed in (
        {"size": checkpoint.size - 1},
        {"rootHex": flip(checkpoint.root.hex())},
        {"timeMs": checkpoint.time_ms + 1},
    ):
        assert page.evaluate(script, [{**signed, **changed}, public]) is False, changed
