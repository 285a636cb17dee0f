"""Numbers: how good a code is, how far training moved it, and a sweep's statistics."""
