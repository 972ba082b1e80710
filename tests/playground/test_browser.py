"""End to end in headless Chromium (Debian's chromium + chromedriver, driven by Selenium).

Each page is loaded from a real playground server: training in the playground lowers the test
loss and changes the boundary picture; a digit drawn with the mouse gets a prediction; a clicked
word gets neighbours; the attention page shows a translation and its heat map; bad inputs show the
server's message. Screenshots go to $EMBER_TEST_ARTIFACTS (or the test's tmp dir).
"""
import os
import re
from pathlib import Path

import pytest
from playground_helpers import shared_cache_dir, start_server, stop_server, tiny_dates_model
from selenium import webdriver  # a test dependency: its absence is a failure, not a skip
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from system_programs import require_program

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server():
    server = start_server(cache_dir=shared_cache_dir(), dates_model=tiny_dates_model(), keepalive=0.5)
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def driver():
    chromium = require_program("chromium", "apt-get install chromium chromium-driver")
    chromedriver = require_program("chromedriver", "apt-get install chromium chromium-driver")
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never download a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", "--disable-extensions"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    folder = os.environ.get("EMBER_TEST_ARTIFACTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("playground-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _open(driver, server, page):
    driver.get(f"{server.url}#{page}")
    WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.body.dataset.ready === '1'"))


def _text(driver, element_id):
    return driver.find_element(By.ID, element_id).text


def _until(driver, condition, timeout=30, message=""):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition, message)


def _boundary(driver):
    return driver.execute_script("return document.getElementById('pg-boundary').toDataURL()")


# -- the playground --------------------------------------------------------------------------------


def test_playground_training_lowers_test_loss_and_changes_boundary(driver, server, artifacts):
    _open(driver, server, "playground")
    _until(driver, lambda d: d.execute_script("return (window.playgroundFrames || 0) >= 1"), 20, "no first frame")
    assert _text(driver, "pg-epoch") == "0"
    first_loss, first_picture = float(_text(driver, "pg-test-loss")), _boundary(driver)
    assert len(driver.find_elements(By.CSS_SELECTOR, "#pg-network canvas")) == 2 + 4 + 2  # features, 4, 2 neurons
    driver.find_element(By.ID, "pg-start").click()
    _until(driver, lambda d: int(_text(d, "pg-epoch")) >= 30 and float(_text(d, "pg-test-loss")) < 0.7 * first_loss,
           40, "the test loss did not fall")
    driver.find_element(By.ID, "pg-start").click()  # pause
    _until(driver, lambda d: _text(d, "pg-state") == "paused", 10, "did not pause")
    assert _boundary(driver) != first_picture
    driver.save_screenshot(str(artifacts / "playground.png"))
    epoch = int(_text(driver, "pg-epoch"))
    driver.find_element(By.ID, "pg-step").click()
    _until(driver, lambda d: int(_text(d, "pg-epoch")) == epoch + 1, 10, "step did not run one epoch")


def test_playground_bad_setting_shows_the_server_message(driver, server, artifacts):
    _open(driver, server, "playground")
    field = driver.find_element(By.ID, "pg-hidden")
    field.clear()
    field.send_keys("4, 99")
    driver.find_element(By.ID, "pg-apply").click()
    _until(driver, lambda d: "hidden" in _text(d, "pg-error"), 10, "no error shown")
    assert "[1, 16]" in _text(driver, "pg-error")
    driver.save_screenshot(str(artifacts / "playground-error.png"))


# -- convolution and LeNet-5 -----------------------------------------------------------------------


def test_convolution_output_and_receptive_field(driver, server, artifacts):
    _open(driver, server, "convolution")
    _until(driver, lambda d: d.execute_script("return document.getElementById('conv-output').dataset.ready === '1'"),
           20, "no convolution output")
    output = driver.find_element(By.ID, "conv-output")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", output)
    ActionChains(driver).move_to_element_with_offset(output, 10, -20).perform()
    _until(driver, lambda d: "receptive field: rows" in _text(d, "conv-rf-info"), 10, "no receptive field")
    assert re.search(r"a 3×3 window", _text(driver, "conv-rf-info"))
    driver.save_screenshot(str(artifacts / "convolution.png"))
    matrix = driver.find_element(By.ID, "conv-matrix")
    matrix.clear()
    matrix.send_keys("1 2\n3")
    driver.find_element(By.ID, "conv-apply").click()
    _until(driver, lambda d: "rectangular matrix" in _text(d, "conv-error"), 10, "a ragged kernel was not refused")


def test_drawn_digit_gets_a_prediction_and_feature_maps(driver, server, artifacts):
    _open(driver, server, "convolution")
    pad = driver.find_element(By.ID, "digit-canvas")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", pad)
    chain = ActionChains(driver).move_to_element_with_offset(pad, 0, -80).click_and_hold()
    for dy in range(-70, 90, 10):  # a vertical stroke: a one
        chain.move_to_element_with_offset(pad, 0, dy)
    chain.release().perform()
    _until(driver, lambda d: re.fullmatch(r"\d", _text(d, "digit-prediction")) is not None, 40, "no prediction")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#digit-probs div")) == 10
    maps = driver.find_elements(By.CSS_SELECTOR, "#digit-layers .fmap-layer")
    assert len(maps) == 6 and len(maps[0].find_elements(By.TAG_NAME, "canvas")) == 6  # conv1's six maps
    driver.save_screenshot(str(artifacts / "digit.png"))
    driver.find_element(By.ID, "digit-clear").click()
    driver.find_element(By.ID, "digit-predict").click()
    _until(driver, lambda d: "empty" in _text(d, "digit-error"), 10, "an empty drawing was not refused")


# -- embeddings ------------------------------------------------------------------------------------


def test_clicked_word_gets_neighbours(driver, server, artifacts):
    _open(driver, server, "embeddings")
    _until(driver, lambda d: "showing" in _text(d, "emb-source"), 40, "no word vectors")
    word = driver.execute_script(  # of the labelled words, the one drawn farthest from every other point
        "const e = window.playground.embeddings, at = e.words.map(w => e.position(w));"
        "let best = null, gap = -1;"
        "at.slice(0, 150).forEach((p, i) => { const d = Math.min(...at.map((q, j) => i === j ? 1e9 : "
        "Math.hypot(p[0] - q[0], p[1] - q[1]))); if (d > gap) { gap = d; best = e.words[i]; } });"
        "return best;")
    x, y = driver.execute_script("return window.playground.embeddings.position(arguments[0])", word)
    canvas = driver.find_element(By.ID, "emb-canvas")
    size = canvas.size
    ActionChains(driver).move_to_element_with_offset(canvas, round(x - size["width"] / 2),
                                                     round(y - size["height"] / 2)).click().perform()
    _until(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#emb-neighbours li")) == 10, 20, "no neighbours")
    assert driver.find_element(By.ID, "emb-word").get_attribute("value") == word
    driver.save_screenshot(str(artifacts / "embeddings.png"))
    field = driver.find_element(By.ID, "emb-word")
    field.clear()
    field.send_keys("qqqzzz")
    driver.find_element(By.ID, "emb-find").click()
    _until(driver, lambda d: "not in the vocabulary" in _text(d, "emb-error"), 10, "an unknown word was not refused")


# -- attention -------------------------------------------------------------------------------------


def test_attention_page_translates_and_draws_the_heat_map(driver, server, artifacts):
    _open(driver, server, "attention")
    _until(driver, lambda d: _text(d, "att-output") not in ("", "–"), 30, "no translation")
    assert "ready" in _text(driver, "att-status")
    assert driver.execute_script(
        "const c = document.getElementById('att-canvas');"
        "return c.getContext('2d').getImageData(60, 40, 1, 1).data[3]") == 255  # a drawn heat-map cell
    driver.save_screenshot(str(artifacts / "attention.png"))
    field = driver.find_element(By.ID, "att-text")
    field.clear()
    driver.find_element(By.ID, "att-translate").click()
    _until(driver, lambda d: "text" in _text(d, "att-error"), 10, "an empty text was not refused")
