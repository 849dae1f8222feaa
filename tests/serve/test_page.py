"""The web page in a real browser: headless Chromium (the OS's package) drives the page
served by ``sigver serve``: enroll three references of a synthetic writer, verify one of
their genuine signatures and one skilled forgery, and check the decisions shown."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx2 as httpx
import pytest

from serve_process import ServeProcess
from sigver.serve.keys import create_key

pytestmark = pytest.mark.slow
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture
def browser(tmp_path):
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the browser test: apt-get install chromium "
                        "chromium-driver")
        pytest.skip("chromium / chromedriver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1100,1300",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    # The driver is named explicitly: selenium never looks for (or downloads) one.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER),
                              options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def pick_questioned(url: str, key: str, writer: dict) -> tuple[Path, Path]:
    """The held-out genuine signature scored highest and the skilled forgery scored
    lowest by the API, asserting the API decides them genuine / forgery."""
    headers = {"X-API-Key": key}
    candidates = writer["genuine"][3:] + writer["skilled"]
    files = [("files", (p.name, p.read_bytes(), "image/png")) for p in candidates]
    results = httpx.post(f"{url}/api/v1/persons/writer-1/verify", files=files,
                         headers=headers, timeout=60).json()["results"]
    scores = dict(zip(candidates, results, strict=True))
    genuine = max(writer["genuine"][3:], key=lambda p: scores[p]["score"])
    forgery = min(writer["skilled"], key=lambda p: scores[p]["score"])
    assert scores[genuine]["decision"] == "genuine"
    assert scores[forgery]["decision"] == "forgery"
    return genuine, forgery


def test_enroll_and_verify_in_the_browser(world, browser, tmp_path):
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    db = tmp_path / "page.db"
    _, admin = create_key(db, "admin", "browser test")
    shots = Path(os.environ.get("SIGVER_SCREENSHOTS", tmp_path / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    writer = world["writers"]["001"]
    args = ["--db", str(db), "--classifier", str(world["classifier"]), "--background",
            str(world["background"]), "--model-path", str(world["model"]),
            "--canvas-size", *map(str, world["canvas"])]
    with ServeProcess(args, tmp_path / "serve.log") as server:
        driver, wait = browser, WebDriverWait(browser, 60)
        by_id = browser.find_element
        driver.get(server.url + "/")
        by_id("id", "api-key").send_keys(admin)
        by_id("id", "save-key").click()
        wait.until(ec.text_to_be_present_in_element(("id", "role"), "signed in (admin)"))

        by_id("id", "new-person").send_keys("writer-1")
        by_id("id", "create-person").click()
        wait.until(lambda d: Select(by_id("id", "person-select"))
                   .first_selected_option.get_attribute("value") == "writer-1")
        references = writer["genuine"][:3]
        by_id("id", "reference-files").send_keys("\n".join(str(p) for p in references))
        by_id("id", "upload-references").click()
        wait.until(ec.text_to_be_present_in_element(("id", "message"),
                                                    "Enrolled 3 reference(s)"))
        wait.until(lambda d: len(d.find_elements("css selector", "#references img")) == 3
                   and all(img.get_attribute("src").startswith("blob:") for img in
                           d.find_elements("css selector", "#references img")))
        driver.save_screenshot(str(shots / "1-enrolled.png"))

        genuine, forgery = pick_questioned(server.url, admin, writer)
        shown = {}
        for name, path in (("genuine", genuine), ("forgery", forgery)):
            by_id("id", "questioned-file").send_keys(str(path))
            previous = by_id("id", "score-text").text
            by_id("id", "verify").click()
            wait.until(lambda d, previous=previous: d.find_element("id", "result")
                       .is_displayed() and d.find_element("id", "score-text").text
                       not in ("", previous))
            wait.until(lambda d: d.find_element("id", "questioned-image")
                       .get_attribute("src").startswith("blob:")
                       and len(d.find_elements("css selector",
                                               "#result-references img")) == 3)
            shown[name] = by_id("id", "decision").text
            driver.save_screenshot(str(shots / f"2-verify-{name}.png"))
        log = server.log.read_text()
    assert shown == {"genuine": "GENUINE", "forgery": "FORGERY"}
    assert all((shots / f).stat().st_size > 10_000 for f in
               ("1-enrolled.png", "2-verify-genuine.png", "2-verify-forgery.png"))
    # the server logged the requests, never the key
    assert "POST /api/v1/persons/writer-1/verify" in log and admin not in log
