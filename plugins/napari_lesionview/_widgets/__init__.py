"""Dock widgets: each reads layers, calls one core function, and puts the result back."""
