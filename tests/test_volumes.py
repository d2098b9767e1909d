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
