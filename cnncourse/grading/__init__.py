"""Grading: authoring, student self-check, release generation and the TA pipeline.

Modules (import the one you need; nothing heavy is imported here):

- `authoring`  build source notebooks with nbgrader metadata by code
- `selfcheck`  `digest`/`matches_digest` (keyed, slow), `check("q3")`, `check_all()` (visible tests only)
- `checks`     `assert_array_equalish`: type, shape and dtype before values, for hidden blocks
- `spec`       read a source notebook: exercises, points, hidden blocks, answer names
- `release`    release notebooks with nbgrader's preprocessors (`cnncourse-release`)
- `pipeline`   `grade(submissions, ...)`: the TA pipeline behind `cnncourse-grade`
- `grader`     repair + sandboxed run + trusted scoring of one submission
- `kernel`, `sandbox`, `launcher`  the sandboxed kernel; `proxy`, `wire`, `agent` the
  plain-data bridge that lets hidden tests run in the grader's process
- `forbidden`  library names an exercise forbids: static check, run-time watch in the kernel
- `collect`, `ids`, `report`, `cli`  inputs (links refused, zips bounded), student ids (decoded,
  escaped per output), outputs, console scripts
"""
