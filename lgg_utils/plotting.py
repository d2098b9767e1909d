"""One figure style for the whole course: FLAIR in grey, truth as a green outline, predictions in magenta."""
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.colors import to_rgb
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

FLAIR = 1  # channel order: pre-contrast, FLAIR, post-contrast
CHANNELS = ("pre-contrast", "FLAIR", "post-contrast")
TRUE_COLOUR = "#00e676"  # green: ground truth (outline, light fill)
PRED_COLOUR = "#ff00ff"  # magenta: prediction (fill); green and magenta stay apart for colour-blind readers
SPLIT_COLOURS = {"train": "#0072b2", "val": "#e69f00", "test": "#cc79a7"}

sns.set_theme(context="notebook", style="whitegrid")
plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "image.cmap": "gray", "axes.titlesize": "medium"})


def _fill(ax, mask, colour, alpha):
    """Paint the pixels of a binary mask in ``colour`` at ``alpha`` over what the axes shows."""
    rgba = np.zeros(mask.shape[:2] + (4,))
    rgba[mask[..., 0] > 0.5] = (*to_rgb(colour), alpha)
    ax.imshow(rgba, interpolation="nearest")


def show_slice(ax, image, mask=None, pred=None, title=None, channel=FLAIR, alpha=0.35):
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
        show_slice(ax, images[i], None if masks is None else masks[i], None if preds is None else preds[i],
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
        show_slice(axes[c], image, title=name, channel=c)
    show_slice(axes[3], image, mask, title="FLAIR + mask")
    if title:
        fig.suptitle(title)
    legend(fig)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig
