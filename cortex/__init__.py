"""cortex-sim: competing generative models, settled and learned online."""
__version__ = "0.1.0"
