"""cnnviz: see inside a convolutional network."""

__version__ = "0.1.0"
