"""Training: plans of many models, the compiled program that trains them, and their numbers."""
