"""Stroke data sets: generated with the real brush, or the Kaggle MyPaintBrushstrokes shards."""
