"""Console screens and modals."""
