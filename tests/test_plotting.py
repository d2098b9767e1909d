import numpy as np
import pandas as pd

from lgg_utils import plotting


def test_examples_run_from_small_to_large_tumours_then_empty_slices():
    scores = pd.DataFrame({"tumour": [True, False, True, True, False, False],
                           "true_pixels": [50, 0, 10, 900, 0, 0]})
    rows = plotting.pick_examples(scores, n=5)
    assert rows[:3].tolist() == [2, 0, 3]  # 10, 50, 900 pixels
    assert set(rows[3:]) <= {1, 4, 5} and len(rows) == 5


def test_training_curves_mark_the_best_validation_epoch():
    history = pd.DataFrame({"loss": [1.0, 0.6, 0.5], "val_loss": [0.9, 0.4, 0.7],
                            "dice": [0.1, 0.5, 0.6], "val_dice": [0.1, 0.6, 0.5]}).rename_axis("epoch")
    fig = plotting.training_curves(history, "dice")
    assert [ax.get_title() for ax in fig.axes] == ["loss", "dice"]
    assert "best epoch (1)" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    plotting.plt.close(fig)
