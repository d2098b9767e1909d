"""The demo chapter's viewer: what it shows of an upload is text, never markup."""
from lgg_utils.viewer import Viewer
from test_demo import bright_flair_models


def test_an_uploads_name_is_shown_as_text_not_html(sample_slices):
    segmenter, classifier = bright_flair_models()
    viewer = Viewer(sample_slices, {"unet": segmenter, "classifier": classifier}, threshold=0.5)
    name = "<img src=x onerror=alert(1)>.png"
    viewer.on_upload({"new": ({"name": name, "content": memoryview(b"these are not pixels")},)})
    assert "not an image" in viewer.lines[0]
    assert "<img" not in viewer.lines[0] and "&lt;img src=x onerror=alert(1)&gt;.png" in viewer.lines[0]
