"""Lesson 10b, deep fusion: early vs late fusion under a timing mismatch.

Not built yet: the ``deep-fusion`` plugin exists (plugins/deep_fusion), but this lesson's
experiment on the phantom is not written. The lesson is listed and says so plainly; it
runs nothing.
"""

from __future__ import annotations

from .base import Lesson

LESSON = Lesson(
    id="deep-fusion",
    chapter=11,
    title="Deep fusion: early vs late under timing mismatch",
    summary="Early fusion needs aligned inputs; late fusion degrades gracefully when timing is off.",
    text=(
        "Deep-learning fusion decodes each trial from its EEG and fMRI with small neural networks. *Early* "
        "fusion stacks both inputs into one network, which needs them aligned trial by trial; *late* fusion "
        "trains one network per modality and adds their outputs, so each still works alone.",
        "The experiment (early vs late fusion as the EEG's timing is shifted against the fMRI, on the phantom) "
        "is not built in this version. The deep-fusion plugin itself can be run with `workbench fuse deep-fusion`.",
    ),
    params=(),
    run_fn=None,
    questions=(),
    engine=("plugin deep-fusion",),
    unavailable_reason="the experiment of this lesson is not built yet (the deep-fusion plugin is installed; "
                       "run it with `workbench fuse deep-fusion`)",
)
