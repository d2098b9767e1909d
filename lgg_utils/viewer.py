"""The demo chapter's interface (ipywidgets): a patient, a slider through the volume or an upload, and a
segmenter; the cascade of ``demo`` runs on every change. Works in JupyterLab and Colab; headless, the
callbacks can be called directly."""
import html

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import HTML

from . import demo, plotting
from .data import read_slice


class Viewer:
    """Pick a patient and slice (or upload an image) and a segmenter; see the cascade's result."""

    def __init__(self, slices, models, threshold):
        self.slices = slices.set_index(["patient", "slice"]).sort_index()
        self.models = models
        self.threshold = threshold
        patients = list(self.slices.index.unique("patient"))
        self.patient = widgets.Dropdown(options=patients, description="Patient")
        self.slice = widgets.IntSlider(description="Slice", continuous_update=False)
        self.model = widgets.Dropdown(options=[m for m in models if m != "classifier"], description="Segmenter")
        self.upload = widgets.FileUpload(accept=",".join(f".{f}" for f in demo.FORMATS), description="Upload")
        self.out = widgets.Output()
        self.result = self.figure = None
        self.lines = []
        self.patient.observe(self.on_patient, "value")
        self.slice.observe(self.on_slice, "value")
        self.model.observe(self.on_slice, "value")
        self.upload.observe(self.on_upload, "value")
        self.on_patient()

    def widget(self):
        """The interface, to display in a notebook."""
        return widgets.VBox([widgets.HBox([self.patient, self.slice]), widgets.HBox([self.model, self.upload]),
                             self.out])

    def on_patient(self, change=None):
        """A new patient: the slider spans their slices and starts at the one with the most tumour."""
        rows = self.slices.loc[self.patient.value]
        self.slice.unobserve(self.on_slice, "value")  # one analysis per patient, not one per bound moved
        self.slice.min, self.slice.max = int(rows.index.min()), int(rows.index.max())
        self.slice.value = int(rows.tumour_pixels.idxmax())
        self.slice.observe(self.on_slice, "value")
        self.on_slice()

    def on_slice(self, change=None):
        """Run the cascade on the chosen slice and show it with its true mask."""
        row = self.slices.loc[(self.patient.value, self.slice.value)]
        truth = read_slice(row.mask_path, mask=True)[..., 0] >= 128
        title = f"{self.patient.value}, slice {self.slice.value}"
        return self.show(read_slice(row.image_path), truth, title)

    def on_upload(self, change):
        """Run the cascade on an uploaded image; a file that is not an image gets a message, not an error."""
        upload = first_upload(change["new"])
        if upload is None:
            return None
        name, content = upload
        try:
            image, notes = demo.read_upload(content, name)
        except demo.UploadError as err:
            self.result = None
            self._render(None, [f"<b>Cannot use this file.</b> {html.escape(str(err))}"])
            return None
        return self.show(image, None, name, notes)

    def show(self, image, truth, title, notes=()):
        """Analyse one image and show the three panels, the counts and any notes."""
        self.result = demo.analyse(image, self.models[self.model.value], self.models.get("classifier"), self.threshold)
        self.figure = plotting.demo_figure(image, self.result.mask, truth, title)
        plt.close(self.figure)  # shown in the output area below, not again by the notebook
        style = "color:#b00020" if not self.result.detected else ""
        notes = [html.escape(note) for note in notes]  # an upload's name is the user's text, not HTML
        self._render(self.figure, [*notes, f"<b style='{style}'>{self.result.message(self.threshold)}</b>"])
        return self.result

    def _render(self, figure, lines):
        """Replace the output area's content with a figure and lines of HTML (kept in ``lines``)."""
        self.lines = lines
        self.out.outputs = ()  # set directly, not captured with `with self.out` (which can stall headless runs)
        if figure is not None:
            self.out.append_display_data(figure)
        self.out.append_display_data(HTML("<br>".join(lines)))


def first_upload(value):
    """The first uploaded file's name and bytes from a ``FileUpload`` value in either format: ipywidgets 8's tuple
    of dicts (``name``, ``content``, ...) or ipywidgets 7's dict name -> {``metadata``, ``content``}; None when empty."""
    if not value:
        return None
    if isinstance(value, dict):
        name, upload = next(iter(value.items()))
        return name, bytes(upload["content"])
    return value[0]["name"], bytes(value[0]["content"])
