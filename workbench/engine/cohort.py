"""A cohort run: the same recorded pipeline on every subject of a BIDS study.

The engine side of ``workbench batch`` (the CLI schedules the subjects as Dask tasks):

- :func:`study_subjects` lists the subjects of a study;
- :func:`run_subject` runs a plan on one subject exactly as ``workbench run PIPELINE.json``
  does (``Study.load(study, subject=label)``, one :class:`~workbench.engine.runner.Runner`),
  into ``OUT/sub-<label>/`` (``project.json``, ``derivatives/``, ``report.html``), and
  returns a plain, picklable summary; it skips a subject whose previous run in that folder
  has the same steps with the same parameters on input files with the same sha256;
- :func:`write_cohort_summary` writes ``OUT/cohort.json`` and ``OUT/cohort.html``
  (subjects x steps: state and key QC).

Nothing here discovers plugins: the caller hands :func:`run_subject` the step catalogue
(the worker process builds it with ``workbench.plugin_api.all_steps()``).
"""

from __future__ import annotations

import html
import json
import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .atomic import atomic_write_json, atomic_write_text
from .errors import InputError, WorkbenchError

__all__ = ["study_subjects", "run_subject", "up_to_date", "write_cohort_summary", "COHORT_SCHEMA",
           "group_features", "write_group_tables", "summary_features",
           "subject_dir", "read_progress", "plan_signature", "finished_record"]

COHORT_SCHEMA = "workbench.cohort/1"
_PROGRESS_FILE = ".progress.json"


def study_subjects(study_dir: str | os.PathLike) -> list[str]:
    """Subject labels of a BIDS study (``sub-<label>`` folders), sorted."""
    root = Path(study_dir)
    if not root.is_dir():
        raise InputError(root, "study folder not found")
    labels = sorted(p.name[4:] for p in root.glob("sub-*") if p.is_dir() and len(p.name) > 4)
    if not labels:
        raise InputError(root, "no sub-* folders: not a BIDS study (batch runs a pipeline on each subject)")
    return labels


def subject_dir(out_dir: str | os.PathLike, label: str) -> Path:
    return Path(out_dir) / f"sub-{label}"


def plan_signature(planned: Sequence[Any]) -> list[dict[str, Any]]:
    """The validated plan as plain data: ``[{"id", "params"}]`` (what a re-run compares)."""
    from .project import _jsonable

    return [{"id": p.spec.id, "params": _jsonable(p.params)} for p in planned]


def up_to_date(sub_out: str | os.PathLike, planned: Sequence[Any]) -> str | None:
    """Why the subject's previous run can be kept, or ``None`` when it must run.

    Kept when ``sub_out/project.json`` records, as its last steps, every step of the plan
    in order, done, with the same parameters, and every input file those steps recorded
    (study files and companions) still has the recorded sha256, and the outputs exist.
    """
    from .project import Project, sha256_file

    folder = Path(sub_out)
    if not (folder / "project.json").is_file():
        return None
    try:
        proj = Project.load(folder)
    except WorkbenchError:
        return None
    want = plan_signature(planned)
    done = [s for s in proj.steps if s.name != "load"]
    if len(done) != len(want):
        return None
    hashes: dict[Path, str] = {}
    for step, w in zip(done, want):
        if step.status != "done" or step.name != w["id"] or _canon(step.params) != _canon(w["params"]):
            return None
        for rel, digest in step.inputs.items():
            path = Path(rel) if Path(rel).is_absolute() else folder / rel
            if not path.is_file():
                return None
            if path not in hashes:
                hashes[path] = sha256_file(path)
            if hashes[path] != digest:
                return None
        for rel in step.outputs:
            path = Path(rel) if Path(rel).is_absolute() else folder / rel
            if not path.exists():
                return None
    return f"unchanged: {len(want)} step(s), {len(hashes)} input file(s) with the recorded sha256"


def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


class _FileProgress:
    """Progress of one subject written to ``sub-<label>/.progress.json`` (throttled, atomic)."""

    def __init__(self, folder: Path, label: str, every_s: float = 0.5) -> None:
        self.path = folder / _PROGRESS_FILE
        self.label = label
        self.every_s = every_s
        self._last = 0.0

    def __call__(self, fraction: float, message: str = "") -> None:
        now = time.monotonic()
        if now - self._last < self.every_s and fraction < 1.0:
            return
        self._last = now
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.path, {"subject": self.label, "fraction": float(fraction),
                                          "message": str(message), "pid": os.getpid()})
        except OSError:
            pass  # progress is best effort; the run itself must not fail for it


def read_progress(out_dir: str | os.PathLike, label: str) -> dict[str, Any] | None:
    """The last progress a subject's task reported (``None`` before it started)."""
    path = subject_dir(out_dir, label) / _PROGRESS_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def run_subject(
    study_dir: str | os.PathLike,
    label: str,
    steps: Sequence[tuple[str, Mapping[str, Any] | None]],
    out_dir: str | os.PathLike,
    catalog: Mapping[str, Any],
    force: bool = False,
    progress: Callable[[float, str], None] | None = None,
    pipeline_name: str = "pipeline",
) -> dict[str, Any]:
    """Run ``steps`` on subject ``label`` into ``out_dir/sub-<label>``; never raises for the subject's data.

    Returns ``{"subject", "status" (done|failed|skipped), "steps": [{"id", "status", "qc",
    "message"}], "message", "seconds", "folder"}``; a failure (a step failing, unreadable
    data, even an unexpected exception) is reported in it, so the other subjects go on.
    """
    from .progress import as_progress
    from .project import Project
    from .report import add_provenance, new_report, save_report
    from .runner import Runner
    from .study import Study

    t0 = time.perf_counter()
    folder = subject_dir(out_dir, label)
    record: dict[str, Any] = {"subject": label, "status": "failed", "steps": [], "message": "",
                              "seconds": 0.0, "folder": f"sub-{label}"}
    cb = progress or _FileProgress(folder, label)
    p = as_progress(cb)
    try:
        p(0.0, "loading")
        study = Study.load(study_dir, subject=label, progress=p.sub(0.0, 0.08), derivatives=False)
        if study.subject is not None and str(study.subject) != str(label):
            raise InputError(study_dir, f"subject {label!r} was not found (loaded {study.subject!r})")
        runner = Runner(study, catalog, folder / "derivatives")
        planned = runner.plan(list(steps))  # the whole plan is checked before anything is written
        keep = None if force else up_to_date(folder, planned)
        if keep is not None:
            record.update(status="skipped", message=keep, steps=_steps_from_project(folder))
            p(1.0, "skipped (unchanged)")
            return record
        project = Project(folder, name=f"{pipeline_name} sub-{label}")
        project.carry_inputs_from(study.project)
        project.settings["study_dir"] = str(Path(study_dir).resolve())
        project.settings["subject"] = study.subject
        study.project = project
        runner.project = project
        report = new_report(f"{pipeline_name}: sub-{label}")
        runner.report = report
        outcomes = runner.run([(ps.spec.id, ps.params) for ps in planned], p.sub(0.08, 0.97))
        add_provenance(report, project)
        save_report(report, folder / "report.html")
        project.save()
        record["steps"] = [{"id": o.name, "status": o.status, "qc": _scalars(o.qc), "message": o.message}
                           for o in outcomes]
        failed = [o for o in outcomes if o.status != "done"]
        record["status"] = "failed" if failed else "done"
        record["message"] = "; ".join(f"{o.name}: {o.message}" for o in failed)
        p(1.0, record["status"])
    except WorkbenchError as exc:
        record["message"] = str(exc)
    except Exception as exc:  # noqa: BLE001 - one subject's crash must not stop the cohort
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" ({Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
        record["message"] = f"{type(exc).__name__}: {exc}{where}".replace("\n", " ")
    finally:
        record["seconds"] = round(time.perf_counter() - t0, 3)
        record["peak_rss_mb"] = _peak_rss_mb()
        record["pid"] = os.getpid()
    if record["status"] == "failed":
        try:
            cb(1.0, "failed")
        except Exception:  # noqa: BLE001
            pass
    return record


def finished_record(out_dir: str | os.PathLike, label: str, since: float) -> dict[str, Any] | None:
    """The record of a subject whose run completed after ``since`` (epoch s) but was not collected.

    A batch cancelled just after a worker saved a subject's ``project.json`` keeps that subject
    as done (its folder is complete: the project is saved last); ``None`` otherwise.
    """
    folder = subject_dir(out_dir, label)
    proj = folder / "project.json"
    try:
        if proj.stat().st_mtime < since:
            return None
        steps = _steps_from_project(folder)
    except (OSError, WorkbenchError):
        return None
    if not steps:
        return None
    ok = all(s["status"] == "done" for s in steps)
    return {"subject": label, "status": "done" if ok else "failed", "steps": steps, "seconds": 0.0,
            "message": "" if ok else "; ".join(f"{s['id']}: {s['message']}" for s in steps if s["status"] != "done"),
            "folder": f"sub-{label}", "note": "finished as the batch was cancelled"}


def _peak_rss_mb() -> float | None:
    """Peak resident memory of this process so far (MB; a worker's peak over the subjects it ran)."""
    try:
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return round(peak / (1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0), 1)
    except (ImportError, OSError):  # Windows has no resource module
        return None


def _steps_from_project(folder: Path) -> list[dict[str, Any]]:
    from .project import Project

    proj = Project.load(folder)
    return [{"id": s.name, "status": s.status, "qc": _scalars(s.qc), "message": s.message}
            for s in proj.steps if s.name != "load"]


def _scalars(qc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in qc.items() if isinstance(v, int | float | str | bool) or v is None}


# ---------------------------------------------------------------------- summary
def write_cohort_summary(
    out_dir: str | os.PathLike,
    records: Sequence[Mapping[str, Any]],
    meta: Mapping[str, Any] | None = None,
) -> tuple[Path, Path]:
    """``OUT/cohort.json`` (schema, meta, one record per subject) and ``OUT/cohort.html``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    recs = sorted((dict(r) for r in records), key=lambda r: r["subject"])
    counts = {s: sum(r["status"] == s for r in recs) for s in ("done", "skipped", "failed")}
    n_cancelled = sum(r["status"] == "cancelled" for r in recs)
    if n_cancelled:  # a batch stopped by the user (Ctrl-C, the GUI's Cancel): the subjects done so far
        counts["cancelled"] = n_cancelled
    doc = {"schema": COHORT_SCHEMA, **dict(meta or {}), "counts": counts, "subjects": recs}
    atomic_write_json(out / "cohort.json", doc)
    atomic_write_text(out / "cohort.html", _html(doc))
    return out / "cohort.json", out / "cohort.html"


_KEY_QC = 3  # QC values shown per cell


def _rss(r: Mapping[str, Any]) -> str:
    v = r.get("peak_rss_mb")
    return f", peak {v:.0f} MB" if isinstance(v, int | float) and v > 0 else ""


def _html(doc: Mapping[str, Any]) -> str:
    recs = doc["subjects"]
    step_ids: list[str] = []
    for r in recs:
        for s in r["steps"]:
            if s["id"] not in step_ids:
                step_ids.append(s["id"])
    for sid in doc.get("steps", []):
        if sid not in step_ids:
            step_ids.append(sid)
    colour = {"done": "#d7f0d7", "skipped": "#e4ecf7", "failed": "#f7d4d4", "cancelled": "#f3e3c0"}
    e = html.escape
    rows = []
    for r in recs:
        cells = [f"<td><a href='{e(r['folder'])}/report.html'>sub-{e(r['subject'])}</a></td>",
                 f"<td style='background:{colour.get(r['status'], '#fff')}'>{e(r['status'])}"
                 f"<br><small>{r['seconds']:.1f} s{_rss(r)}</small></td>"]
        by_id = {s["id"]: s for s in r["steps"]}
        for sid in step_ids:
            s = by_id.get(sid)
            if s is None:
                cells.append("<td>-</td>")
                continue
            qc = [(k, v) for k, v in s["qc"].items() if isinstance(v, int | float) and not isinstance(v, bool)
                  and "second" not in k][:_KEY_QC]
            txt = "<br>".join(f"<small>{e(k)}: {v:.4g}</small>" for k, v in qc)
            msg = f"<br><small>{e(s['message'][:200])}</small>" if s.get("message") else ""
            cells.append(f"<td style='background:{colour.get(s['status'], '#fff')}'>{e(s['status'])}"
                         f"<br>{txt}{msg}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
        if r["status"] == "failed" and r.get("message") and not r["steps"]:
            rows.append(f"<tr><td></td><td colspan='{len(step_ids) + 1}'><small>{e(r['message'])}</small></td></tr>")
    c = doc["counts"]
    head = "".join(f"<th>{e(s)}</th>" for s in step_ids)
    cancelled = (f", {c['cancelled']} cancelled (the batch was stopped; run it again to finish them)"
                 if c.get("cancelled") else "")
    meta = "".join(f"<li>{e(str(k))}: {e(str(v))}</li>" for k, v in doc.items()
                   if k not in ("subjects", "counts", "schema"))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Cohort</title>
<style>body{{font-family:sans-serif}} td,th{{border:1px solid #bbb;padding:4px;vertical-align:top}}
table{{border-collapse:collapse}}</style></head><body>
<h1>Cohort: {len(recs)} subject(s)</h1>
<p>{c['done']} done, {c['skipped']} skipped (unchanged), {c['failed']} failed{cancelled}</p><ul>{meta}</ul>
<table><tr><th>subject</th><th>state</th>{head}</tr>{''.join(rows)}</table></body></html>
"""


# ---------------------------------------------------------------------- group features
def group_features(
    cohort_dir: str | os.PathLike,
    marker: str = "Stimulus/S  1",
    tmin: float = -0.1,
    tmax: float = 0.5,
    channel: str = "auto",
    l_freq: float = 1.0,
    h_freq: float = 30.0,
    map_step: str = "parametric-modulation",
    map_name: str = "beta_main",
    max_sfreq: float = 250.0,
) -> dict[str, Any]:
    """Per-subject ERP (X) and contrast map (Y) from a cohort run, for group fusion (jICA, CCA).

    X: the average ERP of the trials marked ``marker`` in each subject's last cleaned EEG
    (band-passed ``l_freq``-``h_freq`` Hz, baseline ``tmin``-0, decimated to at most
    ``max_sfreq``), at ``channel`` ('auto': the channel whose ERP after 50 ms is the most
    consistent across subjects, the RMS over time of mean / SD across subjects; a channel
    chosen a priori, e.g. 'Oz' for a visual ERP, is the usual practice). Y: each subject's
    ``map_step`` map ``map_name``, resampled onto the first subject's grid, within the
    voxels every subject's analysis mask holds. Maps from different spaces are resampled
    (world coordinates); a subject without the cleaned EEG or the map is reported by name.
    """
    import mne
    import nibabel as nib
    import numpy as np

    root = Path(cohort_dir)
    folders = sorted(p for p in root.glob("sub-*") if (p / "project.json").is_file())
    if len(folders) < 2:
        raise InputError(root, "fewer than two subjects with a project.json: run `workbench batch` first")
    evokeds, maps, masks, names = [], [], [], []
    ch_names: list[str] | None = None
    times = None
    for f in folders:
        eeg = sorted((f / "derivatives").glob("*_desc-*clean*_eeg.fif"), key=lambda p: p.stat().st_mtime)
        mp = f / "derivatives" / "fusion" / map_step / f"{map_name}.nii.gz"
        mk = f / "derivatives" / "fusion" / map_step / "mask.nii.gz"
        if not eeg or not mp.is_file():
            what = "cleaned EEG" if not eeg else f"the {map_step} map {map_name}"
            raise InputError(f, f"has no {what}: this subject is missing steps; run the same pipeline on "
                                "every subject (workbench batch) or leave it out")
        raw = mne.io.read_raw_fif(eeg[-1], preload=True, verbose="error").pick("eeg")
        raw.filter(l_freq, h_freq, verbose="error")
        ev, ids = mne.events_from_annotations(raw, regexp="^" + _re_escape(marker) + "$", verbose="error")
        if len(ev) == 0:
            raise InputError(eeg[-1], f"no {marker!r} markers in the cleaned EEG")
        decim = max(1, int(raw.info["sfreq"] // max_sfreq))
        ep = mne.Epochs(raw, ev, tmin=tmin, tmax=tmax, baseline=(tmin, 0.0), preload=True, decim=decim,
                        verbose="error")
        evk = ep.average()
        if ch_names is None:
            ch_names, times = evk.ch_names, evk.times
        elif evk.ch_names != ch_names or len(evk.times) != len(times):
            raise InputError(eeg[-1], "channels or sampling rate differ from the first subject's")
        evokeds.append(evk.data)
        maps.append(nib.load(mp))
        masks.append(nib.load(mk) if mk.is_file() else None)
        names.append(f.name[4:])
    E = np.stack(evokeds)  # subjects x channels x times
    if channel == "auto":
        late = times > 0.05
        t_like = E.mean(0)[:, late] / (E.std(0, ddof=1)[:, late] + 1e-30)
        ci = int(np.argmax(np.sqrt((t_like**2).mean(1))))
    else:
        if channel not in ch_names:
            raise InputError(None, f"no channel {channel!r}; channels: {', '.join(ch_names)}")
        ci = ch_names.index(channel)
    X = E[:, ci, :]
    ref = maps[0]
    from nilearn.image import resample_to_img

    vols, keep = [], None
    for img, mk in zip(maps, masks):
        same = img.shape[:3] == ref.shape[:3] and np.allclose(img.affine, ref.affine, atol=1e-3)
        v = img if same else resample_to_img(img, ref, interpolation="continuous", force_resample=True,
                                              copy_header=True)
        vols.append(np.asarray(v.get_fdata(), float).reshape(ref.shape[:3]))
        m = np.ones(ref.shape[:3], bool) if mk is None else np.asarray(
            (mk if same else resample_to_img(mk, ref, interpolation="nearest", force_resample=True,
                                              copy_header=True)).get_fdata()).reshape(ref.shape[:3]) > 0
        keep = m if keep is None else keep & m
    if keep is None or keep.sum() < 10:
        raise InputError(root, "the subjects' analysis masks hardly overlap: maps in different spaces?")
    Y = np.stack([v[keep] for v in vols])
    return {"subjects": names, "X": X, "times": times, "channel": ch_names[ci], "Y": Y,
            "mask": keep, "affine": ref.affine, "n_trials": None}


def summary_features(features: Mapping[str, Any], roi_fraction: float = 0.01) -> dict[str, Any]:
    """One number per subject and modality: ERP amplitude and mean beta in a group ROI.

    ``x_amp``: each subject's ERP projected on the group-mean ERP (its amplitude in units of
    the group mean). ``y_roi``: each subject's mean beta over the ROI, the ``roi_fraction``
    of voxels with the largest group-mean beta. Neither uses the pairing of EEG and fMRI
    features across subjects, so a permutation test of their correlation stays exact.
    Measured on the 8-subject phantom (loadings CV ~50 %): ``x_amp`` follows the true
    loadings at r 0.94, ``y_roi`` at r 0.70 (the voxel maps' first principal component at
    r 0.12: their between-subject variance is mostly noise spread over every PC). An ROI by
    the group *t* map instead (r 0.14) picks the voxels that vary least between subjects,
    i.e. against the loading.
    """
    import numpy as np

    X, Y = np.asarray(features["X"], float), np.asarray(features["Y"], float)
    if not 0 < roi_fraction <= 1:
        raise InputError(None, f"roi_fraction {roi_fraction:g} must be in (0, 1]")
    m = X.mean(axis=0)
    if not np.any(m):
        raise InputError(None, "the group-mean ERP is zero: no ERP amplitude to measure")
    x_amp = X @ m / float(m @ m)
    mu = Y.mean(axis=0)
    k = max(1, int(round(roi_fraction * mu.size)))
    top = np.argsort(mu)[::-1][:k]
    y_roi = Y[:, top].mean(axis=1)
    roi = np.zeros(features["mask"].shape, bool)
    roi[tuple(np.argwhere(features["mask"])[top].T)] = True
    return {"x_amp": x_amp, "y_roi": y_roi, "roi": roi, "n_roi_voxels": int(k)}


def _re_escape(s: str) -> str:
    import re

    return re.escape(s)


def write_group_tables(features: Mapping[str, Any], out_dir: str | os.PathLike) -> dict[str, Path]:
    """``x.tsv`` (ERP, columns = times in s), ``y.tsv`` (voxels), ``y_mask.nii.gz``, ``x_times.tsv``.

    Also the one-number features of :func:`summary_features`: ``x_amp.tsv`` (ERP amplitude),
    ``y_roi.tsv`` (mean beta in the group ROI) and the ROI as ``roi_mask.nii.gz``.

    The files ``workbench fuse jica|cca --x --y --y-mask`` read (rows = subjects).
    """
    import nibabel as nib
    import numpy as np

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    subs = [f"sub-{s}" for s in features["subjects"]]

    def table(M, cols):
        lines = ["\t".join(["participant_id", *cols])]
        lines += ["\t".join([s, *(repr(float(v)) for v in row)]) for s, row in zip(subs, M)]
        return "\n".join(lines) + "\n"

    atomic_write_text(out / "x.tsv", table(features["X"], [f"{t:.4f}" for t in features["times"]]))
    idx = np.argwhere(features["mask"])
    atomic_write_text(out / "y.tsv", table(features["Y"], [f"v{i}_{j}_{k}" for i, j, k in idx]))
    nib.save(nib.Nifti1Image(features["mask"].astype(np.uint8), features["affine"]), out / "y_mask.nii.gz")
    atomic_write_text(out / "x_times.tsv", "\n".join(f"{t:.6f}" for t in features["times"]) + "\n")
    summ = summary_features(features)
    atomic_write_text(out / "x_amp.tsv", table(summ["x_amp"][:, None], ["erp_amplitude"]))
    atomic_write_text(out / "y_roi.tsv", table(summ["y_roi"][:, None], ["roi_mean_beta"]))
    nib.save(nib.Nifti1Image(summ["roi"].astype(np.uint8), features["affine"]), out / "roi_mask.nii.gz")
    return {"x": out / "x.tsv", "y": out / "y.tsv", "y_mask": out / "y_mask.nii.gz",
            "x_times": out / "x_times.tsv", "x_amp": out / "x_amp.tsv", "y_roi": out / "y_roi.tsv",
            "roi_mask": out / "roi_mask.nii.gz"}
