"""The Streamlit app, headless: an upload with a tumour, one without, a bad upload, no models, a sample
slice; and the page in headless Chromium (skipped where Chromium is not installed)."""
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

AppTest = pytest.importorskip("streamlit.testing.v1", reason="the app's extra (streamlit) is not installed").AppTest

import browser
from conftest import save_as_trained
from test_demo import bright_flair_models, brain, encode

APP = Path(__file__).resolve().parents[1] / "lgg_utils" / "app.py"


@pytest.fixture
def artifacts(tmp_path, monkeypatch):
    """``LGG_ARTIFACTS_DIR`` with stand-in fast-profile models that mark bright FLAIR (threshold 0.5)."""
    segmenter, classifier = bright_flair_models()
    for name, model in {"unet": segmenter, "classifier": classifier}.items():
        save_as_trained(tmp_path / "fast" / "seed-42", name, model)
    (tmp_path / "fast" / "seed-42" / "classifier" / "metrics.json").write_text(json.dumps({"train": {"threshold": 0.5}}))
    monkeypatch.setenv("LGG_ARTIFACTS_DIR", str(tmp_path))
    return tmp_path


def upload(name, data, mime="image/png"):
    """The app after uploading one file."""
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    app.file_uploader[0].set_value((name, data, mime))
    return app.run()


def test_an_upload_with_a_tumour_shows_its_size_and_mask(artifacts):
    app = upload("tumour.png", encode(brain()))
    assert not app.exception and not app.error
    assert app.success[0].value.startswith("Tumour: ")
    pixels = int(app.metric[0].value.replace(",", ""))
    assert abs(pixels - 16 * 16) <= 40 and float(app.metric[2].value) > 0.99
    assert [r.label for r in app.sidebar.radio] == ["Segmenter"] and app.sidebar.radio[0].options == ["UNet"]
    assert len(app.get("download_button")) == 1


def test_an_upload_without_a_tumour_gets_the_alert(artifacts):
    app = upload("healthy.png", encode(brain(tumour=False)))
    assert not app.exception and not app.success
    assert app.warning[0].value.startswith("No tumour detected") and app.metric[0].value == "0"


def test_a_bad_upload_gets_a_message_not_a_crash(artifacts):
    app = upload("scan.png", b"this is a text file", "text/plain")
    assert not app.exception and "not an image" in app.error[0].value and not app.metric


def test_a_grayscale_upload_is_converted_with_a_note(artifacts):
    app = upload("flair.png", encode(brain()[..., 1]))
    assert not app.exception and any("one channel" in info.value for info in app.info)


def test_a_sample_slice_can_be_tried_without_an_upload(artifacts):
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    choice = app.sidebar.selectbox[1]
    app = choice.select(choice.options[1]).run()
    assert not app.exception and len(app.metric) == 3


def test_without_models_the_page_says_how_to_train_them(tmp_path, monkeypatch):
    monkeypatch.setenv("LGG_ARTIFACTS_DIR", str(tmp_path))
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not app.exception and "make book" in app.error[0].value and not app.file_uploader


@pytest.fixture
def server(artifacts):
    """``streamlit run`` of the app on a free port, stopped after the test."""
    port = browser.free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless=true",
               f"--server.port={port}", "--browser.gatherUsageStats=false"]
    process = subprocess.Popen(command, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        browser.wait_for(lambda: urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok",
                         120, "streamlit run to answer on /_stcore/health")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_page_loads_and_analyses_an_upload_in_headless_chromium(server, tmp_path):
    if shutil.which("chromium") is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it as root)")
    slice_file = tmp_path / "slice.png"
    slice_file.write_bytes(encode(brain()))
    with browser.chromium(server) as page:
        browser.wait_for(lambda: "find and outline a lower-grade glioma" in page.text(), 120, "the page's title")
        page.upload(slice_file)
        text = browser.wait_for(lambda: "Tumour pixels" in (t := page.text()) and t, 120, "the result")
        page.screenshot(tmp_path / "app.png")
    assert "Tumour: " in text and "slice.png" in text
    pixels = np.asarray(Image.open(tmp_path / "app.png").convert("L"))
    assert pixels.shape == (800, 1200) and pixels.std() > 5  # a rendered page, not a blank one


def test_the_server_and_the_upload_widget_take_no_more_than_the_apps_own_limit(artifacts):
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    from lgg_utils import demo

    limit_mb = demo.MAX_BYTES // 2**20
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    assert app.file_uploader[0].proto.max_upload_size_mb == limit_mb
    config = tomllib.loads((APP.parents[1] / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == limit_mb
