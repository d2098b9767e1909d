"""The demo chapter's viewer: what it shows of an upload is text, never markup; both ipywidgets upload formats."""
import pytest

from lgg_utils.viewer import Viewer, first_upload
from test_demo import bright_flair_models


def test_an_uploads_name_is_shown_as_text_not_html(sample_slices):
    segmenter, classifier = bright_flair_models()
    viewer = Viewer(sample_slices, {"unet": segmenter, "classifier": classifier}, threshold=0.5)
    name = "<img src=x onerror=alert(1)>.png"
    viewer.on_upload({"new": ({"name": name, "content": memoryview(b"these are not pixels")},)})
    assert "not an image" in viewer.lines[0]
    assert "<img" not in viewer.lines[0] and "&lt;img src=x onerror=alert(1)&gt;.png" in viewer.lines[0]


PNG = b"\x89PNG fake bytes"


def test_an_upload_is_read_from_ipywidgets_8s_value():
    value = ({"name": "slice.png", "type": "image/png", "size": len(PNG), "content": memoryview(PNG), "last_modified": 0},)
    assert first_upload(value) == ("slice.png", PNG)


def test_an_upload_is_read_from_ipywidgets_7s_value():
    value = {"slice.png": {"metadata": {"name": "slice.png", "type": "image/png", "size": len(PNG)}, "content": PNG}}
    assert first_upload(value) == ("slice.png", PNG)


@pytest.mark.parametrize("empty", [(), {}, None])
def test_an_empty_upload_value_is_nothing(empty):
    assert first_upload(empty) is None
