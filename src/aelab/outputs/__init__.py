"""Outputs: run and sweep folders (written atomically, read through one validated reader),
checkpoints, figures, the report and the animation. Everything here is a function of files;
nothing here trains."""
