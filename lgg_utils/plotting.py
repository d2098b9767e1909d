"""One figure style for the whole course: FLAIR in grey, truth as a green outline, predictions in magenta."""
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.colors import to_rgb
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay

FLAIR = 1  # channel order: pre-contrast, FLAIR, post-contrast
CHANNELS = ("pre-contrast", "FLAIR", "post-contrast")
TRUE_COLOUR = "#00e676"  # green: ground truth (outline, light fill)
PRED_COLOUR = "#ff00ff"  # magenta: prediction (fill); green and magenta stay apart for colour-blind readers
SPLIT_COLOURS = {"train": "#0072b2", "val": "#e69f00", "test": "#cc79a7"}



def use_style():
    """Apply the course's figure style (seaborn's whitegrid, grey images); chapters and the app call it."""
    sns.set_theme(context="notebook", style="whitegrid")
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "image.cmap": "gray", "axes.titlesize": "medium"})


def _fill(ax, mask, colour, alpha):
    """Paint the pixels of a binary mask in ``colour`` at ``alpha`` over what the axes shows."""
    rgba = np.zeros(mask.shape[:2] + (4,))
    rgba[mask[..., 0] > 0.5] = (*to_rgb(colour), alpha)
    ax.imshow(rgba, interpolation="nearest")


def draw_slice(ax, image, mask=None, pred=None, title=None, channel=FLAIR, alpha=0.35):
    """One slice's channel in grey, the true mask as a green outline and fill, a prediction as a magenta fill."""
    ax.imshow(image[..., channel], cmap="gray", vmin=0, vmax=image.max() or 1, interpolation="nearest")
    if pred is not None and pred.max() > 0.5:
        _fill(ax, pred, PRED_COLOUR, 0.45)
    if mask is not None and mask.max() > 0.5:
        _fill(ax, mask, TRUE_COLOUR, alpha)
        ax.contour(mask[..., 0], levels=[0.5], colors=[TRUE_COLOUR], linewidths=1.2)
    ax.set_title(title or "")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


def legend(fig, prediction=False):
    """A figure legend for the overlay colours."""
    handles = [Line2D([], [], color=TRUE_COLOUR, lw=2, label="true mask")]
    if prediction:
        handles.append(Patch(color=PRED_COLOUR, alpha=0.6, label="predicted mask"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)


def slice_grid(images, masks=None, preds=None, titles=None, ncols=4, size=2.6, suptitle=None):
    """A grid of overlaid slices; returns the figure."""
    n = len(images)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, (size + 0.5) * nrows + 0.6), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        draw_slice(ax, images[i], None if masks is None else masks[i], None if preds is None else preds[i],
                   None if titles is None else titles[i])
    if suptitle:
        fig.suptitle(suptitle)
    legend(fig, prediction=preds is not None)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def channel_row(image, mask, title=None, size=2.6):
    """The three MRI sequences of one slice side by side, then FLAIR with the mask overlaid."""
    fig, axes = plt.subplots(1, 4, figsize=(4 * size, size + 0.8))
    for c, name in enumerate(CHANNELS):
        draw_slice(axes[c], image, title=name, channel=c)
    draw_slice(axes[3], image, mask, title="FLAIR + mask")
    if title:
        fig.suptitle(title)
    legend(fig)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def silent_line(ax, silent, label="never finding a tumour"):
    """A dashed grey line at ``silent``, the score of a model that never finds a tumour (``scoring.silent_dice``)."""
    return ax.axhline(silent, color="grey", ls="--", label=f"{label} ({silent:.2f})")


def training_curves(history, metric, kept, title=None, silent=None):
    """Loss and ``metric`` per epoch for training and validation, the epoch whose weights were ``kept`` marked;
    ``silent``: the validation ``metric`` of a model that never finds a tumour, drawn as a reference."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, key in zip(axes, ("loss", metric)):
        ax.plot(history.index, history[key], label="train", color=SPLIT_COLOURS["train"])
        ax.plot(history.index, history[f"val_{key}"], label="validation", color=SPLIT_COLOURS["val"])
        ax.axvline(kept, color="grey", ls=":", label=f"kept epoch ({kept})")
        ax.set(xlabel="epoch", ylabel=key, title=key)
    axes[0].legend()
    if silent is not None:  # this legend holds the reference line only: the others are in the loss panel's
        axes[1].legend(handles=[silent_line(axes[1], silent, "validation, never finding a tumour")])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def pick_examples(scores, n=8, seed=0):
    """Row positions of ``n`` slices to show: tumour slices from small to large, and two without tumour."""
    tumour = scores.index[scores.tumour].to_numpy()
    order = tumour[np.argsort(scores.true_pixels.to_numpy()[scores.tumour.to_numpy()])]
    picked = order[np.linspace(0, len(order) - 1, min(n - 2, len(order))).astype(int)] if len(order) else order
    empty = scores.index[~scores.tumour].to_numpy()
    rng = np.random.default_rng(seed)
    return np.r_[picked, rng.choice(empty, min(n - len(picked), len(empty)), replace=False)].astype(int)


def prediction_grid(images, truth, probabilities, scores, n=8, suptitle=None):
    """Slices chosen by ``examples`` with true (green) and predicted (magenta) masks, titled with Dice."""
    rows = pick_examples(scores, n)
    titles = [f"{scores.patient[r][5:]} #{scores.slice[r]}\nDice {scores.dice[r]:.2f}" for r in rows]
    preds = (probabilities[rows] > 0.5).astype("float32")
    return slice_grid(images[rows], truth[rows], preds, titles=titles, suptitle=suptitle)


def classifier_panels(curves, threshold):
    """The test patients' confusion matrix at ``threshold`` beside the ROC curves of ``curves`` (named
    (truth, probability) pairs, "test" among them), each curve with its point at ``threshold`` marked."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    truth, probability = curves["test"]
    ConfusionMatrixDisplay.from_predictions(truth, probability >= threshold, labels=[0, 1], cmap="Blues",
                                            display_labels=["no tumour", "tumour"], colorbar=False, ax=left)
    left.set_title(f"Test patients, threshold {threshold:.2f}")
    for i, (name, (truth, probability)) in enumerate(curves.items()):
        line = RocCurveDisplay.from_predictions(truth, probability, name=name, ax=right,
                                                plot_chance_level=i == len(curves) - 1).line_
        line.set_color(SPLIT_COLOURS.get(name, line.get_color()))
        predicted = probability >= threshold
        right.plot(predicted[truth == 0].mean(), predicted[truth == 1].mean(), "o", color=line.get_color())
    right.set_title(f"ROC (dots: threshold {threshold:.2f})")
    right.legend(loc="lower right")
    fig.tight_layout()
    return fig


def loss_response(table):
    """Each loss against the number of wrong pixels, one panel per kind of error (``loss_experiments.loss_response``)."""
    kinds = table.error.unique()
    fig, axes = plt.subplots(1, len(kinds), figsize=(10, 3.6), sharey=True)
    for ax, kind in zip(axes, kinds):
        sns.lineplot(table[table.error == kind], x="pixels", y="value", hue="loss", marker="o", ax=ax,
                     legend=ax is axes[-1])
        ax.set(xlabel=f"{kind} (pixels)", ylabel="loss", title=kind)
    sns.move_legend(axes[-1], "upper left", bbox_to_anchor=(1, 1))
    fig.tight_layout()
    return fig


def focal_gradient(gammas):
    """How hard the focal Tversky loss (1 - T) ** gamma pushes a slice whose Tversky index is T: the size of
    its gradient, gamma (1 - T) ** (gamma - 1), for each gamma (1 is the plain Tversky loss)."""
    index = np.linspace(0, 0.99, 100)
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for gamma in gammas:
        ax.plot(index, gamma * (1 - index) ** (gamma - 1), label=f"gamma {gamma:g}")
    ax.set(xlabel="Tversky index T", ylabel="|d loss / d T|", yscale="log",
           title="Focal Tversky loss: gradient size")
    ax.legend()
    return fig


def heatmaps(grids, label):
    """Annotated heatmaps of same-shaped tables side by side, titled by their keys, on one colour scale."""
    fig, axes = plt.subplots(1, len(grids), figsize=(5.2 * len(grids), 4.4))
    high = max(grid.to_numpy().max() for grid in grids.values())
    for ax, (title, grid) in zip(np.atleast_1d(axes), grids.items()):
        sns.heatmap(grid, annot=True, fmt=".2f", cmap="viridis", vmin=0, vmax=high, ax=ax,
                    cbar_kws={"label": label}, annot_kws={"size": 7})
        ax.set_title(title)
    fig.tight_layout()
    return fig


def patient_dice(ax, patients):
    """Per-patient Dice of each model (``evaluate.patient_scores_by_model``): a box per model, a dot per patient."""
    sns.boxplot(patients, x="model", y="dice", hue="mode", ax=ax, fliersize=0, boxprops={"alpha": 0.4})
    sns.stripplot(patients, x="model", y="dice", hue="mode", dodge=True, ax=ax, legend=False, size=5)
    ax.set(ylim=(0, 1.02), ylabel="Dice per patient (3-D)", xlabel="")


def demo_figure(image, mask, truth=None, title=None):
    """The demo's three panels: the slice (FLAIR), the predicted mask, and the overlay with the true outline."""
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.8))
    draw_slice(axes[0], image, title="FLAIR")
    draw_slice(axes[1], mask[..., None].repeat(3, axis=-1).astype(float), title="predicted mask")
    overlay = "prediction (magenta)" + (" and truth (green)" if truth is not None else "")
    draw_slice(axes[2], image, None if truth is None else truth[..., None], mask[..., None], title=overlay)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def intensity_curves(before, after):
    """The FLAIR intensities of a few patients' brains (a density line per patient), divided by 255 (left) and
    prepared per volume (right); returns the figure."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for ax, values, title in zip(axes, (before, after), ("divided by 255", "per volume: clipped and z-scored")):
        for patient, intensities in values.items():
            sns.kdeplot(intensities, ax=ax, label=patient, cut=0)
        ax.set(title=title, xlabel="FLAIR intensity", ylabel="density")
    axes[1].legend(fontsize="small", title="patient")
    fig.tight_layout()
    return fig


def threshold_curves(table, post):
    """Per-patient Dice against the mask threshold (``recipe.score_thresholds``) with the post-processing ``post``,
    a line per run, the validation patients left and the test patients right; a circle marks a run's threshold
    chosen on validation where ``post`` is the post-processing chosen with it. Returns the figure."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    rows = table[table["post-processing"] == post]
    for ax, part in zip(axes, ("val", "test")):
        shown = rows[rows.split == part]
        sns.lineplot(shown, x="threshold", y="patient dice", hue="step", marker="o", ax=ax, legend=ax is axes[0])
        chosen = shown[shown.chosen]
        ax.scatter(chosen.threshold, chosen["patient dice"], s=160, facecolors="none", edgecolors="black",
                   label="chosen on validation")
        ax.axvline(0.5, color="grey", ls=":")
        ax.set(title=f"{'validation' if part == 'val' else 'test'} patients ({post})", xlabel="mask threshold",
               ylabel="Dice per patient (3-D), mean")
    axes[0].legend(fontsize="small")
    fig.tight_layout()
    return fig


def neighbour_input(image, mask, title=None, size=2.8):
    """A 2.5-D input (``pipeline.with_neighbours``: the slice's sequences, then the slice before's and the slice
    after's) as FLAIR of the slice before, the slice and the slice after: the slice with its true mask, its
    neighbours with the mask's outline only, so the reader sees how the tumour continues. Returns the figure."""
    fig, axes = plt.subplots(1, 3, figsize=(3 * size, size + 0.8))
    for ax, (block, name) in zip(axes, ((1, "slice before"), (0, "the slice"), (2, "slice after"))):
        draw_slice(ax, image, mask, title=f"FLAIR, {name}", channel=block * len(CHANNELS) + FLAIR,
                   alpha=0.0 if block else 0.35)
    if title:
        fig.suptitle(title)
    legend(fig)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def sampling_chances(slices, patient, weights, tumour_share):
    """One patient's slices in a table of training slices: their tumour area (top) and the chance each is drawn,
    per draw from the table, with ``tumour_share`` of the draws from tumour slices (``training.Recipe``'s, for
    every segmenter) and by ``weights`` (bottom; summing to 1 over the table). Returns the figure."""
    tumour = (slices.tumour_pixels > 0).to_numpy()
    by_share = np.where(tumour, tumour_share / tumour.sum(), (1 - tumour_share) / (~tumour).sum())
    mine = (slices.patient == patient).to_numpy()
    number = slices.slice[mine]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 4.4), sharex=True, height_ratios=(1, 2))
    top.bar(number, slices.tumour_pixels[mine], color=TRUE_COLOUR)
    top.set(ylabel="tumour pixels", title=f"{patient}: which slices training draws")
    for chances, label in ((by_share, f"{tumour_share:.0%} from tumour slices, uniformly"), (weights, "by tumour area")):
        bottom.step(number, np.asarray(chances)[mine] * 100, where="mid", label=label)
    bottom.set(xlabel="slice", ylabel="chance per draw (%)")
    bottom.legend(fontsize="small")
    fig.tight_layout()
    return fig


def slice_errors(table, steps, post):
    """Each of ``steps``' false-positive slices against its missed tumour slices (``recipe.score_steps`` rows) with
    the post-processing ``post``, a point per step, the validation patients left and the test patients right:
    where an ensemble's errors lie among its members'. Returns the figure."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    rows = table[table.step.isin(steps) & (table["post-processing"] == post)]
    for ax, part in zip(axes, ("val", "test")):
        shown = rows[rows.split == part]
        sns.scatterplot(shown, x="false-positive slices", y="missed tumour slices", hue="step", hue_order=steps,
                        s=70, ax=ax, legend=ax is axes[1])
        ax.set(title=f"{'validation' if part == 'val' else 'test'} patients ({post})", xlim=(0, None), ylim=(0, None))
    sns.move_legend(axes[1], "upper left", bbox_to_anchor=(1.02, 1), fontsize="small", title=None)
    fig.tight_layout()
    return fig
