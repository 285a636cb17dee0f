"""Redraw docs/sweep.png, the README's sweep figure, from a finished sweep folder.

The README's figure is the 20-seed digits sweep of BENCHMARKS.md ("Does it help? The digits
sweep"), about 20 minutes on 2 cores:

    aelab sweep --dataset digits --seeds 20 --labels 5,10,40 --recon-weight 0,0.1,1,10 \\
        --name digits20
    python benchmarks/docs_sweep_figure.py sweeps/digits20

The figure is a pure function of the folder's results.csv (aelab.sweep_figure), drawn at the
size and resolution a sweep folder's own sweep.png has.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import aelab

DOCS = Path(__file__).resolve().parents[1] / "docs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="a finished sweep folder")
    parser.add_argument("--out", type=Path, default=DOCS / "sweep.png")
    args = parser.parse_args()
    results = aelab.load_sweep(args.sweep_dir)
    aelab.sweep_figure(results).savefig(args.out, dpi=110)
    print(f"wrote {args.out} from {args.sweep_dir / 'results.csv'} ({len(results)} rows)")


if __name__ == "__main__":
    main()
