import pandas as pd
import pytest

from lgg_utils import chapter_times

ROOT = chapter_times.project_root(chapter_times.Path(__file__).parent)


def test_the_notebooks_are_timed_in_the_order_of_the_table_of_contents():
    stems = [path.stem for path in chapter_times.book_notebooks(ROOT)]
    assert stems[:9] == [f"0{n}_{name}" for n, name in enumerate(
        ["data", "classifier", "unet", "resunet", "vgg19_unet", "losses", "evaluation", "recipe", "demo"], start=1)]
    assert stems[-1] == "solutions"


def test_a_new_measurement_replaces_its_profiles_rows_only():
    old = pd.DataFrame([["03_unet", "fast", 50.0, "m", "d"], ["03_unet", "laptop", 2400.0, "m", "d"]],
                       columns=chapter_times.COLUMNS)
    new = pd.DataFrame([["03_unet", "fast", 60.0, "m", "e"]], columns=chapter_times.COLUMNS)
    merged = chapter_times.merge(old, new)
    assert sorted(zip(merged.profile, merged.seconds)) == [("fast", 60.0), ("laptop", 2400.0)]


def test_a_chapter_says_how_long_it_took_in_the_active_profile_only():
    times = pd.DataFrame([["03_unet", "fast", 57.0, "2 cores, CPU X", "2026-11-27"]], columns=chapter_times.COLUMNS)
    assert chapter_times.chapter_time("03_unet", "fast", times) == (
        "57 s on 2 cores, CPU X (measured 2026-11-27, from a fresh start: models trained, not loaded)")
    assert chapter_times.chapter_time("03_unet", "class", times) is None
    assert chapter_times.chapter_time("04_resunet", "fast", times) is None


@pytest.mark.parametrize("seconds, words", [(40, "40 s"), (720, "12 min"), (9000, "2 h 30 min")])
def test_duration_in_words(seconds, words):
    assert chapter_times.duration(seconds) == words


def test_the_shipped_table_times_every_notebook_of_the_book_in_the_fast_profile():
    times = chapter_times.read_times()
    fast = set(times[times.profile == "fast"].chapter)
    assert fast == {path.stem for path in chapter_times.book_notebooks(ROOT)}


def test_the_machine_names_its_cores():
    assert "cores" in chapter_times.machine()
