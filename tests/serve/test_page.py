"""The explorer page in a real browser: headless Chromium, driven by Selenium.

Every check compares what the page shows with what the JSON API answers to the same
question, so the page cannot drift from the API unnoticed. The page marks each panel with
``data-state`` (``loading``, ``ready``, ``error``) and the query it answers; the tests
wait on those, never on time.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("selenium", reason="the page tests need selenium (the [dev] extra)")

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from hashlearn.serve.build import BuildConfig, build_bundle
from hashlearn.serve.server import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None or shutil.which(CHROMEDRIVER) is None,
    reason=f"the page tests need Chromium at {CHROMIUM} and chromedriver at {CHROMEDRIVER} "
    "(Debian: apt-get install chromium chromium-driver)",
)

WAIT_S = 20
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")


# -- the browser and the API -------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """Headless Chromium, the system's own: Selenium Manager never downloads anything,
    since the driver's path is given."""
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(argument)
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def call(base: str, path: str, body: Any = None, *, raw: bytes | None = None) -> Any:
    """One API call: the parsed JSON answer (raises HTTPError on a 4xx)."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}/api/v1{path}", data=data)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def error_detail(base: str, path: str, body: Any = None, *, raw: bytes | None = None) -> str:
    """The ``detail`` of the API's 4xx answer to a request."""
    with pytest.raises(urllib.error.HTTPError) as caught:
        call(base, path, body, raw=raw)
    assert 400 <= caught.value.code < 500
    detail = json.loads(caught.value.read())["detail"]
    assert isinstance(detail, str)
    return detail


def open_page(driver: WebDriver, base: str, fragment: str = "") -> None:
    # A blank page first: a new URL that differs only in its fragment would not reload.
    driver.get("about:blank")
    driver.get(f"{base}/{fragment}")
    wait_for(driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
    severe(driver)  # start each test with an empty console log


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], Any]) -> Any:
    return WebDriverWait(driver, WAIT_S, poll_frequency=0.05).until(condition)


def ready(driver: WebDriver, testid: str, **attributes: Any) -> WebElement:
    """The element ``data-testid=testid`` once it is ready and answers for ``attributes``."""
    selector = f'[data-testid="{testid}"][data-state="ready"]' + "".join(
        f'[data-{name.replace("_", "-")}="{value}"]' for name, value in attributes.items()
    )
    return wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, selector))


def by_testid(root: Any, testid: str) -> list[WebElement]:
    return list(root.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]'))


def tiles(root: Any, testid: str) -> tuple[list[int], list[int]]:
    """The ids and Hamming distances of the tiles ``testid`` under ``root``, in order."""
    found = by_testid(root, testid)
    return (
        [int(tile.get_attribute("data-item-id") or -1) for tile in found],
        [int(tile.get_attribute("data-distance") or -1) for tile in found],
    )


def severe(driver: WebDriver) -> list[str]:
    """The console's SEVERE entries since the last call (reading the log empties it)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def message(driver: WebDriver) -> str:
    """The text of the message area once it is shown."""
    box = wait_for(driver, lambda d: d.find_element(By.ID, "message"))
    wait_for(driver, lambda d: box.is_displayed() and box.text.strip())
    return str(by_testid(box, "message-text")[0].text)


@pytest.fixture(scope="module")
def bundles(live_server: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = call(live_server, "/bundles")
    assert [b["method"] for b in listed] == ["itq", "lsh"]
    return listed


def labels_of(base: str, bundle: str, ids: list[int]) -> list[Any]:
    return [call(base, f"/bundles/{bundle}/items/{i}")["label"] for i in ids]


def relevance(driver_tiles: list[WebElement]) -> list[str | None]:
    return [tile.get_attribute("data-relevant") for tile in driver_tiles]


# -- the tests -----------------------------------------------------------------------------------


def test_page_loads_without_errors_and_lists_the_bundles(browser, live_server, bundles):
    open_page(browser, live_server)
    select = Select(by_testid(browser, "bundle-select")[0])
    assert [option.get_attribute("value") for option in select.options] == [
        b["name"] for b in bundles
    ]
    first = bundles[0]
    assert select.first_selected_option.get_attribute("value") == first["name"]
    facts = {
        name: by_testid(browser, f"fact-{name}")[0].text
        for name in ("method", "bits", "items", "index", "dataset")
    }
    assert facts == {
        "method": first["label"],
        "bits": str(first["n_bits"]),
        "items": f"{first['n_items']:,}",
        "index": first["index"],
        "dataset": first["dataset"],
    }
    # Choosing the other bundle shows its facts and pages its items.
    select.select_by_value(bundles[1]["name"])
    ready(browser, "item-grid", bundle=bundles[1]["name"], offset=0)
    assert by_testid(browser, "fact-method")[0].text == bundles[1]["label"]
    # The upload button is offered: the digits bundles take images.
    assert by_testid(browser, "upload-label")[0].is_displayed()
    assert severe(browser) == []


def test_the_page_fits_a_narrow_window(browser, live_server):
    browser.set_window_size(420, 800)
    try:
        open_page(browser, live_server, "#q=3")
        ready(browser, "neighbours", query_id=3)
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
    finally:
        browser.set_window_size(1280, 900)
    assert severe(browser) == []


def test_browse_shows_the_items_of_the_api(browser, live_server, bundles):
    name = bundles[0]["name"]
    open_page(browser, live_server)
    grid = ready(browser, "item-grid", offset=0)
    page = call(live_server, f"/bundles/{name}/items?offset=0&limit=48")
    ids, _ = tiles(grid, "item-tile")
    assert ids == [item["id"] for item in page["items"]]
    shown = by_testid(grid, "item-tile")
    classes = [tile.find_element(By.CLASS_NAME, "cls").text for tile in shown]
    assert classes == [item["label_name"] for item in page["items"]]
    image = by_testid(grid, "item-tile")[0].find_element(By.TAG_NAME, "img")
    assert image.get_attribute("src").endswith(f"/api/v1/bundles/{name}/items/0/image.png")
    loaded = wait_for(browser, lambda d: d.execute_script(
        "const i = arguments[0]; return i.complete && i.naturalWidth;", image
    ))  # fmt: skip
    assert loaded == 8  # the stored 8 x 8 digit, scaled up by CSS
    assert image.value_of_css_property("image-rendering") == "pixelated"
    assert int(image.size["width"]) >= 48

    by_testid(browser, "page-next")[0].click()
    grid = ready(browser, "item-grid", offset=48)
    page = call(live_server, f"/bundles/{name}/items?offset=48&limit=48")
    assert tiles(grid, "item-tile")[0] == [item["id"] for item in page["items"]]
    assert "items 48\u201395 of 1,797" in by_testid(browser, "page-info")[0].text

    # Go to id: the page that holds it, the item as the query.
    box = by_testid(browser, "goto-id")[0]
    box.send_keys("1000", Keys.ENTER)
    grid = ready(browser, "item-grid", offset=960)
    assert 1000 in tiles(grid, "item-tile")[0]
    ready(browser, "neighbours", query_id=1000)
    selected = grid.find_element(By.CSS_SELECTOR, ".tile.selected")
    assert selected.get_attribute("data-item-id") == "1000"
    assert severe(browser) == []


def test_an_item_shows_the_neighbours_of_the_api(browser, live_server, bundles):
    name = bundles[0]["name"]
    open_page(browser, live_server)
    grid = ready(browser, "item-grid", offset=0)
    query = 7
    tile = grid.find_element(By.CSS_SELECTOR, f'[data-item-id="{query}"]')
    assert tile.tag_name == "button"  # reachable and pressed with the keyboard
    tile.click()
    box = ready(browser, "neighbours", query_id=query, k=12)
    expected = call(live_server, f"/bundles/{name}/search", {"ids": [query], "k": 12})
    result = expected["results"][0]
    assert tiles(box, "neighbour-tile") == (result["ids"], result["distances"])
    # Marked relevant exactly when the neighbour shares the query's class.
    query_label = labels_of(live_server, name, [query])[0]
    labels = labels_of(live_server, name, result["ids"])
    marks = ["true" if label == query_label else "false" for label in labels]
    assert relevance(by_testid(box, "neighbour-tile")) == marks
    note = by_testid(browser, "neighbours-note")[0].text
    assert f"{marks.count('true')} of 12 share the query's class" in note
    assert (
        by_testid(browser, "query-bits")[0].text.replace(" ", "")
        == call(live_server, f"/bundles/{name}/items/{query}")["bits"]
    )

    # k from the number box.
    by_testid(browser, "k-input")[0].send_keys(Keys.CONTROL, "a", Keys.NULL, "5", Keys.ENTER)
    box = ready(browser, "neighbours", query_id=query, k=5)
    result = call(live_server, f"/bundles/{name}/search", {"ids": [query], "k": 5})["results"][0]
    assert tiles(box, "neighbour-tile") == (result["ids"], result["distances"])

    # Re-ranking: the API's order and its scores.
    by_testid(browser, "rerank")[0].click()
    box = ready(browser, "neighbours", query_id=query, k=5, rerank="true")
    body = {"ids": [query], "k": 5, "rerank": True}
    result = call(live_server, f"/bundles/{name}/search", body)["results"][0]
    assert tiles(box, "neighbour-tile") == (result["ids"], result["distances"])
    shown = by_testid(box, "neighbour-tile")
    assert [float(t.get_attribute("data-score") or "nan") for t in shown] == result["scores"]

    # A neighbour is a query in turn.
    by_testid(box, "neighbour-tile")[1].click()
    ready(browser, "neighbours", query_id=result["ids"][1])
    assert severe(browser) == []


def move_slider(driver: WebDriver, radius: int) -> None:
    slider = by_testid(driver, "radius-slider")[0]
    slider.send_keys(Keys.HOME, *([Keys.ARROW_RIGHT] * radius))


def test_the_radius_slider_shows_the_count_and_precision_of_the_api(browser, live_server, bundles):
    name, n_bits = bundles[0]["name"], bundles[0]["n_bits"]
    query = 12
    open_page(browser, live_server)
    ready(browser, "item-grid", offset=0).find_element(
        By.CSS_SELECTOR, f'[data-item-id="{query}"]'
    ).click()
    slider = by_testid(browser, "radius-slider")[0]
    assert slider.get_attribute("max") == str(min(n_bits, 16))
    profile = call(live_server, f"/bundles/{name}/profile", {"ids": [query], "max_radius": 16})
    # Item 12 has no other item at distance 0 (precision undefined) and some within 3 and 6.
    assert profile["candidates"][0] == 0 and profile["candidates"][3] > 0
    for radius in (3, 0, 6):
        move_slider(browser, radius)
        readout = ready(browser, "radius-readout", query_id=query, radius=radius)
        found = call(live_server, f"/bundles/{name}/search", {"ids": [query], "radius": radius})
        ids = found["results"][0]["ids"]
        precision = profile["precision"][radius]
        assert int(readout.get_attribute("data-count") or -1) == len(ids)
        assert by_testid(readout, "radius-count")[0].text == f"{len(ids):,}"
        shown_precision = by_testid(readout, "radius-precision")[0].text
        if precision is None:  # no item within the radius
            assert ids == []
            assert readout.get_attribute("data-precision") == ""
            assert shown_precision.startswith("\u2013")  # an en dash: undefined
        else:
            assert float(readout.get_attribute("data-precision") or "nan") == precision
            assert shown_precision == f"{precision:.3f}"
        shown = tiles(by_testid(browser, "radius-items")[0], "radius-tile")
        assert shown == (ids[:48], found["results"][0]["distances"][:48])
    # The chart: one bar per radius with the profile's counts, the chosen one highlighted.
    bars = by_testid(browser, "profile-bar")
    assert [int(bar.get_attribute("data-count") or -1) for bar in bars] == profile["candidates"]
    chosen = [
        b.get_attribute("data-radius") for b in bars if "selected" in b.get_attribute("class")
    ]
    assert chosen == ["6"]
    table = by_testid(browser, "profile-table")[0].get_attribute("textContent") or ""
    assert f"{profile['precision'][6]:.3f}" in table
    assert severe(browser) == []


def test_a_deep_link_opens_its_bundle_query_and_radius(browser, live_server, bundles):
    name = bundles[1]["name"]
    open_page(browser, live_server, f"#bundle={name}&q=9&r=1")
    readout = ready(browser, "radius-readout", bundle=name, query_id=9, radius=1)
    found = call(live_server, f"/bundles/{name}/search", {"ids": [9], "radius": 1})
    assert int(readout.get_attribute("data-count") or -1) == len(found["results"][0]["ids"])
    assert severe(browser) == []


def test_the_statistics_draw_one_bar_per_bit(browser, live_server, bundles):
    open_page(browser, live_server)
    by_testid(browser, "tab-stats")[0].click()
    for bundle in bundles:
        name = bundle["name"]
        Select(by_testid(browser, "bundle-select")[0]).select_by_value(name)
        box = ready(browser, "stats", bundle=name)
        stats = call(live_server, f"/bundles/{name}/stats")
        bits = by_testid(box, "bit-bar")
        assert len(bits) == bundle["n_bits"]
        balance = [float(bar.get_attribute("data-value") or "nan") for bar in bits]
        assert balance == stats["bit_balance"]
        histogram = stats["bucket_histogram"]["buckets"]
        last = max(i for i, count in enumerate(histogram) if count)
        buckets = by_testid(box, "bucket-bar")
        sizes = [int(bar.get_attribute("data-value") or -1) for bar in buckets]
        assert sizes == histogram[: last + 1]
        labels = box.get_attribute("textContent") or ""
        for axis in ("bit", "fraction of ones", "items in the bucket", "buckets"):
            assert axis in labels
        assert by_testid(box, "balance-chart")[0].is_displayed()
    assert severe(browser) == []


def check_compare(driver: WebDriver, base: str, query: int, names: list[str]) -> None:
    rows_box = ready(driver, "compare-rows", query_id=query)
    rows = by_testid(rows_box, "compare-row")
    assert [row.get_attribute("data-bundle") for row in rows] == names
    summaries = {b["name"]: b for b in call(base, "/bundles")}
    for row in rows:
        name = row.get_attribute("data-bundle") or ""
        result = call(base, f"/bundles/{name}/search", {"ids": [query], "k": 12})["results"][0]
        assert tiles(row, "compare-tile") == (result["ids"], result["distances"])
        label = f"{summaries[name]['label']} · {summaries[name]['n_bits']} bits"
        assert by_testid(row, "compare-label")[0].text == label
    # Precision per radius for the same query, one line per bundle, and as a table.
    lines = by_testid(driver, "compare-line")
    assert [line.get_attribute("data-bundle") for line in lines] == names
    table = by_testid(driver, "compare-table")[0].find_elements(By.CSS_SELECTOR, "tbody tr")
    for name, row in zip(names, table, strict=True):
        body = {"ids": [query], "max_radius": min(summaries[name]["n_bits"], 16)}
        precision = call(base, f"/bundles/{name}/profile", body)["precision"]
        cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        assert cells == ["\u2013" if p is None else f"{p:.3f}" for p in precision]


def test_the_compare_view_shows_each_bundle_s_neighbours(browser, live_server, bundles):
    open_page(browser, live_server, "#q=21")
    ready(browser, "neighbours", query_id=21)
    by_testid(browser, "tab-compare")[0].click()
    # The current query is compared first ...
    check_compare(browser, live_server, 21, [b["name"] for b in bundles])
    # ... then any id typed in.
    box = by_testid(browser, "compare-id")[0]
    box.clear()
    box.send_keys("1500", Keys.ENTER)
    check_compare(browser, live_server, 1500, [b["name"] for b in bundles])
    assert by_testid(browser, "compare-note")[0].text == ""
    assert severe(browser) == []


@pytest.fixture(scope="module")
def mixed_server(digits_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The digits bundle beside one of 300 digits only: their ids name different items.

    Served in this process (a uvicorn thread): everything it imports is loaded already, so
    it starts in a fraction of a second where a ``hashlearn serve`` process takes seconds.
    """
    import uvicorn

    from hashlearn.serve.app import create_app
    from hashlearn.serve.server import load_services

    small = build_bundle(
        BuildConfig(
            dataset="digits", method="lsh", n_bits=8, limit=300,
            out=tmp_path_factory.mktemp("small") / "digits-300",
        ),
        say=lambda message: None,
    )  # fmt: skip
    app = create_app(load_services([digits_bundle, small]))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_the_compare_view_says_which_bundles_cannot_share_ids(browser, mixed_server):
    big, small = call(mixed_server, "/bundles")
    open_page(browser, mixed_server, f"#bundle={big['name']}&q=4&view=compare")
    check_compare(browser, mixed_server, 4, [big["name"]])
    note = by_testid(browser, "compare-note")[0].text
    assert f"Not compared: {small['name']} (digits, 300 items)" in note
    assert severe(browser) == []


def test_an_uploaded_image_shows_the_neighbours_of_search_image(
    browser, live_server, bundles, tmp_path
):
    name = bundles[0]["name"]
    image_url = f"{live_server}/api/v1/bundles/{name}/items/42/image.png"
    with urllib.request.urlopen(image_url) as answer:
        png = answer.read()
    path = tmp_path / "digit-42.png"
    path.write_bytes(png)
    open_page(browser, live_server)
    ready(browser, "item-grid", offset=0)
    by_testid(browser, "upload-input")[0].send_keys(str(path))
    box = ready(browser, "neighbours", query_id="upload", k=12)
    expected = call(live_server, f"/bundles/{name}/search/image?k=12&max_radius=16", raw=png)
    result = expected["results"][0]
    assert tiles(box, "neighbour-tile") == (result["ids"], result["distances"])
    # No label for an upload: nothing is marked relevant or not.
    assert set(relevance(by_testid(box, "neighbour-tile"))) == {None}
    # Its Hamming ball, searched by its code.
    move_slider(browser, 2)
    readout = ready(browser, "radius-readout", query_id="upload", radius=2)
    found = call(live_server, f"/bundles/{name}/search", {"codes": [expected["code"]], "radius": 2})
    assert int(readout.get_attribute("data-count") or -1) == len(found["results"][0]["ids"])
    assert severe(browser) == []


def test_api_errors_are_shown_to_the_user(browser, live_server, bundles, tmp_path):
    name = bundles[0]["name"]
    open_page(browser, live_server)
    ready(browser, "item-grid", offset=0)
    # An id past the end: the page shows the API's own message.
    box = by_testid(browser, "goto-id")[0]
    box.send_keys("5000", Keys.ENTER)
    assert error_detail(live_server, f"/bundles/{name}/items/5000") in message(browser)
    browser.find_element(By.ID, "message-close").click()
    wait_for(browser, lambda d: not d.find_element(By.ID, "message").is_displayed())

    # A file that is not an image: the 422 of search/image.
    junk = tmp_path / "not-an-image.png"
    junk.write_bytes(b"these bytes are no PNG")
    by_testid(browser, "upload-input")[0].send_keys(str(junk))
    detail = error_detail(live_server, f"/bundles/{name}/search/image", raw=junk.read_bytes())
    # Pillow's message names the in-memory file by its address, which differs per request.
    detail = _ADDRESS.sub("", detail)
    wait_for(browser, lambda d: detail in _ADDRESS.sub("", message(d)))

    # A compare query past the end: the 404 of search.
    by_testid(browser, "tab-compare")[0].click()
    box = by_testid(browser, "compare-id")[0]
    box.clear()
    box.send_keys("99999", Keys.ENTER)
    detail = error_detail(live_server, f"/bundles/{name}/search", {"ids": [99999], "k": 12})
    wait_for(browser, lambda d: detail in message(d))
    # The console holds only the refused requests, no error of the page itself.
    assert all("Failed to load resource" in entry for entry in severe(browser))


def test_an_unreadable_upload_is_refused_in_words_the_user_can_read(live_server, bundles):
    name = bundles[0]["name"]
    detail = error_detail(live_server, f"/bundles/{name}/search/image", raw=b"no image")
    assert "the upload is not" in detail
    assert not _ADDRESS.search(detail) and "BytesIO" not in detail
