import pytest

from lgg_utils import config


def test_unset_profile_is_fast_without_gpu_and_class_with_one_and_says_why(monkeypatch):
    monkeypatch.setattr(config, "gpu_available", lambda: False)
    name, reason = config.profile_choice({})
    assert name == "fast" and "no GPU" in reason and "LGG_PROFILE=laptop" in reason
    monkeypatch.setattr(config, "gpu_available", lambda: True)
    name, reason = config.profile_choice({})
    assert name == "class" and "GPU is visible" in reason and "LGG_PROFILE=full" in reason
    assert config.profile_choice({"LGG_PROFILE": "full"}) == ("full", "LGG_PROFILE=full")


@pytest.mark.parametrize("colab, gpu, hint", [(True, False, True), (True, True, False), (False, False, False)])
def test_only_a_colab_runtime_without_gpu_is_told_how_to_get_one(monkeypatch, colab, gpu, hint):
    monkeypatch.setattr(config, "in_colab", lambda: colab)
    monkeypatch.setattr(config, "gpu_available", lambda: gpu)
    assert (config.runtime_hint() is not None) == hint
    if hint:
        assert "T4 GPU" in config.runtime_hint()
    assert config.profile_name({}) == ("class" if gpu else "fast")  # the same choice in Colab and out of it


def test_artifacts_live_on_drive_in_colab_when_it_is_mounted(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "DRIVE", tmp_path / "MyDrive")
    monkeypatch.setattr(config, "in_colab", lambda: True)
    assert config.colab_drive() is None and config.artifacts_root({}) != tmp_path / "MyDrive" / "lgg-course" / "artifacts"
    (tmp_path / "MyDrive").mkdir()
    assert config.artifacts_root({}) == tmp_path / "MyDrive" / "lgg-course" / "artifacts"
    assert config.artifacts_root({"LGG_ARTIFACTS_DIR": str(tmp_path / "mine")}) == tmp_path / "mine"
    monkeypatch.setattr(config, "in_colab", lambda: False)  # a local folder of that name is not Colab's Drive
    assert config.colab_drive() is None


def test_the_class_profile_sits_between_laptop_and_full():
    laptop, lesson, full = (config.PROFILES[n] for n in ("laptop", "class", "full"))
    assert laptop.image_size < lesson.image_size <= full.image_size and laptop.width < lesson.width < full.width
    assert lesson.patients is None and lesson.epochs < full.epochs


def test_named_profile_wins_over_gpu_detection(monkeypatch):
    monkeypatch.setattr(config, "gpu_available", lambda: True)
    assert config.profile_name({"LGG_PROFILE": "Laptop"}) == "laptop"


def test_unknown_profile_names_the_choices():
    with pytest.raises(ValueError, match="fast, laptop, class, full"):
        config.profile_name({"LGG_PROFILE": "huge"})


def test_profiles_grow_from_fast_to_full():
    fast, laptop, full = (config.PROFILES[n] for n in ("fast", "laptop", "full"))
    assert fast.image_size < laptop.image_size < full.image_size == 256
    assert fast.width < laptop.width < full.width == 1.0
    assert max(fast.epochs, laptop.epochs) < full.epochs  # fast's epochs are a few steps each: it may need more


def test_environment_overrides_single_settings():
    profile = config.get_profile("fast", env={"LGG_IMAGE_SIZE": "96", "LGG_WIDTH": "0.5", "LGG_PATIENTS": "3"})
    assert (profile.image_size, profile.width, profile.patients) == (96, 0.5, 3)
    assert profile.epochs == config.PROFILES["fast"].epochs
    assert config.overridden({"LGG_EPOCHS": "1", "LGG_PATIENTS": "20", "LGG_WIDTH": ""}) == [
        "epochs 1 (LGG_EPOCHS)", "patients 20 (LGG_PATIENTS)"]  # what each chapter's set-up prints


@pytest.mark.parametrize("value", ["big", "-4", "0"])
def test_bad_override_says_what_was_expected(value):
    with pytest.raises(ValueError, match="LGG_EPOCHS"):
        config.get_profile("fast", env={"LGG_EPOCHS": value})


def test_artifacts_live_in_the_checkout_per_profile_and_seed(tmp_path, monkeypatch):
    (tmp_path / "_toc.yml").write_text("root: intro\n")
    (tmp_path / "book" / "chapters").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "book" / "chapters")
    assert config.artifacts_dir(config.PROFILES["laptop"], env={}) == tmp_path / "artifacts" / "laptop" / "seed-42"
    elsewhere = config.artifacts_dir(config.get_profile("fast", env={"LGG_SEED": "7"}), env={"LGG_ARTIFACTS_DIR": "/x"})
    assert str(elsewhere) == "/x/fast/seed-7-split-42"  # the fast profile holds the same patients out for every seed
    assert config.get_profile("laptop", env={"LGG_SEED": "7"}).patient_seed == 7


def test_another_seed_is_another_split_not_a_conflict(tmp_path, sample_slices):
    from lgg_utils import data, splits

    patients = data.patient_table(sample_slices)
    made = {}
    for seed in (42, 7):
        profile = config.get_profile("fast", env={"LGG_SPLIT_SEED": str(seed)})
        folder = config.artifacts_dir(profile, env={"LGG_ARTIFACTS_DIR": str(tmp_path)})
        made[seed] = splits.make_splits(patients, folder / "splits.csv", seed=profile.patient_seed)
    assert not made[42].equals(made[7]) and len(list(tmp_path.glob("fast/seed-*/splits.csv"))) == 2
