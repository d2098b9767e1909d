import pytest

from lgg_utils import benchmark, config


def test_pipeline_report_compares_each_stage_with_the_model(sample_slices):
    profile = config.get_profile("fast", env={"LGG_IMAGE_SIZE": "32"})
    report = benchmark.pipeline_report(sample_slices.iloc[:32], profile, steps=2)
    assert len(report) == 3 and (report.images_per_s > 0).all()


def test_images_per_second_counts_every_image_of_the_dataset(sample_slices):
    from lgg_utils.pipeline import make_dataset

    count, seconds, rate = benchmark.images_per_second(make_dataset(sample_slices.iloc[:21], 32, batch_size=8))
    assert count == 21 and rate == count / seconds


def test_determinism_cost_times_a_step_with_deterministic_ops_off_and_on_and_restores_the_switch():
    from tensorflow.python.framework.config import is_op_determinism_enabled

    before = is_op_determinism_enabled()
    table = benchmark.determinism_cost(config.get_profile("fast", env={"LGG_IMAGE_SIZE": "16"}), steps=1, rounds=1)
    assert list(table.index) == ["deterministic ops off", "deterministic ops on"]
    assert (table.images_per_s > 0).all()
    assert table.times_off_rate.iloc[1] == pytest.approx(table.images_per_s.iloc[1] / table.images_per_s.iloc[0])
    assert is_op_determinism_enabled() == before


def test_forward_flops_count_two_per_multiply_add():
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = keras.layers.Conv2DTranspose(2, 2, strides=2)(x)
    outputs = keras.layers.Dense(5)(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    expected = 2 * 64 * 3 * 3 * 3 * 4 + 2 * 64 * 2 * 2 * 4 * 2 + 2 * 16 * 16 * 2 * 5
    assert benchmark.forward_flops(model) == expected
    assert benchmark.t4_minutes(model, images=1000, epochs=10) == pytest.approx(
        3 * expected * 1000 * 10 / benchmark.T4_FLOPS / 60)
