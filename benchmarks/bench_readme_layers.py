"""The per-layer CKA numbers README.md quotes (its `aelab compare` section): the two digits runs
of that section, at their full steps, and each strategy's ``layer_cka_to_pretrained`` (h1, h2,
code) from their ``metrics.json``.

    python benchmarks/bench_readme_layers.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

COMMAND = ["run", "--dataset", "digits", "--hidden", "64,32", "--code", "10", "--quiet"]


def main() -> None:
    if os.environ.get("AELAB_MAX_STEPS"):
        raise SystemExit("unset AELAB_MAX_STEPS: these are the numbers of the full steps")
    with tempfile.TemporaryDirectory() as out:
        for seed in (0, 1):
            name = f"d{seed}"
            subprocess.run(
                [sys.executable, "-m", "aelab", *COMMAND, "--seed", str(seed), "--out", out,
                 "--name", name],
                check=True,
            )  # fmt: skip
            metrics = json.loads((Path(out) / name / "metrics.json").read_text())
            for strategy in ("finetune", "finetune-recon"):
                layers = metrics["strategies"][strategy]["layer_cka_to_pretrained"]
                print(f"seed {seed} {strategy}: " + ", ".join(f"{v:.3f}" for v in layers))


if __name__ == "__main__":
    main()
