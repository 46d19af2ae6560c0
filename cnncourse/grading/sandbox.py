"""Which protections the grader can put around a student's kernel on this machine.

Levels, strongest first (`detect()` picks the first that works here):

- ``"namespaces+uid"`` (running as root): new mount, network, pid and IPC namespaces and a
  private /dev/shm; the course folder, the submissions, the output folder, the other students'
  working folders, $HOME and every top-level folder outside the system's own (`data_roots`:
  /home, /tmp, /opt, /srv, ...) are covered by empty read-only tmpfs mounts, every other mount
  is made read-only except the kernel's working folder; the kernel then runs as an unprivileged
  uid of its own (`kernel_uid`: one per grader process, so the process-count limit is per kernel).
- ``"namespaces"`` (not root, unprivileged user namespaces allowed): the same namespaces and
  mounts inside a user namespace; the kernel keeps the TA's uid, but sees none of the hidden
  folders and cannot write outside its own working folder (it can read what the TA can elsewhere).
- ``"limits-only"``: neither is possible; only resource limits apply. Student code can read
  everything the TA can, and shares IPC and /dev/shm with the TA. A clear warning is printed.

Every level sets the address-space (memory) limit, the file-size limit and no_new_privs; the
namespace levels also limit the number of processes and threads (RLIMIT_NPROC, counted per
kernel: its own uid, or its own user namespace). The grader enforces per-cell timeouts and caps
output in bytes. When a kernel ends, its pid namespace takes every process it started with it,
its IPC namespace every SysV/POSIX segment, its /dev/shm every file.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

NOBODY_UID = 65534
NOBODY_GID = 65534
# Kernel uids (namespaces+uid): KERNEL_UID_BASE + the grader process's pid, unique among the
# kernels running at one time, unused by any account, never root.
KERNEL_UID_BASE = 1_900_000_000

LEVEL_DESCRIPTIONS = {
    "namespaces+uid": "mount/pid/network/IPC namespaces, private /dev/shm, secret folders hidden, "
                      "process limit, kernel runs as an unprivileged uid of its own",
    "namespaces": "user+mount/pid/network/IPC namespaces, private /dev/shm, secret folders hidden, "
                  "process limit (kernel keeps your uid)",
    "limits-only": "NO isolation: student code can read the solutions and the gradebook and shares "
                   "IPC and /dev/shm; no process limit (only memory/file-size limits and timeouts apply)",
}


def _unshare_flags(as_root: bool) -> list[str]:
    flags = ["--mount", "--net", "--pid", "--ipc", "--fork", "--kill-child", "--mount-proc",
             "--propagation", "private"]
    return flags if as_root else ["--user", "--map-root-user"] + flags


@functools.lru_cache(maxsize=None)
def detect() -> str:
    """The strongest sandbox level available to this process (cached)."""
    unshare = shutil.which("unshare")
    if unshare is None or sys.platform != "linux":
        return "limits-only"
    as_root = os.geteuid() == 0
    probe = [unshare, *_unshare_flags(as_root), sys.executable, "-c",
             "import os; os.listdir('/proc/self')"]
    try:
        ok = subprocess.run(probe, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if not ok:
        return "limits-only"
    return "namespaces+uid" if as_root else "namespaces"


@dataclass
class SandboxConfig:
    """What to hide and which limits to apply; `level=None` means `detect()`."""
    hide: list[Path] = field(default_factory=list)
    level: str | None = None
    mem_bytes: int = 3 * 1024**3
    fsize_bytes: int = 64 * 1024**2
    max_procs: int = 64              # processes + threads per kernel (namespace levels)
    shm_bytes: int = 256 * 1024**2   # size of the kernel's private /dev/shm (namespace levels)

    def resolved_level(self) -> str:
        level = self.level or detect()
        if level not in LEVEL_DESCRIPTIONS:
            raise ValueError(f"unknown sandbox level {level!r}; choose one of {sorted(LEVEL_DESCRIPTIONS)}")
        return level

    def describe(self) -> str:
        level = self.resolved_level()
        mem = f"{self.mem_bytes / 1024**3:.1f} GiB" if self.mem_bytes else "unlimited"
        procs = f", {self.max_procs} processes" if level != "limits-only" and self.max_procs else ""
        return f"sandbox: {level} ({LEVEL_DESCRIPTIONS[level]}); memory limit {mem}{procs}"


def kernel_uid() -> int:
    """The uid a kernel started by this process runs as under namespaces+uid."""
    return KERNEL_UID_BASE + os.getpid()


# Top-level folders a kernel needs to see: the system itself. Every other top-level folder
# (/home, /root, /tmp, /opt, /srv, /work, /var, ...) may hold another copy of the course, other
# classes' submissions or a TA's files, so it is hidden; the Python environment, the package and
# the kernel's working folder are bound back wherever they live.
SYSTEM_DIRS = frozenset({"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin",
                         "sys", "usr"})


def data_roots(root: Path = Path("/")) -> list[Path]:
    """Real (non-symlink) top-level folders outside SYSTEM_DIRS: hidden from every kernel."""
    return sorted(p for p in root.iterdir()
                  if p.name not in SYSTEM_DIRS and p.is_dir() and not p.is_symlink())


def _package_dir() -> Path:
    return Path(__file__).resolve().parent.parent


def wrap_command(config: SandboxConfig, kernel_cmd: list[str], workdir: Path,
                 cwd: Path | None = None) -> list[str]:
    """The command line that starts `kernel_cmd` inside the sandbox, in `cwd` (default `workdir`)."""
    level = config.resolved_level()
    # -I -S: the launcher needs only the standard library; skipping site saves ~0.1 s a kernel.
    launcher = [sys.executable, "-I", "-S", str(Path(__file__).with_name("launcher.py")),
                "--cwd", str(cwd or workdir),
                "--mem", str(config.mem_bytes), "--fsize", str(config.fsize_bytes)]
    if level == "limits-only":
        return launcher + ["--", *kernel_cmd]
    # $HOME is hidden too: it often holds course copies, and (as root) an unreadable /root
    # would otherwise block uid nobody from a Python installed under it, which is kept.
    hidden = [*config.hide, Path.home(), *data_roots()]
    if level == "namespaces+uid":
        # uid nobody must be able to walk down to its working folder: an ancestor closed to
        # others (e.g. /tmp/pytest-of-root, 0700) is covered too, and the folder bound back.
        hidden += [p for p in Path(workdir).resolve().parents
                   if p != Path("/") and not os.stat(p).st_mode & 0o001]
    for path in hidden:
        if str(path) not in ("/", ""):
            launcher += ["--hide", str(path)]
    keep = {Path(sys.prefix), Path(sys.base_prefix), _package_dir(),
            Path(sys.executable).resolve().parent.parent}
    for path in sorted(keep):
        launcher += ["--keep", str(path)]
    launcher += ["--writable", str(workdir), "--nproc", str(config.max_procs),
                 "--private-shm", str(config.shm_bytes)]
    if level == "namespaces+uid":
        launcher += ["--uid", str(kernel_uid()), "--gid", str(NOBODY_GID)]
    launcher += ["--", *kernel_cmd]
    return [shutil.which("unshare") or "unshare", *_unshare_flags(level == "namespaces+uid"),
            *launcher]


def prepare_workdir(config: SandboxConfig, workdir: Path) -> None:
    """Let the kernel's (possibly unprivileged) uid own its working folder."""
    if config.resolved_level() == "namespaces+uid":
        uid = kernel_uid()
        for root, dirs, files in os.walk(workdir):
            os.chown(root, uid, NOBODY_GID)
            for name in files:
                os.chown(os.path.join(root, name), uid, NOBODY_GID, follow_symlinks=False)


def remove_tree(path: Path) -> None:
    """Delete a working folder whatever its kernel did to it (chmod 000 folders included)."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return

    def fix(func, target, _exc) -> None:
        # make the parent and the entry writable/readable again, then retry once
        for item in (os.path.dirname(target), target):
            try:
                if not os.path.islink(item):
                    os.chmod(item, 0o700)
            except OSError:
                pass
        try:
            func(target)
        except OSError:
            pass

    shutil.rmtree(path, onerror=fix)
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)
