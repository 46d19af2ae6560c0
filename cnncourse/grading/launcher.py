"""Runs inside fresh namespaces (started by `unshare`) just before the kernel: hide, limit, drop.

    python -I -S launcher.py --hide DIR ... --keep DIR ... --writable DIR [--private-shm BYTES] \
        [--uid N --gid N] [--mem BYTES] [--fsize BYTES] [--nproc N] -- python -m ipykernel_launcher ...

Steps: every --hide folder gets an empty read-only tmpfs mounted over it; every --keep folder
(the Python environment, the package, the kernel's working folder) that such a tmpfs covered is
bound back at its old path -- read-only, except --writable; /dev/shm gets a fresh tmpfs of its
own (it dies with the mount namespace); every other mount is remounted read-only (best effort).
Then resource limits (memory, file size, processes), no_new_privs, the optional switch to an
unprivileged uid, and exec of the kernel. Any failure is fatal: a
half-built sandbox must never run student code.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import resource
import signal
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 32, 4096, 16384
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    if _libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def build_sandbox(hide: list[str], keep: list[str], writable: list[str]) -> None:
    """Mount empty tmpfs over `hide`, then bind `keep` back (read-only unless in `writable`)."""
    hide = sorted({os.path.realpath(p) for p in hide}, key=len)
    keep = sorted({os.path.realpath(p) for p in keep + writable}, key=len)
    writable = {os.path.realpath(p) for p in writable}
    # Handles on the kept folders survive the tmpfs that hides their path.
    # Writable folders are always bound (onto themselves if nothing covers them), so that
    # they stay separate mounts when everything else is made read-only.
    kept = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY)) for path in keep
            if os.path.isdir(path) and (path in writable or any(_under(path, h) for h in hide))]
    covered: list[str] = []
    for path in hide:
        if not os.path.isdir(path) or any(_under(path, c) for c in covered):
            continue
        _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
        covered.append(path)
    for path, fd in kept:
        os.makedirs(path, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC, None)
        if path not in writable:
            _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
        os.close(fd)
    for path in covered:  # the tmpfs itself read-only: nothing new appears in the course folder
        _mount(None, path, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)


_LOCKED_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": 8, "noatime": 1024,
                 "nodiratime": 2048, "relatime": 1 << 21, "strictatime": 1 << 24}


def _unescape(path: str) -> str:
    return path.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def readonly_everything_but(writable: list[str]) -> list[str]:
    """Remount every mount read-only except `writable` and /dev, /proc, /sys (best effort).

    Needed when the kernel keeps the TA's uid (user namespace): without it student code could
    write wherever the TA can. Returns the mount points that could not be made read-only.
    """
    keep = {os.path.realpath(p) for p in writable}
    failed = []
    with open("/proc/self/mountinfo") as handle:
        entries = [line.split() for line in handle]
    for fields in entries:
        point, options = _unescape(fields[4]), fields[5].split(",")
        if point in keep or "ro" in options or any(_under(point, p) for p in ("/proc", "/sys", "/dev")):
            continue
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        for name in options:
            flags |= _LOCKED_FLAGS.get(name, 0)
        try:
            _mount(None, point, None, flags, None)
        except OSError:
            failed.append(point)
    return failed


def private_shm(size_bytes: int) -> None:
    """A fresh, size-limited tmpfs on /dev/shm: nothing shared with other kernels, gone at exit."""
    if os.path.isdir("/dev/shm"):
        _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | 8,  # 8: MS_NOEXEC
               f"size={max(size_bytes, 4096)},mode=1777")


def apply_limits(mem_bytes: int, fsize_bytes: int, nproc: int = 0) -> None:
    """Address-space, file-size, process-count and core limits; never raised again after no_new_privs."""
    if nproc > 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    if mem_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
    if fsize_bytes > 0:
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_bytes, fsize_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def drop_privileges(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError(f"still running as uid {os.geteuid()} after dropping to {uid}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="cnncourse-sandbox-launcher")
    parser.add_argument("--hide", action="append", default=[])
    parser.add_argument("--keep", action="append", default=[])
    parser.add_argument("--writable", action="append", default=[])
    parser.add_argument("--uid", type=int)
    parser.add_argument("--gid", type=int)
    parser.add_argument("--mem", type=int, default=0)
    parser.add_argument("--fsize", type=int, default=0)
    parser.add_argument("--nproc", type=int, default=0)
    parser.add_argument("--private-shm", type=int, default=0)
    parser.add_argument("--cwd", required=True)
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        parser.error("no kernel command after --")
    split = argv.index("--")
    args, command = parser.parse_args(argv[:split]), argv[split + 1:]
    if not command:
        parser.error("no kernel command after --")
    if args.hide:
        build_sandbox(args.hide, args.keep, args.writable)
        if args.private_shm:
            private_shm(args.private_shm)
        readonly_everything_but(args.writable)
    apply_limits(args.mem, args.fsize, args.nproc)
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if args.uid is not None:
        drop_privileges(args.uid, args.gid if args.gid is not None else args.uid)
    # Changing uid clears the parent-death signal: set it again, so the kernel dies with unshare
    # (and unshare dies with the grader), never outliving a killed grading run.
    if _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    os.chdir(args.cwd)
    os.execvp(command[0], command)


if __name__ == "__main__":
    try:
        main()
    except OSError as exc:
        print(f"cnncourse sandbox launcher: {exc}", file=sys.stderr)
        sys.exit(70)
