"""ipywidgets front ends; their logic lives in plain, tested functions elsewhere."""
