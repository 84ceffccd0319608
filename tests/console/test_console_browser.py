"""The web console end to end in headless chromium against a running ``qserv serve``: a cone
query typed and run (rows against a numpy brute force, the sky plot drawn), a CSV download, an
async job seen complete on "My work", an error marked at its position, and the operations
pages without, with a non-admin and with an admin token."""

import time

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from qserv.formats.votable import votable_bytes
from tests.api.conftest import objects_table
from tests.console.conftest import admin_json

RA_DEG, DEC_DEG, RADIUS_DEG = 40.0, 10.0, 20.0
CONE = (f"SELECT objectId, ra, decl, mag FROM sky.Object\n"
        f"WHERE CONTAINS(POINT('ICRS', ra, decl), CIRCLE('ICRS', {RA_DEG}, {DEC_DEG}, {RADIUS_DEG})) = 1")
WAIT_S = 20


def cone_ids():
    """objectIds within the cone, by brute force (haversine) over the generated rows."""
    rows = objects_table()
    ra, dec = np.radians(rows["ra"].to_numpy()), np.radians(rows["decl"].to_numpy())
    ra0, dec0 = np.radians(RA_DEG), np.radians(DEC_DEG)
    half = np.sin((dec - dec0) / 2) ** 2 + np.cos(dec) * np.cos(dec0) * np.sin((ra - ra0) / 2) ** 2
    inside = np.degrees(2 * np.arcsin(np.sqrt(half))) <= RADIUS_DEG
    return set(rows["objectId"].to_numpy()[inside].tolist())


def wait_for(browser, condition, seconds=WAIT_S):
    return WebDriverWait(browser, seconds, poll_frequency=0.1).until(lambda driver: condition())


def text_of(browser, element_id):
    return browser.find_element(By.ID, element_id).text


def type_query(browser, text):
    editor = browser.find_element(By.ID, "adql")
    editor.clear()
    editor.send_keys(text)


def use_token(browser, token):
    field = browser.find_element(By.ID, "token")
    field.clear()
    field.send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "#token-form button[type=submit]").click()


def open_page(browser, tab):
    browser.find_element(By.ID, f"tab-{tab}").click()
    wait_for(browser, lambda: browser.find_element(By.ID, f"page-{tab}").is_displayed())


@pytest.fixture(scope="module")
def page(browser, served):
    base, _, _ = served
    browser.get(base + "/")
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#browser summary")
             and len(browser.find_elements(By.CSS_SELECTOR, "#examples option")) > 1)
    return browser


def test_cone_query_rows_sky_and_csv(page, served, downloads, screenshot):
    expected = cone_ids()
    type_query(page, CONE)
    assert page.find_elements(By.CSS_SELECTOR, "#highlight .tk-kw")  # highlighted as typed
    page.find_element(By.ID, "run-sync").click()
    wait_for(page, lambda: "rows" in text_of(page, "status"))
    assert text_of(page, "status").startswith(f"{len(expected)} rows")
    header = [cell.text.split("\n")[0] for cell in page.find_elements(By.CSS_SELECTOR, "#result-table th")]
    assert header == ["objectId", "ra", "decl", "mag"]
    assert "[deg]" in page.find_element(By.CSS_SELECTOR, "#result-table th:nth-child(2)").text
    shown = {int(cell.text) for cell in page.find_elements(By.CSS_SELECTOR, "#result-table td:first-child")}
    assert shown <= expected and len(shown) == min(len(expected), 100)  # first page of 100 rows
    page.find_element(By.CSS_SELECTOR, "#result-table th button[data-column=objectId]").click()
    page.find_element(By.CSS_SELECTOR, "#result-table th button[data-column=objectId]").click()  # descending
    first = int(page.find_element(By.CSS_SELECTOR, "#result-table td:first-child").text)
    assert first == max(expected)
    screenshot("query")

    Select(page.find_element(By.ID, "format")).select_by_value("csv")
    page.find_element(By.ID, "download").click()
    target = downloads / "result.csv"
    wait_for(page, lambda: target.exists() and target.stat().st_size > 0)
    assert set(pa_csv.read_csv(target)["objectId"].to_pylist()) == expected

    open_page(page, "sky")
    assert page.execute_script("return SKY.points.length") == len(expected)
    yellow = page.execute_script("""
        const c = document.getElementById(arguments[0]);
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i + 1] > 160 && d[i + 2] < 120) n++;
        return n;""", "allsky")
    assert yellow >= len(expected)  # every position is a 2x2 dot; some may overlap, never fewer pixels than dots / 4
    Select(page.find_element(By.ID, "grid-table")).select_by_value("sky.Object")
    wait_for(page, lambda: "chunk order 4" in text_of(page, "sky-status"))
    assert page.execute_script("return SKY.regions.length") == 1
    screenshot("sky")
    open_page(page, "query")


def test_error_is_marked_at_its_position(page):
    type_query(page, "SELECT ra, FROM sky.Object")
    page.find_element(By.ID, "adql").send_keys(Keys.CONTROL, Keys.ENTER)  # runs it from the keyboard
    wait_for(page, lambda: page.find_element(By.ID, "error").is_displayed())
    assert "line 1, column" in text_of(page, "error")
    assert [span.text for span in page.find_elements(By.CSS_SELECTOR, "#highlight .tk-err")] == ["FROM"]


def test_browser_inserts_and_explain(page):
    type_query(page, "SELECT  FROM sky.Object WHERE CONTAINS(POINT('ICRS', ra, decl), CIRCLE('ICRS', 10, 10, 1)) = 1")
    page.execute_script("const t = document.getElementById('adql'); t.setSelectionRange(7, 7);")
    search = page.find_element(By.ID, "table-filter")
    search.clear()
    search.send_keys("mag")
    page.find_element(By.CSS_SELECTOR, "#browser button[aria-label='insert column mag']").click()
    assert page.find_element(By.ID, "adql").get_property("value").startswith("SELECT mag FROM sky.Object")
    page.find_element(By.ID, "run-explain").click()
    wait_for(page, lambda: page.find_element(By.ID, "explain").is_displayed())
    assert "spatial restrictor" in text_of(page, "explain") and "worker SQL" in text_of(page, "explain")
    search.clear()
    search.send_keys(" ")


def test_crossmatch_example_with_an_uploaded_file(page, tmp_path):
    rows = objects_table()
    picked = np.random.default_rng(7).choice(rows.num_rows, 12, replace=False)
    mine = pa.table({"ra": rows["ra"].to_numpy()[picked] - 2e-4, "dec": rows["decl"].to_numpy()[picked] + 1e-4})
    (tmp_path / "mine.vot").write_bytes(votable_bytes(mine))
    page.find_element(By.ID, "upload-file").send_keys(str(tmp_path / "mine.vot"))
    examples = Select(page.find_element(By.ID, "examples"))
    examples.select_by_visible_text(next(o.text for o in examples.options if o.text.startswith("Crossmatch")))
    assert "TAP_UPLOAD.mine" in page.find_element(By.ID, "adql").get_property("value")
    page.find_element(By.ID, "run-sync").click()
    wait_for(page, lambda: "rows" in text_of(page, "status") or page.find_element(By.ID, "error").is_displayed())
    got = page.execute_script("const i = QUERY.result.fields.findIndex(f => f.name === 'objectId');"
                              "return QUERY.result.rows.map(r => r[i]);")
    ra, dec = rows["ra"].to_numpy(), rows["decl"].to_numpy()
    cos_sep = (np.sin(np.radians(mine["dec"].to_numpy()))[:, None] * np.sin(np.radians(dec))[None, :]
               + np.cos(np.radians(mine["dec"].to_numpy()))[:, None] * np.cos(np.radians(dec))[None, :]
               * np.cos(np.radians(mine["ra"].to_numpy()[:, None] - ra[None, :])))
    within = np.degrees(np.arccos(np.clip(cos_sep, -1, 1))) * 3600 <= 2.0
    assert sorted(got) == sorted(rows["objectId"].to_numpy()[np.nonzero(within)[1]].tolist())
    assert len(got) >= 12
    page.execute_script("document.getElementById('upload-file').value = '';")


def test_async_job_completes_and_is_listed(page, served, screenshot):
    _, _, tokens = served
    use_token(page, tokens["alice"])
    wait_for(page, lambda: text_of(page, "who") == "as alice")
    type_query(page, CONE)
    page.find_element(By.ID, "run-async").click()
    wait_for(page, lambda: "COMPLETED" in text_of(page, "status"))
    assert f"{len(cone_ids())} rows" in text_of(page, "status")
    open_page(page, "work")
    wait_for(page, lambda: page.find_elements(By.CSS_SELECTOR, "#jobs tbody tr")
             and page.find_elements(By.CSS_SELECTOR, "#history tbody tr"))
    job = page.find_element(By.CSS_SELECTOR, "#jobs tbody tr")
    assert "COMPLETED" in job.text and str(len(cone_ids())) in job.text
    logged = [button.get_attribute("title").replace("\r\n", "\n")  # a form sends line breaks as CRLF
              for button in page.find_elements(By.CSS_SELECTOR, "#history .query-link")]
    assert CONE in logged
    screenshot("work")


def test_operations_need_an_admin_token(page, served, screenshot):
    base, _, tokens = served
    use_token(page, "")
    page.find_element(By.ID, "token-forget").click()
    open_page(page, "ops")
    wait_for(page, lambda: page.find_element(By.ID, "ops-denied").is_displayed())
    assert "administrator" in text_of(page, "ops-denied")
    screenshot("ops_denied")
    use_token(page, tokens["bob"])
    wait_for(page, lambda: "not an administrator" in text_of(page, "ops-denied"))

    verify = requests.post(f"{base}/admin/v1/databases/sky/verify", json={}, timeout=30,
                           headers={"Authorization": f"Bearer {tokens['root']}"})
    assert verify.status_code == 202
    use_token(page, tokens["root"])
    wait_for(page, lambda: page.find_element(By.ID, "ops-body").is_displayed()
             and "updated" in text_of(page, "ops-status"))
    job = verify.json()
    wait_for(page, lambda: f"{job['id']} verify sky" in text_of(page, "admin-jobs")
             or page.find_element(By.ID, "ops-refresh").click())
    assert page.find_elements(By.CSS_SELECTOR, "#admin-jobs [role=progressbar]")
    names = [row.find_element(By.CSS_SELECTOR, "td").text
             for row in page.find_elements(By.CSS_SELECTOR, "#workers tbody tr")]
    assert names == [worker["name"] for worker in admin_json(base, tokens["root"], "/workers")]
    assert "sky.Object" in text_of(page, "databases")
    wait_for(page, lambda: page.execute_script("return document.getElementById('chunk-map').naturalWidth") > 0)
    assert "Slowest" in text_of(page, "log-stats") and "CIRCLE" in text_of(page, "log-stats")
    time.sleep(0.3)  # the map image finishes painting
    screenshot("ops")


def test_no_request_leaves_the_server(page, served):
    base, _, _ = served
    urls = page.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert urls and all(url.startswith(base) or url.startswith(("blob:", "data:")) for url in urls)
    script_errors = [entry for entry in page.get_log("browser") if entry["level"] == "SEVERE"
                     and entry["source"] != "network"]  # the refused admin calls above are network entries
    assert not script_errors


def test_sky_projections_match_matplotlib_and_astropy(page):
    """The page's Mollweide against matplotlib's transform (and the equation solved by bisection),
    its gnomonic against an astropy TAN WCS, its offset points against SkyCoord.directional_offset_by."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord
    from astropy.wcs import WCS
    from matplotlib.projections.geo import MollweideAxes

    rng = np.random.default_rng(3)
    ra = rng.uniform(0, 360, 50)
    dec = np.degrees(np.arcsin(rng.uniform(-0.999, 0.999, 50)))
    points = np.column_stack([ra, dec]).tolist()
    got = np.array(page.execute_script("return arguments[0].map(([r, d]) => SKY.mollweide(r, d))", points))
    lon = -np.radians(ra - 180)  # RA 180 at the centre, increasing to the left
    expected = MollweideAxes.MollweideTransform(resolution=1).transform(np.column_stack([lon, np.radians(dec)]))
    np.testing.assert_allclose(got, expected / np.sqrt(2), atol=2e-3)  # matplotlib stops at 1e-3 rad
    low, high = np.full(ra.size, -np.pi / 2), np.full(ra.size, np.pi / 2)  # 2t + sin 2t = pi sin(dec) by bisection
    for _ in range(60):
        middle = (low + high) / 2
        above = 2 * middle + np.sin(2 * middle) > np.pi * np.sin(np.radians(dec))
        low, high = np.where(above, low, middle), np.where(above, middle, high)
    np.testing.assert_allclose(got, np.column_stack([2 / np.pi * lon * np.cos(low), np.sin(low)]), atol=1e-8)

    ra0, dec0 = 33.0, 61.0
    centre = SkyCoord(ra0, dec0, unit="deg")
    near = [p for p in points if SkyCoord(p[0], p[1], unit="deg").separation(centre).deg < 70]
    wcs = WCS(naxis=2)
    wcs.wcs.ctype, wcs.wcs.crval = ["RA---TAN", "DEC--TAN"], [ra0, dec0]
    wcs.wcs.crpix, wcs.wcs.cdelt = [0, 0], [-1, 1]  # degrees from the centre, RA increasing to the left
    got = np.array(page.execute_script(f"return arguments[0].map(([r, d]) => SKY.gnomonic(r, d, {ra0}, {dec0}))",
                                       near))
    np.testing.assert_allclose(got, wcs.wcs_world2pix(np.array(near), 1), atol=1e-6)  # 1: FITS pixels

    moved = np.array(page.execute_script("return arguments[0].map(([r, d]) => SKY.offset(r, d, 7.5, 40))", points))
    expected = SkyCoord(ra, dec, unit="deg").directional_offset_by(40 * u.deg, 7.5 * u.deg)
    separation = SkyCoord(moved[:, 0], moved[:, 1], unit="deg").separation(expected).arcsec
    assert separation.max() < 1e-3
