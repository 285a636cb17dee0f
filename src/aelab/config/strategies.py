"""Named training recipes.

A strategy says where fine-tuning starts (random or pretrained weights) and which losses it
minimises. Every strategy trains the same network (encoder, decoder, softmax head), so all of
them run side by side in one vectorised program: the differences are data, not code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Strategy:
    """One recipe: where fine-tuning starts and whether it keeps the reconstruction loss."""

    name: str
    from_pretrained: bool  # start from the pretrained autoencoder, else from random weights
    uses_recon: bool  # add recon_weight * reconstruction error to the cross-entropy
    summary: str


STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy(
            "supervised",
            from_pretrained=False,
            uses_recon=False,
            summary="encoder + softmax head from random weights, cross-entropy only",
        ),
        Strategy(
            "finetune",
            from_pretrained=True,
            uses_recon=False,
            summary="pretrain the autoencoder, then cross-entropy only, all weights updated",
        ),
        Strategy(
            "finetune-recon",
            from_pretrained=True,
            uses_recon=True,
            summary="pretrain, then cross-entropy + recon_weight * reconstruction error",
        ),
        Strategy(
            "joint",
            from_pretrained=False,
            uses_recon=True,
            summary="no pretraining: cross-entropy + recon_weight * reconstruction error",
        ),
    )
}

DEFAULT_STRATEGIES: tuple[str, ...] = tuple(STRATEGIES)


def same_at_lambda_zero() -> dict[str, str]:
    """Each strategy with a reconstruction term, and the strategy it is at λ = 0: the one with
    the same start and the cross-entropy alone (``finetune-recon`` is ``finetune``, ``joint``
    is ``supervised``). The objective then trains the same samples with the same loss, so a
    sweep's summary shows the two as one model."""
    return {
        s.name: t.name
        for s in STRATEGIES.values()
        if s.uses_recon
        for t in STRATEGIES.values()
        if not t.uses_recon and t.from_pretrained == s.from_pretrained
    }
