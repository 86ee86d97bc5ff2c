"""The playground and the API reference in a real browser: headless Chromium (Debian's
package, never a downloaded build) driven by Playwright, against the real stack.

Every request must stay on 127.0.0.1: other hosts do not resolve in this browser, and
any request elsewhere is recorded (and refused) by a route handler, then fails the test.
Screenshots go to ``$CIRCUITGRAD_ARTIFACTS`` (default: the test's tmp_path).

Under CI (``CI=true``) this runs or fails, never skips; elsewhere, without Chromium or
Playwright, it skips saying how to enable it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

EQ1 = "(x-3*y-3*z+5)**2 + (x-2*y-2*z)**2 + (x+y-5*z-3)**2"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # nothing else resolves
]
HOW = (
    "install Debian's Chromium (apt-get install chromium) or set CIRCUITGRAD_CHROMIUM=/path "
    "to a Chromium binary, and pip install -e '.[test]' (Playwright)"
)

pytestmark = pytest.mark.integration


def _unavailable(why: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the browser test must run under CI: {why}; {HOW}")
    pytest.skip(f"{why}: {HOW}")


@pytest.fixture(scope="module")
def chromium_path() -> str:
    path = os.environ.get("CIRCUITGRAD_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        _unavailable(f"no Chromium at {path}")
    return path


@pytest.fixture(scope="module")
def browser(chromium_path):
    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError:
        _unavailable("Playwright for Python is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def artifacts(tmp_path) -> Path:
    folder = Path(os.environ.get("CIRCUITGRAD_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def local_page(browser, base_url: str):
    """A page whose requests may only go to ``base_url``: (page, refused URLs)."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    refused: list[str] = []

    def only_local(route):
        url = route.request.url
        if url.startswith(base_url + "/"):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    page.on(
        "request",
        lambda r: (
            None if r.url.startswith((base_url + "/", "blob:", "data:")) else refused.append(r.url)
        ),
    )
    return page, refused


def differentiate_and_evaluate(page, artifacts: Path, name: str) -> None:
    page.fill("#source", EQ1)
    page.select_option("#mode", "backward")
    page.click("#differentiate")
    page.wait_for_selector("#gradient-picture object", timeout=90_000)
    page.wait_for_selector("#circuit-picture object")
    assert "within the bound" in page.inner_text("#gradient-measures")
    assert "3·wires + nodes = 62" in page.inner_text("#gradient-measures")
    for input_name, value in (("x", "1"), ("y", "2"), ("z", "3")):
        page.fill(f'#point input[data-name="{input_name}"]', value)
    page.click("#evaluate")
    page.wait_for_selector('#values tr[data-output="df/dz"]')
    values = {
        row.get_attribute("data-output"): row.locator("td").first.inner_text()
        for row in page.locator("#values tr").all()
    }
    assert values == {"f": "387", "df/dx": "-66", "df/dy": "60", "df/dz": "240"}
    page.wait_for_timeout(300)  # the pictures' objects paint
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


def test_playground_differentiates_evaluates_and_locates_errors(browser, stack, artifacts):
    page, refused = local_page(browser, stack.url)
    page.goto(stack.url + "/")
    differentiate_and_evaluate(page, artifacts, "playground-equation1")

    page.fill("#source", "x +* y")
    page.click("#differentiate")
    error = page.wait_for_selector("#source-error:not([hidden])")
    text = error.inner_text()
    assert "/expression" in text and "at offset 3" in text
    assert page.inner_text("#source-error mark") == "*"  # the place, marked
    page.screenshot(path=str(artifacts / "playground-error.png"))

    page.click("#docs-link")
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert {"/v1/gradients", "/v1/circuits/{circuit_id}/picture"} <= {p.strip() for p in paths}
    page.screenshot(path=str(artifacts / "api-reference.png"))
    assert refused == [], f"requests left 127.0.0.1: {refused}"


def test_playground_with_api_keys(
    browser, process_stack, redis_url, namespace, tmp_path, artifacts
):
    keyed = process_stack(
        redis_url,
        f"{namespace}k",
        tmp_path,
        workers=1,
        env={"CIRCUITGRAD_API_KEYS": "sesame:tenant1"},
    ).start()
    try:
        page, refused = local_page(browser, keyed.url)
        page.goto(keyed.url + "/")  # public: no key needed for the page itself
        page.click("#differentiate")
        assert "401" in page.wait_for_selector("#source-error:not([hidden])").inner_text() or (
            "key" in page.inner_text("#source-error").lower()
        )
        page.fill("#api-key", "sesame")
        differentiate_and_evaluate(page, artifacts, "playground-with-key")
        stored = page.evaluate(
            "[sessionStorage.getItem('circuitgrad.apiKey'), localStorage.length]"
        )
        assert stored == ["sesame", 0]  # this tab only
        assert refused == []
    finally:
        keyed.stop()
