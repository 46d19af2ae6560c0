"""Suspicious submissions for report.txt: answers equal to the solution, groups of alike answers.

A flag is information for a TA to look at, never a score: nothing here changes a grade.

**Unit.** Answers are compared per exercise (answer cell) within one assignment, and the matches
are gathered per pair of students: copying is usually done exercise by exercise, and a whole
notebook compared at once would dilute one copied exercise among honest ones. Two students are
linked when at least `min_exercises` of their answers match; linked students form a group (the
connected pairs), reported with the exercises each pair shares.

**Normalization** (`fingerprint`). A cell is tokenized with `tokenize`: comments, blank lines,
line breaks inside brackets, indentation width and docstrings (a statement that is only a
string) disappear; IPython magics (``%...``, ``!...``) are dropped. Three views of the tokens:

- *identical*: every remaining token as written (names kept);
- *renamed*: identifiers renamed ``v0, v1, ...`` in order of first use (keywords, builtins and
  attribute names after ``.`` kept), so renaming variables changes nothing;
- *shape*: every renamed identifier as ``N`` and every string as ``S``, cut into overlapping
  runs of `shingle` tokens; the Jaccard index of two answers' shingle sets measures
  near-identity (an inserted line, a reordered statement).

A cell that does not tokenize (unbalanced brackets, bad indentation) falls back to whitespace
and comment normalization only: its words and symbols, names kept.

**What is compared.** The release's stub (the scaffold: ``def`` line, docstring,
``raise NotImplementedError``) is everybody's; its shingles are removed, and the tokens a
student wrote beyond it are counted (`difflib` against the stub). An answer equal to the stub,
or with fewer than `min_tokens` written tokens, is not compared: a blank or unanswered cell
never makes students alike, and a one-line answer (a number, ``return np.maximum(x, 0)``) is
what every right answer looks like.

**Levels**, strongest first: ``identical`` (same tokens), ``renamed`` (same after renaming),
``near`` (Jaccard >= `threshold`, default 0.8 on 5-token shingles). Measured on this course's
solutions: the 2-D correlation answer with one statement added scores 0.91, with ``np.zeros``
changed to ``np.empty`` 0.93, rewritten with other loops 0.62; answers to *different* exercises
of the course score at most 0.65 against each other.

**Common answers.** When more than ``max(common_min, common_share * answers)`` students share
one renamed answer, or are at least near the instructor's solution, on an exercise, that
answer is the natural one: it is reported once (`CommonAnswer`) and does not link its students.

**Cost.** Exact matches use hash buckets; near matches compare pairs of answers to one exercise,
skipping pairs whose shingle counts alone rule out the threshold: 300 students take seconds.

Pipeline use (plain data in, typed records out)::

    solution, stubs = exercise_sources(spec)                     # once per assignment
    answers = {r.student: answers_from_result(r, spec) for r in results if r.assignment == name}
    found = find_similar(name, answers, solution=solution, stubs=stubs)
    lines += report_lines(found)                                 # escaped, one line each
"""
from __future__ import annotations

import builtins
import difflib
import io
import keyword
import math
import re
import tokenize
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .ids import display
from .spec import natural_key

if TYPE_CHECKING:
    from .grader import SubmissionResult
    from .spec import AssignmentSpec

SHINGLE = 5              # tokens per shingle
THRESHOLD = 0.8          # Jaccard index of shingle sets from which two answers are "near"
MIN_TOKENS = 30          # tokens a student must write beyond the stub for the answer to count
COMMON_SHARE = 0.2       # an answer shared by more than this share of the class is "common" ...
COMMON_MIN = 5           # ... and by more than this many students
MAX_PAIRS_SHOWN = 12     # pairs listed per group line (the rest are counted)
MAX_IDS_SHOWN = 10       # students listed per common-answer line
_DIFF_LIMIT = 4000       # tokens beyond which the stub is subtracted by count, not by difflib

IDENTICAL, RENAMED, NEAR = "identical", "renamed", "near"
_KEPT_NAMES = frozenset(keyword.kwlist) | frozenset(dir(builtins))
_STRINGS = {tokenize.STRING} | {getattr(tokenize, n) for n in ("FSTRING_START", "FSTRING_MIDDLE",
                                                               "FSTRING_END") if hasattr(tokenize, n)}
_SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
_FALLBACK_TOKEN = re.compile(r"[^\W\d]\w*|\d[\w.]*|\S")
_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@+-]*")


@dataclass(frozen=True)
class Fingerprint:
    """One answer cell, normalized (see the module docstring)."""
    exact: str                    # tokens joined, names kept
    renamed: str                  # tokens joined, identifiers renamed v0, v1, ...
    shingles: frozenset           # hashed shingles of the shape tokens, the stub's removed
    written: int                  # tokens beyond the stub
    parsed: bool                  # False: did not tokenize, words-and-symbols fallback


@dataclass(frozen=True)
class ExerciseMatch:
    exercise: str                 # exercise key, e.g. "q3"
    level: str                    # "identical", "renamed" or "near"
    similarity: float             # Jaccard index of the shingle sets (1.0 for identical/renamed)


@dataclass(frozen=True)
class SolutionMatch:
    """A submission whose answers equal (or nearly) the instructor's solution."""
    assignment: str
    student: str
    matches: tuple[ExerciseMatch, ...]
    compared: int                 # this student's answers that were compared


@dataclass(frozen=True)
class PairMatch:
    students: tuple[str, str]     # sorted
    matches: tuple[ExerciseMatch, ...]


@dataclass(frozen=True)
class SimilarGroup:
    """Students linked by alike answers (connected pairs), with each pair's matches."""
    assignment: str
    students: tuple[str, ...]     # sorted
    pairs: tuple[PairMatch, ...]


@dataclass(frozen=True)
class CommonAnswer:
    """An answer so many students share that it is taken for the natural one (not flagged)."""
    assignment: str
    exercise: str
    students: tuple[str, ...]     # sorted
    solution: bool                # the instructor's solution is this answer (or near it)


@dataclass(frozen=True)
class SimilarityReport:
    assignment: str
    solution_matches: tuple[SolutionMatch, ...]
    groups: tuple[SimilarGroup, ...]
    common: tuple[CommonAnswer, ...]
    compared: tuple[tuple[str, int], ...]    # (exercise, answers compared)


# ------------------------------------------------------------------------------- normalization

def _drop_magics(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def _python_tokens(source: str) -> list[tuple[int, str]]:
    """Significant tokens; NEWLINE/INDENT/DEDENT kept as structure, docstring statements dropped."""
    out: list[tuple[int, str]] = []
    line: list[int] = []           # indexes in `out` of the current logical line's tokens
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in _SKIPPED:
            continue
        if tok.type == tokenize.NEWLINE:
            if line and all(out[i][0] in _STRINGS for i in line):
                for i in reversed(line):          # a statement that is only a string: a docstring
                    del out[i]
            else:
                out.append((tok.type, ";"))
            line = []
            continue
        if tok.type in (tokenize.INDENT, tokenize.DEDENT):
            out.append((tok.type, "{" if tok.type == tokenize.INDENT else "}"))
            continue
        line.append(len(out))
        out.append((tok.type, tok.string))
    if line and all(out[i][0] in _STRINGS for i in line):
        for i in reversed(line):
            del out[i]
    return out


def _streams(source: str) -> tuple[list[str], list[str], list[str], bool]:
    """(identical, renamed, shape) token lists of `source`, and whether it tokenized."""
    try:
        tokens = _python_tokens(_drop_magics(source))
    except (tokenize.TokenError, SyntaxError, ValueError):
        text = "\n".join(re.sub(r"#.*", "", line) for line in source.splitlines())
        words = _FALLBACK_TOKEN.findall(text)
        return words, words, words, False
    exact, renamed, shape = [], [], []
    names: dict[str, str] = {}
    previous = ""
    for kind, text in tokens:
        exact.append(text)
        if kind == tokenize.NAME and text not in _KEPT_NAMES and previous != ".":
            renamed.append(names.setdefault(text, f"v{len(names)}"))
            shape.append("N")
        elif kind in _STRINGS:
            renamed.append(text)
            shape.append("S")
        else:
            renamed.append(text)
            shape.append(text)
        previous = text
    return exact, renamed, shape, True


def _shingles(shape: list[str], k: int) -> set[int]:
    if not shape:
        return set()
    if len(shape) <= k:
        return {hash(tuple(shape))}
    return {hash(tuple(shape[i:i + k])) for i in range(len(shape) - k + 1)}


def _written(tokens: list[str], stub: list[str]) -> int:
    """Tokens of `tokens` not matched to the stub's, in order (what the student added)."""
    if not stub:
        return len(tokens)
    if len(tokens) + len(stub) > _DIFF_LIMIT:
        return max(0, len(tokens) - len(stub))
    matcher = difflib.SequenceMatcher(None, stub, tokens, autojunk=False)
    return len(tokens) - sum(block.size for block in matcher.get_matching_blocks())


def _stub_view(stub: str | None, shingle: int) -> tuple[list[str], set[int]]:
    """(identical tokens, shingles) of a stub, computed once per exercise."""
    if stub is None:
        return [], set()
    stub_exact, _, stub_shape, _ = _streams(stub)
    return stub_exact, _shingles(stub_shape, shingle)


def _fingerprint(source: str, stub: tuple[list[str], set[int]], shingle: int) -> Fingerprint:
    exact, renamed, shape, parsed = _streams(source)
    stub_exact, stub_shingles = stub
    if stub_exact and exact == stub_exact:
        return Fingerprint("\x1f".join(exact), "\x1f".join(renamed), frozenset(), 0, parsed)
    return Fingerprint("\x1f".join(exact), "\x1f".join(renamed),
                       frozenset(_shingles(shape, shingle) - stub_shingles),
                       _written(exact, stub_exact), parsed)


def fingerprint(source: str, stub: str | None = None, shingle: int = SHINGLE) -> Fingerprint:
    """The normalized form of one answer cell, `stub` (the release's cell) subtracted."""
    return _fingerprint(source, _stub_view(stub, shingle), shingle)


def jaccard(a: Fingerprint, b: Fingerprint) -> float:
    """Jaccard index of two answers' shingle sets (0.0 when either is empty)."""
    if not a.shingles or not b.shingles:
        return 0.0
    common = len(a.shingles & b.shingles)
    return common / (len(a.shingles) + len(b.shingles) - common)


def _compare(a: Fingerprint, b: Fingerprint, threshold: float) -> ExerciseMatch | None:
    """The strongest level at which two answers match, or None (exercise filled in by caller)."""
    if a.exact == b.exact:
        return ExerciseMatch("", IDENTICAL, 1.0)
    if a.renamed == b.renamed:
        return ExerciseMatch("", RENAMED, 1.0)
    similarity = jaccard(a, b)
    return ExerciseMatch("", NEAR, round(similarity, 3)) if similarity >= threshold else None


# ---------------------------------------------------------------------------------- comparison

def find_similar(assignment: str, answers: Mapping[str, Mapping[str, str]], *,
                 solution: Mapping[str, str] | None = None, stubs: Mapping[str, str] | None = None,
                 threshold: float = THRESHOLD, min_tokens: int = MIN_TOKENS, shingle: int = SHINGLE,
                 min_exercises: int = 1, common_share: float = COMMON_SHARE,
                 common_min: int = COMMON_MIN) -> SimilarityReport:
    """Flag answers equal to the solution and groups of students with alike answers.

    answers: student -> {exercise key: answer cell source} for one assignment (`answers_from_result`
        or `answers_from_notebook`); a missing exercise is simply not compared.
    solution: exercise key -> the instructor's answer cell source; stubs: exercise key -> the
        release's answer cell source (both from `exercise_sources`). Without stubs, the scaffold
        counts as written code; without a solution, no solution matches are looked for.
    Returns typed records; nothing here is a score.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if shingle < 1 or min_tokens < 0 or min_exercises < 1:
        raise ValueError(f"shingle and min_exercises must be >= 1 and min_tokens >= 0, got "
                         f"{shingle}, {min_exercises}, {min_tokens}")
    solution, stubs = dict(solution or {}), dict(stubs or {})
    exercises = sorted({e for a in answers.values() for e in a} | set(solution), key=natural_key)
    pair_matches: dict[tuple[str, str], list[ExerciseMatch]] = defaultdict(list)
    solution_hits: dict[str, list[ExerciseMatch]] = defaultdict(list)
    compared_by_student: dict[str, int] = defaultdict(int)
    common: list[CommonAnswer] = []
    compared: list[tuple[str, int]] = []
    for exercise in exercises:
        stub = _stub_view(stubs.get(exercise), shingle)
        prints: dict[str, Fingerprint] = {}
        for student, cells in answers.items():
            source = cells.get(exercise)
            if not isinstance(source, str):
                continue
            fp = _fingerprint(source, stub, shingle)
            if fp.written >= max(min_tokens, 1):
                prints[student] = fp
                compared_by_student[student] += 1
        compared.append((exercise, len(prints)))
        sol = _fingerprint(solution[exercise], stub, shingle) if exercise in solution else None
        if sol is not None and sol.written < max(min_tokens, 1):
            sol = None
        limit = max(common_min, math.ceil(common_share * len(prints)))
        taken = _common_answers(assignment, exercise, prints, sol, limit, threshold, common)
        for student, fp in prints.items():
            if student in taken or sol is None:
                continue
            match = _compare(fp, sol, threshold)
            if match is not None:
                solution_hits[student].append(ExerciseMatch(exercise, match.level, match.similarity))
        for (a, b), match in _alike_pairs(
                {s: fp for s, fp in prints.items() if s not in taken}, threshold).items():
            pair_matches[(a, b)].append(ExerciseMatch(exercise, match.level, match.similarity))
    solution_matches = tuple(SolutionMatch(assignment, student, tuple(hits), compared_by_student[student])
                             for student, hits in sorted(solution_hits.items()))
    pairs = {key: tuple(m) for key, m in pair_matches.items() if len(m) >= min_exercises}
    return SimilarityReport(assignment, solution_matches, _groups(assignment, pairs), tuple(common),
                            tuple(compared))


def _common_answers(assignment: str, exercise: str, prints: dict[str, Fingerprint],
                    sol: Fingerprint | None, limit: int, threshold: float,
                    out: list[CommonAnswer]) -> set[str]:
    """Record the common answers of one exercise; return the students who gave one."""
    buckets: dict[str, list[str]] = defaultdict(list)
    for student, fp in prints.items():
        buckets[fp.renamed].append(student)
    reps: list[tuple[Fingerprint, bool]] = [
        (prints[members[0]], sol is not None and sol.renamed == key)
        for key, members in buckets.items() if len(members) > limit]
    if sol is not None and not any(is_sol for _, is_sol in reps):
        near_solution = [s for s, fp in prints.items() if _compare(fp, sol, threshold) is not None]
        if len(near_solution) > limit:
            reps.append((sol, True))
    members: list[list[str]] = [[] for _ in reps]
    for student, fp in prints.items():
        for i, (rep, _) in enumerate(reps):
            if _compare(fp, rep, threshold) is not None:
                members[i].append(student)
                break
    for (_, is_solution), group in zip(reps, members):
        out.append(CommonAnswer(assignment, exercise, tuple(sorted(group)), is_solution))
    return {s for group in members for s in group}


def _alike_pairs(prints: dict[str, Fingerprint], threshold: float) -> dict[tuple[str, str], ExerciseMatch]:
    """Pairs of students whose answers to one exercise match (identical, renamed or near)."""
    pairs: dict[tuple[str, str], ExerciseMatch] = {}
    buckets: dict[str, list[str]] = defaultdict(list)
    for student, fp in prints.items():
        buckets[fp.renamed].append(student)
    for members in buckets.values():         # exact matches: hash buckets
        members.sort()
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                pairs[(a, b)] = _compare(prints[a], prints[b], threshold)
    # near matches: a pair can reach `threshold` only if its smaller set is at least
    # `threshold` times the larger; sorted by size, the inner loop stops at the first miss
    order = sorted(prints, key=lambda s: (len(prints[s].shingles), s))
    for i, a in enumerate(order):
        size_a = len(prints[a].shingles)
        for b in order[i + 1:]:
            if size_a < threshold * len(prints[b].shingles):
                break
            key = (a, b) if a < b else (b, a)
            if key in pairs or prints[a].renamed == prints[b].renamed:
                continue
            similarity = jaccard(prints[a], prints[b])
            if similarity >= threshold:
                pairs[key] = ExerciseMatch("", NEAR, round(similarity, 3))
    return pairs


def _groups(assignment: str, pairs: dict[tuple[str, str], tuple[ExerciseMatch, ...]]
            ) -> tuple[SimilarGroup, ...]:
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[root(a)] = root(b)
    members: dict[str, list[str]] = defaultdict(list)
    for student in list(parent):
        members[root(student)].append(student)
    groups = []
    for group in members.values():
        inside = set(group)
        group_pairs = tuple(PairMatch(key, matches) for key, matches in sorted(pairs.items())
                            if key[0] in inside)
        groups.append(SimilarGroup(assignment, tuple(sorted(group)), group_pairs))
    return tuple(sorted(groups, key=lambda g: (-len(g.students), g.students)))


# ------------------------------------------------------------------------------------- inputs

def answer_keys(spec: AssignmentSpec) -> dict[str, str]:
    """Answer cell grade_id -> exercise key ("q3_output_size" -> "q3"); a cell without a test
    cell keeps its grade_id as key."""
    from .spec import nbgrader_meta
    by_answer = {e.answer_id: e.key for e in spec.exercises if e.answer_id}
    return {meta["grade_id"]: by_answer.get(meta["grade_id"], meta["grade_id"])
            for meta in (nbgrader_meta(c) for c in spec.nb.cells if c.cell_type == "code")
            if meta.get("solution") and meta.get("grade_id")}


def exercise_sources(spec: AssignmentSpec) -> tuple[dict[str, str], dict[str, str]]:
    """(solution, stubs): exercise key -> the source notebook's answer cell, and -> the release's
    (built with nbgrader's preprocessors, as `cnncourse-release` does)."""
    from .release import release_notebook
    from .spec import nbgrader_meta
    keys = answer_keys(spec)

    def answers_of(nb) -> dict[str, str]:
        return {keys[nbgrader_meta(c)["grade_id"]]: c.source for c in nb.cells
                if c.cell_type == "code" and nbgrader_meta(c).get("grade_id") in keys}

    return answers_of(spec.nb), answers_of(release_notebook(spec.nb))


def answers_from_result(result: SubmissionResult, spec: AssignmentSpec) -> dict[str, str]:
    """Exercise key -> answer source from a result's feedback cells (the cells the grader ran;
    sources capped as the grader caps them). A not-gradable result, or an exercise the run did
    not reach, has none: use `answers_from_notebook` to compare those too."""
    keys = answer_keys(spec)
    out = {}
    for cell in result.cells:
        grade_id = cell.get("grade_id")
        if cell.get("kind") == "answer" and grade_id in keys and isinstance(cell.get("source"), str):
            out.setdefault(keys[grade_id], cell["source"])
    return out


def answers_from_notebook(raw: bytes, spec: AssignmentSpec) -> dict[str, str]:
    """Exercise key -> answer source of a submitted notebook's bytes, found as the grader finds
    them (`grader.repair`); {} for a notebook that cannot be read."""
    from .grader import NotGradable, repair
    try:
        cells, _, _ = repair(raw, spec)
    except (NotGradable, ValueError, RecursionError):
        return {}
    keys = answer_keys(spec)
    out = {}
    for cell in cells:
        if cell.kind == "answer" and cell.grade_id in keys:
            out.setdefault(keys[cell.grade_id], cell.source)
    return out


# ------------------------------------------------------------------------------------- report

def _id(student: str) -> str:
    """A student id for a list in one text line: plain ids as they are, others quoted+escaped."""
    if _PLAIN_ID.fullmatch(student):
        return student
    return '"' + display(student).replace('"', '\\"') + '"'


def _match_text(match: ExerciseMatch) -> str:
    level = f"near, J={match.similarity:.2f}" if match.level == NEAR else match.level
    return f"{display(match.exercise)} ({level})"


def report_lines(reports: SimilarityReport | Iterable[SimilarityReport]) -> list[str]:
    """Lines for report.txt, one per flag; ids escaped, so no text can start a new line."""
    if isinstance(reports, SimilarityReport):
        reports = [reports]
    note = "(information for the TA, not a score)"
    lines = []
    for report in reports:
        where = display(report.assignment)
        for hit in report.solution_matches:
            lines.append(f"{display(hit.student)} / {where}: SAME AS SOLUTION in "
                         f"{', '.join(_match_text(m) for m in hit.matches)}: {len(hit.matches)} of "
                         f"{hit.compared} compared answer(s) {note}")
        for group in report.groups:
            shown = [f"{_id(p.students[0])} ~ {_id(p.students[1])}: "
                     + ", ".join(_match_text(m) for m in p.matches) for p in group.pairs[:MAX_PAIRS_SHOWN]]
            more = len(group.pairs) - len(shown)
            lines.append(f"{where}: SIMILAR answers, {len(group.students)} students "
                         f"{', '.join(_id(s) for s in group.students)}: " + "; ".join(shown)
                         + (f"; and {more} more pair(s)" if more > 0 else "") + f" {note}")
        for answer in report.common:
            ids = ", ".join(_id(s) for s in answer.students[:MAX_IDS_SHOWN])
            more = len(answer.students) - MAX_IDS_SHOWN
            if more > 0:
                ids += f", and {more} more"
            what = "at or near the instructor's solution" if answer.solution else "with one answer"
            lines.append(f"{where} / {display(answer.exercise)}: COMMON answer, {len(answer.students)} "
                         f"students {what} ({ids}): probably the natural answer; not flagged per "
                         "student")
    return lines
