# nbgrader reads this file when run from the repository root (nbgrader commands, and the
# Formgrader of a JupyterLab started here). The course configuration itself is grading/nbgrader_config.py.
import os

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)
load_subconfig(os.path.join(os.path.dirname(os.path.abspath(__file__)), "grading", "nbgrader_config.py"))  # noqa: F821
