"""Every model family on digits: held-out accuracy of each strategy, reconstruction, wall time.

scikit-learn's 8x8 digits (1,797 images, 64 pixels), the default 50/50 stratified split, one
seed, the default 5,000 + 10,000 full-batch steps; code size 2 and 10. Each row is one
``aelab run``, timed in this process (compile included). Prints a Markdown table for
BENCHMARKS.md.

    python benchmarks/bench_families_digits.py [--seed 0] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import aelab

FAMILIES = {
    "ae, shallow (the original)": {},
    "ae, deep 64-32 relu": {"hidden": (64, 32), "activation": "relu"},
    "ae, deep, greedy pretraining": {"hidden": (64, 32), "activation": "relu"},
    "denoising ae, mask:0.25": {"hidden": (64, 32), "activation": "relu", "noise": "mask:0.25"},
    "ae with dropout 0.2": {"hidden": (64, 32), "activation": "relu", "dropout": 0.2},
    "vae, beta 1": {"hidden": (64, 32), "activation": "relu", "family": "vae"},
    "ae with batch norm": {"hidden": (64, 32), "activation": "relu", "batch_norm": True},
    "ladder network": {"hidden": (64, 32), "activation": "relu", "family": "ladder"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json")
    parser.add_argument("--only", help="run only the families whose label contains this")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for code in (2, 10):
            for label, model in FAMILIES.items():
                if args.only and args.only not in label:
                    continue
                greedy = "greedy" in label
                config = aelab.RunConfig(
                    seed=args.seed,
                    # standardised pixels, as when this table was first measured
                    data=aelab.DataConfig(dataset="digits", scaling="standard"),
                    model=aelab.ModelConfig(code=code, **model),
                    train=aelab.TrainConfig(pretraining="greedy" if greedy else "end-to-end"),
                )
                t0 = time.perf_counter()
                result = aelab.run(config, out=out)
                seconds = time.perf_counter() - t0
                s = result.metrics["strategies"]
                rows.append(
                    {
                        "family": label,
                        "code": code,
                        "seconds": seconds,
                        "pretrained_test_mse": result.metrics["pretrained"][
                            "test_reconstruction_mse"
                        ],
                        **{f"{k}_test_accuracy": v["test_accuracy"] for k, v in s.items()},
                        **{f"{k}_test_mse": v["test_reconstruction_mse"] for k, v in s.items()},
                    }
                )
                print(f"done: {label}, code {code}, {seconds:.1f} s", flush=True)
    strategies = ("supervised", "finetune", "finetune-recon", "joint")
    print("\n| family | code | " + " | ".join(strategies) + " | pretrained MSE | "
          "finetune-recon MSE | s |")  # fmt: skip
    print("| --- | ---: |" + " ---: |" * (len(strategies) + 3))
    for r in rows:
        accs = " | ".join(f"{r[f'{s}_test_accuracy']:.3f}" for s in strategies)
        print(
            f"| {r['family']} | {r['code']} | {accs} | {r['pretrained_test_mse']:.3f} | "
            f"{r['finetune-recon_test_mse']:.3f} | {r['seconds']:.0f} |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
