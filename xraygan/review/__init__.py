"""Reviewing synthetic images: distances with a scale, memorisation, label fidelity, what networks attend to."""
