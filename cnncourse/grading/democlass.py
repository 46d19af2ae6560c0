"""The class that `cnncourse-grade demo` grades, and the scores it must get.

The demo has two parts, graded into one output folder and one gradebook:

1. `demo_numpy`, the demo class of grading/demo/ (shipped in the package as
   `cnncourse.grading.demo`): a small assignment and a class of students who each try a cheat
   or meet an accident (a dead kernel, a huge print, a symlink, an odd id). Their expected
   scores are in grading/demo/expected.json.
2. The course's own assignments, wherever the course repository is at hand (solutions/, and
   tests/fixtures/wrong_answers/ for the mistakes). Three students are made from the course's
   notebooks when the demo starts (`write_course_class`), so they always match the sources:

   - ahn hands in every assignment, answered as the solution answers it: full marks;
   - baek hands in every assignment with one typical mistake (`COURSE_MISTAKES`, a
     wrong-answer fixture): that exercise scores 0 and every other one full marks;
   - choi hands in only the first two: the first as released (nothing answered, 0), the second
     with the first half of its exercises answered. The rest show as missing.

   Their expected scores follow from the exercises' points in the sources (`course_expected`).
"""
from __future__ import annotations

import json
import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .release import answered_notebook
from .spec import AssignmentSpec, find_assignments

DEMO_ASSIGNMENT = "demo_numpy"
DEMO_BUDGET = 25.0   # seconds per demo_numpy submission: its slow student shows the cut-off

# The demo's cheats by link. A wheel cannot hold links (it stores their targets' bytes), so a
# demo class read from the installed package gets them back in its working copy
# (`tests/test_grading_ta.py` checks this table against grading/demo/).
DEMO_LINKS = {
    "submitted/cheat_symlink_file/demo_numpy/solution.ipynb.txt": "../../../solutions/demo_numpy/demo_numpy.ipynb",
    "submitted/cheat_symlink_notebook/demo_numpy/demo_numpy.ipynb": "../../../solutions/demo_numpy/demo_numpy.ipynb",
}

# baek's mistake in each course assignment: a fixture of tests/fixtures/wrong_answers/<assignment>/
# (its first line names the answer cell, its second says what is wrong). Every assignment of
# solutions/ has one (tests/test_grading_demo.py checks it).
COURSE_MISTAKES = {
    "01_backprop": "mul_no_swap",
    "02_deep_networks": "q4_no_rescale",
    "03_conv_arithmetic": "q4_forgets_2p",
    "04_im2col_conv_layer": "q3_assigns_not_adds",
    "05_pooling": "q4_ties_double_counted",
    "06_building_a_cnn": "q3_same_padding",
    "07_case_studies": "q6_rf_n_times_k",
    "08_generative_discriminative": "q3_ignores_prior",
    "09_gan_dcgan": "q5_conv_formula",
}
FIXTURES = Path("tests") / "fixtures" / "wrong_answers"   # relative to the course root
_FIXTURE_HEADER = re.compile(r"\A# grade_id: *(\S+)\n(?:# mistake: *(.*)\n)?")


@dataclass(frozen=True)
class Expected:
    """What the demo expects of one submission: its status, and its points per exercise when
    graded ({"q1": 2.0, ...}); `why` is the table's note when the grader has none."""
    status: str
    scores: dict[str, float] | None = None
    why: str = ""

    def matches(self, result) -> bool:
        if result.status != self.status:
            return False
        return result.status != "graded" or result.points() == self.scores


# ------------------------------------------------------------------------------ demo_numpy

def packaged_demo() -> Path | None:
    """The demo class shipped in the package (`cnncourse.grading.demo`, mapped from
    grading/demo/ at build time), or None when this install has none."""
    import importlib.resources
    try:
        folder = importlib.resources.files("cnncourse.grading.demo")
    except ModuleNotFoundError:
        return None
    marker = folder.joinpath("expected.json")   # a namespace package's files() is a MultiplexedPath
    return Path(str(marker)).parent if marker.is_file() and Path(str(marker)).is_file() else None


def demo_root(repo: Path) -> Path:
    """The bundled demo class: `repo`/grading/demo/ in a checkout, else the packaged copy."""
    folder = repo / "grading" / "demo"
    if (folder / "expected.json").is_file():
        return folder
    folder = packaged_demo()
    if folder is None:
        raise FileNotFoundError("the demo class is neither in the repository (grading/demo) nor in the "
                                "installed package; reinstall cnncourse")
    return folder


def prepare_demo(source: Path, target: Path) -> Path:
    """A working copy of the demo class at `target` (replaced), its links restored."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "__init__.py"))
    for name, link in DEMO_LINKS.items():
        path = target / name
        if path.exists() or path.is_symlink():
            path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(link)
    return target


def demo_expected(demo_class: Path) -> dict[tuple[str, str], Expected]:
    """(student, "demo_numpy") -> Expected, from the demo class's expected.json."""
    data = json.loads((demo_class / "expected.json").read_text(encoding="utf-8"))
    return {(student, DEMO_ASSIGNMENT): Expected(entry["status"], entry.get("scores"))
            for student, entry in data.items()}


# ------------------------------------------------------------------- the course's assignments

def read_fixture(path: Path) -> tuple[str, str, str]:
    """(answer grade_id, the mistake in words, the answer's source) of a wrong-answer fixture."""
    text = path.read_text(encoding="utf-8")
    match = _FIXTURE_HEADER.match(text)
    if match is None:
        raise ValueError(f"{path}: a fixture starts with '# grade_id: <answer cell>' "
                         "(then '# mistake: <what is wrong>')")
    return match.group(1), match.group(2) or path.stem, text


@dataclass(frozen=True)
class CourseSubmission:
    """One made-up submission of the course part: who, which assignment, what they hand in."""
    student: str
    assignment: str
    notebook: nbformat.NotebookNode
    expected: Expected


def course_submissions(course_root: Path, assignments: list[str] | None = None
                       ) -> list[CourseSubmission]:
    """ahn's, baek's and choi's submissions of the course's assignments (see the module
    docstring), made from `course_root`/solutions/ and its wrong-answer fixtures."""
    sources = find_assignments(course_root / "solutions")
    out = []
    for number, name in enumerate(n for n in sorted(sources) if n != DEMO_ASSIGNMENT):
        if assignments is not None and name not in assignments:
            continue
        spec = AssignmentSpec.from_source(sources[name][0], name)
        full = {ex.key: ex.points for ex in spec.exercises}
        out.append(CourseSubmission("ahn", name, answered_notebook(spec.nb),
                                    Expected("graded", full, "every answer as the solution's")))
        fixture = course_root / FIXTURES / name / f"{COURSE_MISTAKES.get(name, '')}.py"
        if name in COURSE_MISTAKES and fixture.is_file():
            grade_id, mistake, answer = read_fixture(fixture)
            wrong = spec.exercise(grade_id).key
            out.append(CourseSubmission("baek", name, answered_notebook(spec.nb, {grade_id: answer}),
                                        Expected("graded", {**full, wrong: 0.0}, f"{wrong}: {mistake}")))
        if number < 2:  # choi: the first as released, the second half answered, nothing else
            answer_ids = [ex.answer_id for ex in spec.exercises if ex.answer_id]
            left = answer_ids if number == 0 else answer_ids[len(answer_ids) // 2:]
            scores = {ex.key: 0.0 if ex.answer_id in left else ex.points for ex in spec.exercises}
            why = ("handed in as released: nothing answered" if number == 0 else
                   f"answered {len(answer_ids) - len(left)} of {len(answer_ids)} exercises")
            out.append(CourseSubmission("choi", name, answered_notebook(spec.nb, unanswered=left),
                                        Expected("graded", scores, why)))
    return out


def write_course_class(course_root: Path, target: Path, assignments: list[str] | None = None
                       ) -> dict[tuple[str, str], Expected]:
    """Add the course part to the demo class copy at `target`: the course's sources and release
    files (solutions/<a>/, notebooks/<a>/) and the three students' notebooks
    (submitted/<student>/<a>/). Returns (student, assignment) -> Expected."""
    submissions = course_submissions(course_root, assignments)
    sources = find_assignments(course_root / "solutions")
    for name in dict.fromkeys(sub.assignment for sub in submissions):   # each assignment once
        for kind in ("solutions", "notebooks"):
            if (course_root / kind / name).is_dir():
                shutil.copytree(course_root / kind / name, target / kind / name,
                                ignore=shutil.ignore_patterns(".*", "__pycache__"))
    expected = {}
    for sub in submissions:
        path = target / "submitted" / sub.student / sub.assignment / sources[sub.assignment][0].name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(sub.notebook, str(path))
        expected[(sub.student, sub.assignment)] = sub.expected
    return expected


# ----------------------------------------------------------------------------- the demo run

@dataclass
class Demo:
    """A demo ready to grade: `folder` holds solutions/, notebooks/ and submitted/ of both
    parts; `expected` maps (student, assignment) to what the grader must give."""
    folder: Path
    expected: dict[tuple[str, str], Expected]
    course_assignments: list[str]        # the course part's assignments ([] without a course)
    course_available: bool = True
    demo_numpy: bool = True              # whether part 1 (demo_numpy) is graded

    def describe(self) -> str:
        lines = []
        if self.demo_numpy:
            lines.append(f"  part 1: {DEMO_ASSIGNMENT}, a class whose students cheat or meet accidents")
        if self.course_assignments:
            lines.append(f"  part 2: {len(self.course_assignments)} of the course's assignments; ahn answers "
                         "as the solution, baek makes one typical mistake in each, choi hands in two")
        elif not self.course_available:
            lines.append("  (the course's own assignments need the course repository: run the demo "
                         "from a checkout, or give --course-root)")
        return "\n".join(lines)

    def limits(self, timeout: float, budget: float) -> tuple[dict[str, float], dict[str, float]]:
        """({assignment: seconds per cell}, {assignment: seconds per submission}): demo_numpy's
        at most 10 s and DEMO_BUDGET (its slow students show the cut-offs quickly), the
        course's as given."""
        names = [DEMO_ASSIGNMENT, *self.course_assignments]
        timeouts = {name: timeout for name in names}
        budgets = {name: budget for name in names}
        timeouts[DEMO_ASSIGNMENT] = min(timeout, 10.0)
        budgets[DEMO_ASSIGNMENT] = min(budget, DEMO_BUDGET)
        return timeouts, budgets

    def compare(self, results, student: str | None = None) -> int:
        """Print each part's table and the verdict; returns the number of differences (a
        submission the demo expects but the run did not grade counts, unless `student` limits
        the run to one student)."""
        graded_assignments = {r.assignment for r in results}
        bad = 0
        for title, in_part in (
                (f"{DEMO_ASSIGNMENT}: the demo class", lambda a: a == DEMO_ASSIGNMENT),
                ("the course's assignments", lambda a: a != DEMO_ASSIGNMENT)):
            rows = [r for r in results if in_part(r.assignment)]
            wanted = {key: want for key, want in self.expected.items()
                      if in_part(key[1]) and key[1] in graded_assignments and student in (None, key[0])}
            if rows or wanted:
                bad += compare(rows, wanted, title=title)
        print("\nevery score as expected" if not bad else f"\n{bad} score(s) differ from what the demo expects")
        return bad


def build_demo(demo_class: Path, target: Path, course_root: Path | None = None,
               assignments: list[str] | None = None) -> Demo:
    """The demo at `target` (replaced): a working copy of `demo_class` plus, when `course_root`
    is given, the course part for its assignments (all, or those in `assignments`).

    Raises ValueError naming an assignment in `assignments` that the demo does not have.
    """
    course = sorted(a for a in find_assignments(course_root / "solutions")
                    if a != DEMO_ASSIGNMENT) if course_root is not None else []
    unknown = sorted(set(assignments or []) - {DEMO_ASSIGNMENT, *course})
    if unknown:
        raise ValueError(f"the demo has no assignment(s) {unknown}; it has {[DEMO_ASSIGNMENT, *course]}")
    chosen = [a for a in course if assignments is None or a in assignments]
    folder = prepare_demo(demo_class, target)
    expected = demo_expected(demo_class)
    if chosen:
        expected.update(write_course_class(course_root, folder, chosen))
    return Demo(folder, expected, chosen, course_root is not None,
                assignments is None or DEMO_ASSIGNMENT in assignments)


# ------------------------------------------------------------------------------- the table

def wrap_note(note: str, width: int = 60) -> list[str]:
    """A demo-table note as lines of at most `width` characters, broken between words (the
    whole note: never cut mid-phrase)."""
    import textwrap
    return textwrap.wrap(note, width=width, break_long_words=True, break_on_hyphens=False)


def _cell(text: str, width: int) -> str:
    """`text` cut to `width` display columns (wide CJK characters count 2), padded after."""
    from .ids import display
    text = display(text)
    text = text if len(text) <= width - 1 else text[:width - 4] + "..."
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(width - used, 1)


def _difference(result, want: Expected | None) -> str:
    """Why `result` is not what the demo expects, in a few words."""
    if want is None:
        return "the demo expects no such submission"
    if result.status != want.status:
        return f"{result.status}, expected {want.status}: {result.reason}"
    scores = want.scores or {}
    lost = [q for q in result.questions if scores.get(q.key) != q.points]
    return "; ".join(f"{q.key} {q.points:g}/{q.max_points:g} (expected "
                     f"{format(scores[q.key], 'g') if q.key in scores else 'no such exercise'})"
                     + (f": {q.message}" if q.message else "") for q in lost)


def compare(results, expected: dict[tuple[str, str], Expected], title: str = "") -> int:
    """Print one row per result (points, whether they are as expected, a note) and return the
    number of differences; an expected submission missing from `results` is one too."""
    from .ids import display
    course = any(a != DEMO_ASSIGNMENT for _, a in expected) or any(r.assignment != DEMO_ASSIGNMENT
                                                                   for r in results)
    label_width = 40 if course else 26
    if title:
        print(f"\n{title}")
    print(f"{'student' + (' / assignment' if course else ''):<{label_width}}{'points':>8}  expected?  note")
    bad = 0
    for r in results:
        want = expected.get((r.student, r.assignment))
        ok = want is not None and want.matches(r)
        shown = f"{r.total:g}/{r.max_points:g}" if r.status == "graded" else "n/g"
        bad += not ok
        note = (r.reason or (r.problems[0] if r.problems else "") or want.why) if ok else _difference(r, want)
        label = f"{r.student} / {r.assignment}" if course else r.student
        first, *rest = wrap_note(display(note)) or [""]
        print(f"{_cell(label, label_width)}{shown:>8}  {'yes' if ok else 'NO '}        {first}")
        for line in rest:
            print(f"{'':<{label_width + 21}}{line}")
    for student, assignment in sorted(set(expected) - {(r.student, r.assignment) for r in results}):
        label = f"{student} / {assignment}" if course else student
        print(f"{_cell(label, label_width)}{'-':>8}  NO         expected, not graded")
        bad += 1
    return bad
