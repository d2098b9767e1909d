import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from lgg_utils import data, pipeline


def test_batches_have_the_profile_shape_types_and_ranges(sample_slices):
    batch = next(iter(pipeline.make_dataset(sample_slices, 48, 8, training=True, target="both")))
    images, (masks, labels) = batch
    assert images.shape == (8, 48, 48, 3) and masks.shape == (8, 48, 48, 1) and labels.shape == (8,)
    assert images.dtype == masks.dtype == tf.float32 and labels.dtype == tf.int32
    assert 0.0 <= images.numpy().min() and images.numpy().max() <= 1.0
    assert set(np.unique(masks)) <= {0.0, 1.0}
    assert np.array_equal(labels, masks.numpy().max(axis=(1, 2, 3)).astype(int))


def test_evaluation_order_follows_the_table_and_labels_match_it(sample_slices):
    rows = sample_slices.iloc[:40]
    labels = np.concatenate([y.numpy() for _, y in pipeline.make_dataset(rows, 32, 16, target="label")])
    assert np.array_equal(labels, rows.tumour.to_numpy().astype(int))


def test_loaded_image_is_the_resized_file(sample_slices):
    row = sample_slices.iloc[10]
    image, mask = pipeline.load_pair(row.image_path, row.mask_path, 256)
    assert np.array_equal(image.numpy(), data.read_slice(row.image_path))
    assert np.array_equal(mask.numpy() * 255, data.read_slice(row.mask_path, mask=True))


def test_training_data_is_reproducible_per_seed_and_reshuffled_each_epoch(sample_slices):
    def two_epochs(seed):
        batches = pipeline.make_dataset(sample_slices.iloc[:20], 16, 20, training=True, seed=seed).repeat(2)
        return [images.numpy() for images, _ in batches]

    first, again = two_epochs(1), two_epochs(1)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], first[1])


def test_other_sizes_are_resized_to_the_profile(kaggle_dir):
    from conftest import write_slice

    write_slice(kaggle_dir / "TCGA_CS_1000_20000101", "TCGA_CS_1000_20000101", 5, tumour=True, size=300)
    with pytest.warns(UserWarning, match="1 slice"):
        table = data.slice_table(kaggle_dir, progress=False)
    images, masks = pipeline.load_arrays(table, 64)
    assert images.shape == (len(table), 64, 64, 3) and masks.shape == (len(table), 64, 64, 1)


def test_unknown_target_and_empty_table_are_clear_errors(sample_slices):
    with pytest.raises(ValueError, match="target='boxes'"):
        pipeline.make_dataset(sample_slices, 32, 4, target="boxes")
    with pytest.raises(ValueError, match="slice table is empty"):
        pipeline.make_dataset(sample_slices.iloc[:0], 32, 4)


def test_a_file_broken_after_the_scan_is_named_by_the_pipeline(kaggle_dir):
    table = data.slice_table(kaggle_dir, progress=False)
    broken = table.image_path.iloc[3]
    with open(broken, "r+b") as handle:
        handle.truncate(100)
    with pytest.raises(tf.errors.OpError, match=f"Cannot read {broken}"):
        pipeline.load_arrays(table, 32)


def test_tumour_share_sets_how_often_tumour_slices_are_drawn(sample_slices):
    batches = pipeline.make_dataset(sample_slices, 16, 32, training=True, target="label", tumour_share=0.8)
    labels = np.concatenate([y.numpy() for _, y in batches.repeat(3)])
    assert len(labels) == 3 * (len(sample_slices) // 32) * 32
    assert 0.7 < labels.mean() < 0.9  # the table itself has about 40% tumour slices
    with pytest.raises(ValueError, match="tumour_share"):
        pipeline.make_dataset(sample_slices[sample_slices.tumour], 16, 8, training=True, tumour_share=0.5)


def test_tumour_area_weights_draw_patients_equally_and_their_slices_by_area_over_a_floor():
    slices = pd.DataFrame({"patient": list("abcabacb"), "tumour_pixels": [0, 0, 4, 10, 0, 50, 4, 0]})
    weights = pd.Series(pipeline.tumour_area_weights(slices), slices.index)
    assert np.allclose(weights.groupby(slices.patient).sum(), 1 / 3)
    floor = 0.1 * 60 / 3  # a tenth of patient a's mean tumour area per slice
    a, b, c = (slices.patient == name for name in "abc")
    assert np.allclose(weights[a], np.array([floor, 10 + floor, 50 + floor]) / (60 + 3 * floor) / 3)
    assert np.allclose(weights[b], 1 / 9) and np.allclose(weights[c], 1 / 6)  # b without tumour: uniform


def test_weights_set_how_often_each_slice_is_drawn_anew_each_epoch(sample_slices):
    small, large = sample_slices[sample_slices.tumour].sort_values("tumour_pixels").index[[0, -1]]
    weights = pd.Series(0.0, sample_slices.index)
    weights[[small, large]] = 1, 3  # the largest tumour three times as often as the smallest, nothing else

    def epochs(seed, count):
        batches = pipeline.make_dataset(sample_slices, 32, 32, training=True, weights=weights.to_numpy(), seed=seed,
                                        augmentation=None)
        assert int(batches.cardinality()) == -(-len(sample_slices) // 32)  # Keras knows an epoch's length
        return [np.concatenate([y.numpy().sum(axis=(1, 2, 3)) for _, y in batches]) for _ in range(count)]

    drawn = epochs(seed=1, count=3)
    areas = pipeline.load_arrays(sample_slices.loc[[small, large]], 32)[1].sum(axis=(1, 2, 3))
    assert all(len(epoch) == len(sample_slices) for epoch in drawn)  # an epoch stays as long as the table
    assert set(np.concatenate(drawn)) == set(areas)  # only the two weighted slices
    assert 0.65 < np.mean(np.concatenate(drawn) == areas[1]) < 0.85
    assert not np.array_equal(drawn[0], drawn[1])  # drawn anew each epoch
    assert np.array_equal(epochs(seed=1, count=1)[0], drawn[0])  # the seed fixes the draws


def test_weights_of_another_length_are_refused(sample_slices):
    with pytest.raises(ValueError, match=f"weights: got 1 for {len(sample_slices)} slices; compute one per row"):
        pipeline.make_dataset(sample_slices, 16, 8, training=True, weights=[1.0])


@pytest.mark.parametrize("value", [-1.0, np.nan, np.inf, 0.0])
def test_weights_that_cannot_be_drawn_from_are_refused(sample_slices, value):
    with pytest.raises(ValueError, match="weights must be finite, at least 0 and not all 0"):
        pipeline.make_dataset(sample_slices, 16, 8, training=True, weights=np.full(len(sample_slices), value))


def test_tumour_share_and_weights_are_not_given_together(sample_slices):
    with pytest.raises(ValueError, match="tumour_share or weights"):
        pipeline.make_dataset(sample_slices, 16, 8, training=True, tumour_share=0.5,
                              weights=np.ones(len(sample_slices)))


def test_without_volume_statistics_images_are_divided_by_255(sample_slices):
    rows = sample_slices.iloc[:8]
    images, _ = pipeline.load_arrays(rows, 32)
    raw = np.stack([pipeline.load_pair(r.image_path, r.mask_path, 32)[0].numpy() for r in rows.itertuples()])
    assert np.array_equal(images, raw.astype(np.float32) / 255.0)


def test_volume_statistics_z_score_each_patient_and_need_every_patient(sample_slices):
    from lgg_utils import volumes

    patient = sample_slices[sample_slices.patient == sample_slices.patient.iloc[0]]
    table = volumes.volume_table(patient, progress=False)
    images, _ = pipeline.load_arrays(patient, 64, volumes=table)
    assert np.allclose(images.mean(axis=(0, 1, 2)), 0, atol=0.1) and np.allclose(images.std(axis=(0, 1, 2)), 1, atol=0.1)
    with pytest.raises(ValueError, match="No volume statistics for patient"):
        pipeline.load_arrays(sample_slices, 32, volumes=table)


def test_with_neighbours_each_slice_gets_the_sequences_of_the_slices_beside_it_in_its_volume(sample_slices):
    from lgg_utils import volumes

    table = pipeline.with_neighbours(sample_slices.sample(frac=1, random_state=0))  # in any order
    ordered = table.sort_values(["patient", "slice"])
    for _, rows in ordered.groupby("patient"):
        assert list(rows.previous_path) == [rows.image_path.iloc[0], *rows.image_path.iloc[:-1]]  # at the ends: its own
        assert list(rows.next_path) == [*rows.image_path.iloc[1:], rows.image_path.iloc[-1]]
    rows = ordered[ordered.patient == ordered.patient.iloc[0]]
    stats = volumes.volume_table(rows, progress=False)  # a neighbour's sequences take the volume's statistics too
    images, _ = pipeline.load_arrays(rows, 32, volumes=stats)
    alone, _ = pipeline.load_arrays(pipeline.for_channels(rows, 3), 32, volumes=stats)
    assert images.shape[-1] == 9 and alone.shape[-1] == 3 and np.array_equal(images[..., :3], alone)
    assert np.array_equal(images[1:, ..., 3:6], alone[:-1]) and np.array_equal(images[:-1, ..., 6:], alone[1:])


def test_a_slice_whose_neighbour_is_not_in_the_table_is_its_own_neighbour(sample_slices):
    rows = sample_slices[sample_slices.patient == sample_slices.patient.iloc[0]].sort_values("slice")
    gap = pipeline.with_neighbours(rows.drop(rows.index[2]))  # slice 3 missing (a pair deleted)
    assert gap.loc[rows.index[1], "next_path"] == rows.image_path.iloc[1]
    assert gap.loc[rows.index[3], "previous_path"] == rows.image_path.iloc[3]
    tumour = rows[rows.tumour]
    assert pipeline.for_channels(pipeline.with_neighbours(rows).loc[tumour.index], 9).equals(
        pipeline.with_neighbours(rows).loc[tumour.index])  # neighbours already found are kept, not found again
    with pytest.raises(ValueError, match="3 .one slice's sequences. or 9"):
        pipeline.for_channels(rows, 5)


def test_crop_square_pads_past_the_edge_and_uncrop_puts_masks_back_in_place():
    array = np.arange(16).reshape(4, 4, 1)
    cut = pipeline.crop_square(array, (-1, 2, 3))
    assert cut.shape == (3, 3, 1) and (cut[0] == 0).all() and (cut[:, 2] == 0).all()
    assert np.array_equal(cut[1:, :2], array[:2, 2:])
    assert pipeline.crop_square(array, (0, 0, 0)) is array  # side 0: not cropped
    mask = np.zeros((64, 64, 1), np.float32)
    mask[20:40, 24:44] = 1
    box = (8, 4, 48, 64, 64)
    predicted = tf.image.resize(pipeline.crop_square(mask, box), [32, 32]).numpy()[None]
    placed = pipeline.uncrop(np.concatenate([predicted, predicted]), np.array([box, (0, 0, 0, 64, 64)]))
    expected = tf.image.resize(mask, [32, 32], antialias=True).numpy()
    assert np.mean((placed[0] > 0.5) == (expected > 0.5)) > 0.99
    assert np.array_equal(placed[1], predicted[0])  # a row without a box is left as it is


def test_a_volume_table_made_with_crop_cuts_each_slice_to_its_brain(sample_slices):
    from lgg_utils import volumes

    patient = sample_slices[sample_slices.patient == sample_slices.patient.iloc[0]]
    table = volumes.volume_table(patient, progress=False, crop=True)
    assert (pipeline.box_rows(patient, table[volumes.STATS]) == 0).all()
    boxes = pipeline.box_rows(patient, table)
    assert (boxes == table[volumes.BOX].to_numpy()).all()
    row = patient.iloc[len(patient) // 2]
    image, mask = pipeline.load_pair(row.image_path, row.mask_path, 32, boxes[0])
    expected = pipeline.resize_slice(pipeline.crop_square(data.read_slice(row.image_path), boxes[0]), 32)
    assert np.array_equal(image.numpy(), expected.numpy())


@pytest.mark.parametrize("off", [None, False])
def test_training_without_augmentation_shows_the_slices_unchanged(sample_slices, off):
    rows = sample_slices.iloc[:16]
    plain = pipeline.make_dataset(rows, 32, 16)
    shuffled = pipeline.make_dataset(rows, 32, 16, training=True, augmentation=off)
    key = lambda images: np.sort(images.numpy().reshape(len(images), -1).sum(axis=1))  # order-free
    assert np.allclose(key(next(iter(plain))[0]), key(next(iter(shuffled))[0]))


def test_another_augmentation_function_replaces_chapter_1s(sample_slices):
    from lgg_utils import augmentation

    rows = sample_slices.iloc[:16]
    flipped = pipeline.make_dataset(rows, 32, 16, training=True, augmentation=augmentation.flip)
    plain = pipeline.make_dataset(rows, 32, 16)
    key = lambda images: np.sort(images.numpy().reshape(len(images), -1).sum(axis=1))  # a flip keeps each sum
    assert np.allclose(key(next(iter(plain))[0]), key(next(iter(flipped))[0]), atol=1e-3)
