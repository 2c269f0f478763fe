"""saturate: find saturated activations and dead units in trained neural networks."""

__version__ = "0.1.0"
