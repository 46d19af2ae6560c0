# nbgrader configuration of the cnncourse course (run nbgrader commands from the repository root).
# The fast, sandboxed grader is `cnncourse-grade` (docs/GRADING.md); this file lets nbgrader's own
# tools (formgrader, nbgrader export, validate, autograde) work on the same folders.
import os

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

here = os.path.dirname(os.path.abspath(__file__))
course_root = os.path.dirname(here)

c.CourseDirectory.root = course_root
c.CourseDirectory.course_id = "cnncourse"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
# Working folders live in grading/course/ (ignored by git).
c.CourseDirectory.submitted_directory = os.path.join("grading", "course", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("grading", "course", "autograded")
c.CourseDirectory.feedback_directory = os.path.join("grading", "course", "feedback")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(course_root, "grading", "course", "gradebook.db")
# The exchange of release -> fetch -> submit -> collect on one machine. On a JupyterHub, point this
# (and the students' workspace/nbgrader_config.py, written by cnncourse-workspace) at a shared folder.
c.Exchange.root = os.path.join(course_root, "grading", "exchange")
for folder in (os.path.join(course_root, "grading", "course"), c.Exchange.root):
    os.makedirs(folder, exist_ok=True)
if os.stat(c.Exchange.root).st_uid == os.getuid():
    os.chmod(c.Exchange.root, 0o777)  # every student's account submits into it

# `nbgrader export` and the Formgrader run `alembic` (a script of this environment) by name:
# put this environment's bin folder on PATH, so it is found without activating the venv.
import sys  # noqa: E402

os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")

# nbgrader 0.9 honours Execute.timeout (seconds per cell).
c.Execute.timeout = 120
# Hidden tests must not reach feedback, and an edited/deleted test cell is put back.
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import ClearHiddenTests, GetGrades  # noqa: E402

c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, ClearHiddenTests]
c.OverwriteCells.add_missing_cells = True
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
