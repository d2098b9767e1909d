import numpy as np

from lgg_utils import volumes


def test_intensity_stats_clip_to_the_percentiles_and_give_each_channels_mean_and_spread():
    rng = np.random.default_rng(0)
    volume = rng.integers(0, 200, (4, 32, 32, 3)).astype(np.uint8)
    volume[..., 1] //= 2
    stats = volumes.intensity_stats(volume)
    assert stats["low"] == np.percentile(volume, 10) and stats["high"] == np.percentile(volume, 99)
    assert stats["mean_1"] < stats["mean_0"] and all(stats[f"std_{c}"] > 0 for c in range(3))
    blank = volumes.intensity_stats(np.zeros((2, 8, 8, 3), np.uint8))
    assert blank["high"] > blank["low"] and blank["std_0"] > 0  # usable on a blank volume


def test_volume_table_has_a_row_per_patient(sample_slices):
    table = volumes.volume_table(sample_slices, progress=False)
    assert list(table.index) == list(sample_slices.patient.unique())
    assert list(table.columns) == volumes.STATS and (table.high > table.low).all()


def test_brain_box_is_the_square_around_the_bright_voxels_centred_on_them():
    volume = np.zeros((3, 40, 60, 3), np.uint8)
    volume[1, 10:20, 5:35, 0] = 200  # the brain: 10 rows by 30 columns
    volume[2, 30:40, 50:60, 2] = 10  # dimmer than a tenth of the maximum: background
    assert volumes.brain_box(volume) == {"top": 0, "left": 5, "side": 30, "height": 40, "width": 60}
    blank = volumes.brain_box(np.zeros((2, 8, 6, 3), np.uint8))
    assert blank == {"top": 0, "left": 0, "side": 8, "height": 8, "width": 6}  # the whole slice


def test_a_volume_table_made_with_crop_adds_the_box_and_keeps_the_statistics(sample_slices):
    patient = sample_slices[sample_slices.patient == sample_slices.patient.iloc[0]]
    table = volumes.volume_table(patient, progress=False, crop=True)
    assert list(table.columns) == volumes.STATS + volumes.BOX
    assert table[volumes.STATS].equals(volumes.volume_table(patient, progress=False))
    assert (table.side > 0).all() and (table.side <= table[["height", "width"]].max(axis=1)).all()
