"""Figures for the notebooks, one module per topic; each imports matplotlib only when called."""
