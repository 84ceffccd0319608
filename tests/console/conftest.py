"""Fixtures of the web console tests: a ``qserv serve`` process over the TAP tests' catalog
(tests/api/conftest.py: sky.Object with 5000 positions, users alice, bob and root (admin)) and
one headless Debian chromium driven by chromium-driver. With QSERV_CONSOLE_SCREENSHOTS=DIR the
tests save each page as DIR/console_<page>.png."""

import os
from pathlib import Path
import shutil

import pytest
import requests

from tests.api.conftest import build_catalog, start_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
WIDTH_PX, HEIGHT_PX = 1400, 1000


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    """(base URL, home, tokens) of a running ``qserv serve``."""
    home = build_catalog(tmp_path_factory.mktemp("console") / "home")
    process, tap_url = start_server(home)
    tokens = dict(line.split("=", 1) for line in (home / "tokens").read_text().splitlines())
    yield tap_url.removesuffix("/tap"), home, tokens
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="session")
def downloads(tmp_path_factory):
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="session")
def browser(downloads):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={WIDTH_PX},{HEIGHT_PX}", "--disable-background-networking", "--no-first-run"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def screenshot(browser):
    """screenshot(page): save the window as console_<page>.png when QSERV_CONSOLE_SCREENSHOTS is set."""
    folder = os.environ.get("QSERV_CONSOLE_SCREENSHOTS")

    def save(page):
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            height = browser.execute_script("return document.documentElement.scrollHeight")
            browser.set_window_size(WIDTH_PX, min(max(height + 140, HEIGHT_PX), 2400))  # the whole page
            browser.save_screenshot(str(Path(folder) / f"console_{page}.png"))
            browser.set_window_size(WIDTH_PX, HEIGHT_PX)

    return save


def admin_json(base, token, path):
    answer = requests.get(f"{base}/admin/v1{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    answer.raise_for_status()
    return answer.json()
