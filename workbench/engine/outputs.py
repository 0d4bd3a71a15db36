"""Output safety: never overwrite an input, and write multi-file outputs all at once.

Two tools every command that writes files uses:

:func:`check_outputs`
    Call it **before any work**, with every path the command will write and every path
    it reads. It refuses (one-line :class:`~workbench.engine.errors.InputError` naming
    the output) when an output is, or would replace, an input or one of the input's
    companion files (``.vhdr`` / ``.vmrk`` / ``.eeg``, ``.set`` / ``.fdt``, ``.nii`` /
    its ``.json`` sidecar, BIDS ``_channels.tsv`` / ``_events.tsv`` / ``_eeg.json`` /
    ``_coordsystem.json``, ``.elp`` / ``.hsp``), after resolving symbolic links and hard
    links; also when two outputs are the same file::

        from workbench.engine.outputs import check_outputs

        check_outputs([args.out, args.json], [args.eeg, args.slice_timing])

    For a folder of outputs (``fuse --out DIR``), :func:`check_output_dir` checks the file
    names the command will write there.

:func:`atomic_files`
    A context manager for a *set* of files that must appear together (BrainVision's
    three files, a transform plus its QC). It yields temporary paths in a hidden folder
    beside the targets; when the block ends without error every file is moved into
    place (an existing file is kept aside and restored if a move fails); on any
    exception, cancellation included, the temporary folder is removed and the targets
    are untouched::

        from workbench.engine.outputs import atomic_files

        with atomic_files([out_vhdr, out_vhdr.with_suffix(".vmrk"), out_vhdr.with_suffix(".eeg")]) as tmp:
            mne.export.export_raw(tmp[0], raw, fmt="brainvision")

Single files keep using :func:`workbench.engine.atomic.atomic_path`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from .errors import InputError

__all__ = ["companions", "written_files", "check_outputs", "check_output_dir", "atomic_files", "TEMP_PREFIX"]

#: Prefix of the hidden temporary folders :func:`atomic_files` makes (with the process id).
TEMP_PREFIX = ".wbtmp-"

_PathLike = str | os.PathLike

#: suffix -> suffixes of the files that belong with it (same stem)
_GROUPS: tuple[tuple[str, ...], ...] = (
    (".vhdr", ".vmrk", ".eeg", ".dat", ".ahdr", ".amrk"),
    (".set", ".fdt"),
    (".nii", ".nii.gz", ".json", ".bval", ".bvec"),
    (".mgz", ".mgh", ".json"),
    (".edf", ".json"),
    (".bdf", ".json"),
    (".elp", ".hsp"),
)
#: BIDS suffixes of the files describing one recording (same entities)
_BIDS_SUFFIXES = ("_eeg", "_bold", "_T1w", "_channels", "_events", "_electrodes", "_coordsystem", "_scans",
                  "_physio", "_meg", "_ieeg")
_DOUBLE = (".nii.gz", ".fif.gz", ".tsv.gz")


def _split(path: Path) -> tuple[str, str]:
    """(stem, full suffix) with ``.nii.gz``-style double suffixes kept whole."""
    name = path.name
    low = name.lower()
    for d in _DOUBLE:
        if low.endswith(d):
            return name[: -len(d)], d
    return (path.stem, path.suffix.lower()) if path.suffix else (name, "")


def _header_names(path: Path) -> list[str]:
    """``DataFile=`` / ``MarkerFile=`` names of a BrainVision header (first 64 kB only)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536).decode("latin-1")
    except OSError:
        return []
    names = re.findall(r"^\s*(?:DataFile|MarkerFile)\s*=\s*([^\r\n]+?)\s*$", head, re.IGNORECASE | re.MULTILINE)
    return [n for n in names if n and "/" not in n and "\\" not in n]


def companions(path: _PathLike) -> list[Path]:
    """The path itself and the files that belong with it.

    Parameters
    ----------
    path : path-like
        An input (or output) file.

    Returns
    -------
    list of Path
        ``path`` first, then same-stem partner files (whether or not they exist):
        BrainVision ``.vhdr``/``.vmrk``/``.eeg`` (plus the names a header gives),
        EEGLAB ``.set``/``.fdt``, NIfTI/MGZ and their JSON sidecar, Polhemus
        ``.elp``/``.hsp``, and the BIDS files of the same recording (``*_eeg.json``,
        ``*_channels.tsv``, ``*_events.tsv``, ``*_bold.json``, ``*_coordsystem.json``).
    """
    p = Path(path)
    stem, suffix = _split(p)
    out = [p]
    for group in _GROUPS:
        if suffix in group:
            out += [p.with_name(stem + s) for s in group if s != suffix]
    if suffix in (".vhdr", ".vmrk", ".eeg"):
        hdr = p.with_name(stem + ".vhdr")
        if hdr.is_file():
            out += [p.with_name(n) for n in _header_names(hdr)]
    if suffix == ".json" and stem:
        out += [p.with_name(stem + s) for s in (".nii", ".nii.gz", ".mgz", ".vhdr", ".edf", ".bdf", ".set", ".fif")]
    # BIDS: sub-01_task-x_eeg.vhdr <-> sub-01_task-x_channels.tsv, _events.tsv, _eeg.json ...
    for bs in _BIDS_SUFFIXES:
        if stem.endswith(bs) and "-" in stem:
            base = stem[: -len(bs)]
            out += [p.with_name(f"{base}{b}{ext}") for b in _BIDS_SUFFIXES for ext in (".json", ".tsv")]
            out += [p.with_name(f"{base}{bs}.json")]
            break
    seen: set[str] = set()
    uniq = []
    for q in out:
        if str(q) not in seen:
            seen.add(str(q))
            uniq.append(q)
    return uniq


def written_files(output: _PathLike) -> list[Path]:
    """Every file writing ``output`` creates (BrainVision: the ``.vhdr``, ``.vmrk`` and ``.eeg``)."""
    p = Path(output)
    stem, suffix = _split(p)
    if suffix == ".vhdr":
        return [p, p.with_name(stem + ".vmrk"), p.with_name(stem + ".eeg")]
    return [p]


def _identity(p: Path) -> tuple[str, tuple[int, int] | None]:
    """Canonical path (symlinks resolved, loops tolerated) and (device, inode) if it exists."""
    try:
        real = os.path.realpath(p)
    except (OSError, RuntimeError, ValueError):
        real = os.path.abspath(p)
    try:
        st = os.stat(real)
        inode = (st.st_dev, st.st_ino)
    except (OSError, ValueError):
        inode = None
    return os.path.normcase(real), inode


def check_outputs(outputs: Iterable[_PathLike | None], inputs: Iterable[_PathLike | None]) -> None:
    """Refuse outputs that are, or would replace, an input or an input's companion file.

    Call it before any work, so a refused command writes nothing.

    Parameters
    ----------
    outputs : iterable of path-like or None
        Every file the command will write (None entries are ignored). A BrainVision
        ``.vhdr`` output counts with its ``.vmrk`` and ``.eeg``.
    inputs : iterable of path-like or None
        Every file the command reads (None ignored). Each counts with its companions
        (see :func:`companions`).

    Raises
    ------
    InputError
        Naming the output: it equals an input, would overwrite a companion of one, is
        a folder, or two outputs are the same file.
    """
    guarded: dict[str, tuple[Path, Path]] = {}  # canonical -> (file, the input it belongs to)
    guarded_inodes: dict[tuple[int, int], tuple[Path, Path]] = {}
    for inp in inputs:
        if inp is None:
            continue
        for f in companions(inp):
            key, inode = _identity(f)
            guarded.setdefault(key, (f, Path(inp)))
            if inode is not None:
                guarded_inodes.setdefault(inode, (f, Path(inp)))
    claimed: dict[str, Path] = {}
    for out in outputs:
        if out is None:
            continue
        out = Path(out)
        if out.is_dir():
            raise InputError(out, "is a folder; give a file name for the output")
        for f in written_files(out):
            key, inode = _identity(f)
            hit = guarded.get(key) or (guarded_inodes.get(inode) if inode is not None else None)
            if hit is not None:
                file, owner = hit
                if Path(key) == Path(_identity(owner)[0]) or file == owner:
                    what = f"is the input {owner.name}"
                else:
                    what = f"would overwrite {file.name}, which belongs to the input {owner.name}"
                raise InputError(out, f"{what}; inputs are never overwritten: choose another output name")
            if key in claimed:
                raise InputError(out, f"is written twice (also as {claimed[key]}); give each output its own name")
            claimed[key] = out


def check_output_dir(out_dir: _PathLike, names: Iterable[str], inputs: Iterable[_PathLike | None]) -> list[Path]:
    """:func:`check_outputs` for files a command writes into a folder (``fuse --out DIR``).

    Parameters
    ----------
    out_dir : path-like
        The output folder (may not exist yet; must not be a file).
    names : iterable of str
        File names the command will write there (``result.json``, ``zmap.nii.gz``...).
    inputs : iterable of path-like or None
        Every file the command reads.

    Returns
    -------
    list of Path
        ``out_dir / name`` for every name, checked.
    """
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise InputError(folder, "exists and is not a folder; give a folder for the outputs")
    outs = [folder / n for n in names]
    check_outputs(outs, inputs)
    return outs


# --------------------------------------------------------------------------- atomic sets
def _sweep_stale(folder: Path) -> None:
    """Remove temporary files/folders left by killed workbench processes (ours only, by name)."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for d in entries:
        m = re.fullmatch(re.escape(TEMP_PREFIX) + r"(\d+)-.*", d.name)
        if not m or d.is_symlink():
            continue
        pid = int(m.group(1))
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            if d.is_dir():
                shutil.rmtree(d, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    d.unlink()
        except (PermissionError, OverflowError, OSError):
            pass


@contextlib.contextmanager
def atomic_files(targets: Sequence[_PathLike]) -> Iterator[list[Path]]:
    """Write a set of files so they appear together or not at all.

    Parameters
    ----------
    targets : sequence of path-like
        Final file names (usually in one folder; several folders work too).

    Yields
    ------
    list of Path
        Temporary paths with the same names, in a hidden folder
        (``.wbtmp-<pid>-...``) beside each target; write every one of them.

    Raises
    ------
    InputError
        A target was not written inside the block (nothing is changed then).

    Notes
    -----
    On success the files are moved into place one ``os.replace`` after the other
    (microseconds apart); a previous file at a target is moved aside first and put back
    if a later move fails. On any exception (including
    :class:`~workbench.engine.errors.Cancelled` and KeyboardInterrupt) the temporary
    folders are removed and nothing at the targets changes. Temporary folders of killed
    processes are removed the next time a set is written into the same folder.
    """
    paths = [Path(t) for t in targets]
    if not paths:
        raise ValueError("atomic_files needs at least one target")
    if len({str(p.absolute()) for p in paths}) != len(paths):
        raise InputError(paths[0], "is written twice in one output set")
    tmpdirs: dict[Path, Path] = {}
    try:
        tmp = []
        for p in paths:
            folder = p.parent.absolute()
            if folder not in tmpdirs:
                folder.mkdir(parents=True, exist_ok=True)
                _sweep_stale(folder)
                tmpdirs[folder] = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=folder))
            tmp.append(tmpdirs[folder] / p.name)
        yield tmp
        missing = [p for p, t in zip(paths, tmp) if not t.is_file()]
        if missing:
            raise InputError(missing[0], "was not written (incomplete output set); nothing was changed")
        # a FIF over 2 GB is written as linked parts (x.fif, x-1.fif, ...): they move together,
        # and the parts of an earlier, longer version at the target are removed with it
        extra_dst, extra_tmp, stale = [], [], []
        for p, t in zip(paths, tmp):
            new_parts = split_parts(t)
            extra_tmp += new_parts
            extra_dst += [p.parent / q.name for q in new_parts]
            stale += [q for q in split_parts(p) if q.name not in {n.name for n in new_parts}]
        _commit(paths + extra_dst, tmp + extra_tmp, remove=stale)
    finally:
        for d in tmpdirs.values():
            shutil.rmtree(d, ignore_errors=True)


def split_parts(path: str | os.PathLike) -> list[Path]:
    """The further parts of a split FIF file (``x-1.fif``, ``x-2.fif``, ...) that exist.

    MNE writes a raw FIF over its 2 GB split size as linked files; the first names the
    next, so they must keep their names and stay in one folder.
    """
    path = Path(path)
    if not path.name.endswith(".fif"):
        return []
    stem = path.name[: -len(".fif")]
    pattern = re.compile(re.escape(stem) + r"-(\d+)\.fif")
    try:
        found = [(int(m.group(1)), q) for q in path.parent.iterdir() if (m := pattern.fullmatch(q.name))]
    except OSError:
        return []
    return [q for _, q in sorted(found)]


def _commit(paths: list[Path], tmp: list[Path], remove: Sequence[Path] = ()) -> None:
    """Move every temporary file onto its target; restore the old files on failure.

    Files in ``remove`` (left over from an earlier version) go once all moves succeeded.
    """
    aside: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    try:
        for i, p in enumerate([*paths, *remove]):
            if p.exists() or p.is_symlink():
                # aside in the temporary folder beside it (same file system; removed with it)
                home = tmp[i].parent if i < len(tmp) else next(t.parent for t in tmp if t.parent.parent == p.parent)
                keep = home / f".old-{i}-{p.name}"
                os.replace(p, keep)
                aside.append((keep, p))
        for p, t in zip(paths, tmp):
            os.replace(t, p)
            placed.append(p)
    except BaseException:
        for p in placed:
            with contextlib.suppress(OSError):
                p.unlink()
        for keep, p in aside:
            with contextlib.suppress(OSError):
                os.replace(keep, p)
        raise
