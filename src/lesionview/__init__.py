"""lesionview: spinal cord lesion measurement in physical space."""
__version__ = "0.1.0"
