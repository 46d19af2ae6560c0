"""Grading: authoring, student self-check, release generation and the TA pipeline.

Modules (import the one you need; nothing heavy is imported here):

- `authoring`  build source notebooks with nbgrader metadata by code
- `selfcheck`  `digest`/`matches_digest`, `check("q3")`, `check_all()` (visible tests only)
- `spec`       read a source notebook: exercises, points, hidden blocks, answer names
- `release`    release notebooks with nbgrader's preprocessors (`cnncourse-release`)
- `pipeline`   `grade(submissions, ...)`: the TA pipeline behind `cnncourse-grade`
- `grader`     repair + sandboxed run + trusted scoring of one submission
- `kernel`, `sandbox`, `launcher`  the sandboxed kernel; `proxy`, `wire`, `agent` the
  plain-data bridge that lets hidden tests run in the grader's process
- `collect`, `report`, `cli`  inputs, outputs, console scripts
"""
