"""Screenshots of the explorer page of ``hashlearn serve``, as the docs show them.

Serve bundles, open the page in headless Chromium at 1280 x 900, click an item, move the
radius slider and save ``explorer.png``; then open the side-by-side view of the same query
and save ``compare.png``::

    hashlearn build --dataset cifar10-gist --method itq --bits 32 --out bundles/cifar10-itq-32
    hashlearn build --dataset cifar10-gist --method lsh --bits 32 --out bundles/cifar10-lsh-32
    python examples/service_screenshots.py bundles/cifar10-itq-32 bundles/cifar10-lsh-32 \\
        --query 3 --radius 4 --out docs/images/service

Without bundles it builds two small ones from scikit-learn's 8 x 8 digits (ITQ and LSH,
16 bits) and writes the screenshots to a temporary folder, which it prints.

Needs the ``web`` extra (FastAPI, uvicorn), selenium, and Chromium with its driver at
``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` (Debian: ``apt-get install chromium
chromium-driver``); without them it says so and stops. Selenium is given the driver's
path, so it never downloads a browser or a driver.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WIDTH, HEIGHT = 1280, 900
# The docs keep their images small; a screenshot over this is re-saved with a palette.
MAX_PNG_BYTES = 400_000
WAIT_S = 60


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundles", nargs="*", type=Path, help="bundle folders (default: digits)")
    parser.add_argument("--out", type=Path, default=None, help="folder for the two PNG files")
    parser.add_argument("--query", type=int, default=3, help="the item to click (first page)")
    parser.add_argument("--radius", type=int, default=2, help="where to move the slider")
    return parser.parse_args(argv)


def missing_tools() -> list[str]:
    """What this script needs and does not find (empty when all is there)."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if shutil.which(path) is None]
    for module in ("selenium", "fastapi", "uvicorn"):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"the Python package {module}")
    return missing


def demo_bundles(folder: Path) -> list[Path]:
    """ITQ and LSH bundles (16 bits) of scikit-learn's digits."""
    from hashlearn.serve.build import BuildConfig, build_bundle

    return [
        build_bundle(
            BuildConfig(
                dataset="digits", method=method, n_bits=16, out=folder / f"digits-{method}"
            ),
            say=lambda message: None,
        )
        for method in ("itq", "lsh")
    ]


@contextmanager
def serve(bundles: Sequence[Path]) -> Iterator[str]:
    """``hashlearn serve`` of the bundles on a free local port; yields its URL."""
    from hashlearn.serve.server import start_background_server

    with start_background_server(bundles, timeout=WAIT_S) as server:
        yield server.url


@contextmanager
def browser() -> Iterator[Any]:
    """Headless Chromium whose page is exactly WIDTH x HEIGHT pixels."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={WIDTH},{HEIGHT}")
    options.add_argument("--force-color-profile=srgb")
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        # The window size counts the browser's own frame; the screenshot is the page.
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
        )
        yield driver
    finally:
        driver.quit()


def wait_ready(driver: Any, testid: str, **attributes: Any) -> Any:
    """The element once the page marks it ready for ``attributes``; stops on an error."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    selector = f'[data-testid="{testid}"][data-state="ready"]' + "".join(
        f'[data-{name.replace("_", "-")}="{value}"]' for name, value in attributes.items()
    )

    def done(d: Any) -> Any:
        box = d.find_element(By.ID, "message")
        if box.is_displayed():
            raise RuntimeError(f"the page shows an error: {box.text}")
        found = d.find_elements(By.CSS_SELECTOR, selector)
        return found[0] if found else False

    return WebDriverWait(driver, WAIT_S).until(done)


def save_png(driver: Any, path: Path) -> int:
    """Save a screenshot, re-saved with a 256-colour palette when it is too large."""
    from PIL import Image

    data = driver.get_screenshot_as_png()
    image = Image.open(io.BytesIO(data)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    if buffer.tell() > MAX_PNG_BYTES:
        buffer = io.BytesIO()
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
            buffer, format="PNG", optimize=True
        )
    path.write_bytes(buffer.getvalue())
    return path.stat().st_size


def screenshots(url: str, out: Path, query: int, radius: int) -> list[Path]:
    """Drive the page as a user would and save the two screenshots."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    out.mkdir(parents=True, exist_ok=True)
    with browser() as driver:
        driver.get(url)
        grid = wait_ready(driver, "item-grid", offset=0)
        tiles = grid.find_elements(By.CSS_SELECTOR, f'[data-item-id="{query}"]')
        if not tiles:
            raise ValueError(f"--query must be an item of the first page (0 .. 47), got {query}")
        tiles[0].click()
        wait_ready(driver, "neighbours", query_id=query)
        slider = driver.find_element(By.CSS_SELECTOR, '[data-testid="radius-slider"]')
        slider.send_keys(Keys.HOME, *([Keys.ARROW_RIGHT] * radius))
        readout = wait_ready(driver, "radius-readout", query_id=query, radius=radius)
        # Wait until the thumbnails are drawn, not just requested.
        driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0);")
        wait_images(driver)
        explorer = out / "explorer.png"
        size = save_png(driver, explorer)
        print(f"{explorer}: {size:,} bytes ({readout.text})")

        driver.find_element(By.CSS_SELECTOR, '[data-testid="tab-compare"]').click()
        rows = wait_ready(driver, "compare-rows", query_id=query)
        driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0);")
        wait_images(driver)
        compare = out / "compare.png"
        size = save_png(driver, compare)
        found = rows.find_elements(By.CSS_SELECTOR, '[data-testid="compare-row"]')
        methods = [row.get_attribute("data-bundle") for row in found]
        print(f"{compare}: {size:,} bytes ({len(methods)} rows: {', '.join(methods)})")
    return [explorer, compare]


def wait_images(driver: Any) -> None:
    """Wait until every image in view is drawn (those below it load lazily)."""
    from selenium.webdriver.support.ui import WebDriverWait

    script = """
        return [...document.images]
            .filter((i) => { const r = i.getBoundingClientRect();
                             return r.width > 0 && r.bottom > 0 && r.top < innerHeight; })
            .every((i) => i.complete && i.naturalWidth > 0);"""
    WebDriverWait(driver, WAIT_S).until(lambda d: d.execute_script(script))


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    missing = missing_tools()
    if missing:
        print(f"service_screenshots: skipped, it needs {', '.join(missing)}")
        return
    with tempfile.TemporaryDirectory(prefix="hashlearn-screens-") as scratch:
        bundles = list(args.bundles) or demo_bundles(Path(scratch))
        out = args.out if args.out is not None else Path(tempfile.mkdtemp(prefix="hashlearn-"))
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        with serve(bundles) as url:
            screenshots(url, out, args.query, args.radius)


if __name__ == "__main__":
    main()
