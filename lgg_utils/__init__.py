"""Helpers for the course "Brain MRI segmentation with deep learning" (LGG, Buda et al. data).

One module per idea: ``config`` (profiles), ``data`` (finding and reading the data), ``splits``
(patient-level splits), ``augmentation``, ``pipeline`` (tf.data), ``models``, ``losses``, ``metrics``,
``training``, ``plotting``, ``benchmark``, ``chapter_times`` and ``notebook`` (chapter set-up, showing source).
"""
__version__ = "0.2.22"
