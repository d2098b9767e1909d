import json
import sys

import numpy as np
import pandas as pd
import pytest

from lgg_utils import notebook, splits


def test_show_source_displays_the_packages_own_code(monkeypatch):
    shown = []
    monkeypatch.setattr(notebook, "display", shown.append)
    notebook.show_source(splits.split_patients)
    html = shown[0]._repr_html_()
    assert "split_patients" in html and "<span" in html  # highlighted


def test_setup_prints_the_profile_and_its_settings(monkeypatch, capsys):
    shown = []
    monkeypatch.setattr(notebook, "display", shown.append)
    monkeypatch.setenv("LGG_PROFILE", "fast")
    monkeypatch.delenv("LGG_DATA_DIR", raising=False)
    profile, data_dir = notebook.setup()
    assert "Profile 'fast'" in capsys.readouterr().out
    table = shown[0]
    assert table.loc["image_size", "value"] == str(profile.image_size)
    assert table.loc["data", "value"] == str(data_dir)


def test_big_profile_on_the_sample_is_flagged(monkeypatch, capsys):
    shown = []
    monkeypatch.setattr(notebook, "display", shown.append)
    monkeypatch.setenv("LGG_PROFILE", "laptop")
    monkeypatch.delenv("LGG_DATA_DIR", raising=False)
    monkeypatch.delenv("LGG_SPLIT_SEED", raising=False)
    profile, _ = notebook.setup()
    assert "its numbers are not results" in capsys.readouterr().out
    assert shown[0].loc["split_seed", "value"] == str(profile.seed)  # not set: the seed's, never "None"


def test_missing_data_folder_stops_setup(monkeypatch, tmp_path):
    monkeypatch.setattr(notebook, "display", lambda obj: None)
    monkeypatch.setenv("LGG_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(Exception, match="No data folder"):
        notebook.setup()


def test_layer_table_groups_layers_into_blocks_and_totals_the_parameters():
    from lgg_utils import models

    model = models.unet((32, 32, 3), width=0.125)
    table = notebook.layer_table(model)
    assert list(table.index[:3]) == ["image", "enc1", "enc2"] and table.index[-1] == "total"
    assert table.parameters.iloc[:-1].sum() == table.loc["total", "parameters"] == model.count_params()
    assert table.loc["mask", "output shape"] == "(32, 32, 1)"



def test_check_passes_above_its_bar_and_logs_value_and_bar(monkeypatch, tmp_path, capsys):
    log = tmp_path / "checks.jsonl"
    monkeypatch.setenv("LGG_CHECK_LOG", str(log))
    notebook.check("unet: Dice gain", 0.40, 0.25)
    notebook.check("unet: loss ratio", 0.5, 0.85, above=False)
    assert "margin +0.150" in capsys.readouterr().out
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records == [{"claim": "unet: Dice gain", "value": 0.4, "bar": 0.25, "above": True},
                       {"claim": "unet: loss ratio", "value": 0.5, "bar": 0.85, "above": False}]


@pytest.mark.parametrize("value, bar, above", [(0.2, 0.25, True), (0.25, 0.25, True), (0.9, 0.85, False)])
def test_check_fails_on_the_wrong_side_of_its_bar_and_still_logs(monkeypatch, tmp_path, value, bar, above):
    log = tmp_path / "checks.jsonl"
    monkeypatch.setenv("LGG_CHECK_LOG", str(log))
    with pytest.raises(AssertionError, match="unet: Dice gain"):
        notebook.check("unet: Dice gain", value, bar, above=above)
    assert json.loads(log.read_text())["value"] == value


def test_glue_without_myst_nb_shows_only_what_is_displayed(monkeypatch):
    shown = []
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # as in Colab: the book's tools are not installed
    monkeypatch.setattr(notebook.IPython.display, "display", shown.append)
    notebook.glue("quoted", 1.0, display=False)
    notebook.glue("shown", 2.0)
    assert shown == [2.0]


def test_glue_row_glues_each_named_column_as_a_float(monkeypatch):
    glued = {}
    monkeypatch.setattr("myst_nb.glue", lambda name, value, display: glued.update({name: (value, display)}))
    row = pd.Series({"patient dice": np.float32(0.5), "missed tumour slices": np.int64(3), "other": 9})
    notebook.glue_row("test_study", row, {"patient dice": "dice", "missed tumour slices": "missed"})
    assert glued == {"test_study_dice": (0.5, False), "test_study_missed": (3.0, False)}
    assert {type(value) for value, _ in glued.values()} == {float}  # the book's text role reads no NumPy scalar
