"""Painting a photo: canvas, optimiser, exports."""
