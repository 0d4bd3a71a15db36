"""Write a phantom study: BIDS layout, real file formats, and its ground truth.

Everything is written into a hidden temporary folder beside ``out_dir`` and renamed
into place only when complete, so a cancel or crash leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..progress import Progress, ProgressLike, as_progress
from . import geometry as geo
from .anatomy import make_anatomy, make_bold_grid
from .artifacts import Blinks, Drifts, LineNoise
from .bold import NEURAL_DT, make_bold
from .cardiac import CardiacGenerator, make_rpeaks
from .clock import make_timeline, make_triggers
from .cohort import apply_shared_loading, cohort_truth
from .config import PhantomConfig
from .gradient import GradientGenerator
from .head import ECG, EOG, REF, make_head
from .loops import lead_loops
from .sources import SOURCES, NeuralGenerator, make_events, make_forward
from .streams import BrainVisionStream, NpyStream

__all__ = ["simulate_study", "check_out_dir", "COMPONENTS", "TASK"]

TASK = "phantom"
#: artifact components; recorded EEG = clean + sum of these
COMPONENTS = ("gradient", "bcg", "line", "blink", "drift")
AMP_NOISE_V = 0.5e-6  # amplifier/electrode white noise (part of the clean signal)


def simulate_study(out_dir: str | os.PathLike, config: PhantomConfig | None = None,
                   progress: ProgressLike | Progress | None = None, *, overwrite: bool = False) -> Path:
    """Simulate a simultaneous EEG-fMRI study with ground truth and write it to ``out_dir``.

    Parameters
    ----------
    out_dir : path-like
        Study folder to create. It must not exist or be empty unless ``overwrite``.
    config : PhantomConfig | None
        Settings (defaults when None).
    progress : callable | Progress | None
        ``progress(fraction, message)``; cancelling removes everything written.
    overwrite : bool
        Replace an existing non-empty ``out_dir`` (only once the new study is complete).

    Returns
    -------
    Path
        ``out_dir``.
    """
    cfg = config or PhantomConfig()
    p = as_progress(progress)
    out = check_out_dir(out_dir, overwrite)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
    except OSError as exc:
        raise InputError(out, f"cannot create the study folder ({exc.strerror or exc})") from None
    try:
        _write_study(tmp, cfg, p)
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except OSError as exc:  # disk full, permissions...
        shutil.rmtree(tmp, ignore_errors=True)
        raise InputError(out, f"cannot write the study ({exc.strerror or exc})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    p(1.0, f"study written to {out}")
    return out


def check_out_dir(out_dir: str | os.PathLike, overwrite: bool = False) -> Path:
    """Raise a one-line :class:`InputError` unless ``out_dir`` can receive a new study."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a folder")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(parent, "is a file, not a folder: cannot create the study inside it")
            break
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InputError(out, "folder exists and is not empty (use --overwrite to replace it)")
    return out


def _jdump(path: Path, obj: Any) -> None:
    from ..atomic import _json_default

    path.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n", encoding="utf-8")


def _write_study(root: Path, cfg: PhantomConfig, p: Progress) -> None:
    _jdump(root / "dataset_description.json", {
        "Name": "EEG-fMRI Workbench phantom", "BIDSVersion": "1.9.0", "DatasetType": "raw",
        "GeneratedBy": [{"Name": "eegfmri-workbench phantom", "Description": "simulated study"}],
    })
    subs = [f"{i + 1:02d}" for i in range(cfg.n_subjects)]
    (root / "participants.tsv").write_text("participant_id\n" + "".join(f"sub-{s}\n" for s in subs))
    (root / "README").write_text(
        "Simulated simultaneous EEG-fMRI study written by `workbench simulate`.\n"
        "ground_truth/index.json describes the truth of every stage.\n")
    index: dict[str, Any] = {
        "kind": "workbench-phantom-ground-truth", "version": 1, "config": cfg.to_dict(),
        "components": ["clean", *COMPONENTS],
        "units": {"eeg": "V", "time": "s", "positions": "m", "transform": "head->mri, m"},
        "notes": "recorded EEG = clean + gradient + bcg + line + blink + drift (float32, V, "
                 "channels x samples); times on the EEG clock unless named _mri; "
                 "t_EEG = alpha * t_MRI + beta",
        "keys": {
            "arrays": "clean EEG and each artifact component, float32 .npy (channels x samples, V)",
            "source_moments": "true dipole moment of each role source (A·m), rows source_moment_rows",
            "rpeaks": "R-peak times (s, EEG clock)",
            "clock": "t_EEG = alpha * t_MRI + beta",
            "triggers": "every volume onset on both clocks; recorded markers (sample, volume or -1 "
                        "for spurious); missing volumes; slice onsets (scanner clock)",
            "events": "task trials: onsets (both clocks), condition, trial amplitude",
            "trans": "true head -> MRI transform (MNE -trans.fif); also head_mri_t (4x4, m)",
            "fiducials_mri_m": "true MRI fiducials (mri frame = T1 world coordinates, m)",
            "dig_true_head_m": "true (noise-free) electrode and head-shape positions, head frame; "
                               "electrodes on the skin (the digitised ones sit dig_electrode_lift_m above it)",
            "dig_electrode_lift_m, dig_head_shape_outliers, dig_axis_gain": "height of each digitised "
                "electrode above the skin (cap + gel), head-shape points digitised 15 mm off, gain of "
                "each digitiser axis",
            "sources": "role sources (task, fmri_invisible, eeg_invisible, alpha) with positions",
            "masks": "activation masks (BOLD grid NIfTI); the fmri_invisible one marks its region",
            "neural": "neural input to the haemodynamics per role source (scanner clock, neural_dt)",
            "bold_regions": "Balloon-Windkessel fractional BOLD change per role source",
            "loop_areas, loop_moments": "lead-loop area vectors (m²) and gradient moments (m³)",
        },
        "subjects": {},
    }
    for i, sub in enumerate(subs):
        sp = p.sub(i / len(subs), (i + 1) / len(subs))
        index["subjects"][sub] = _write_subject(root, cfg, sub, i, sp)
    index["cohort"] = cohort_truth(cfg, subs)
    _jdump(root / "ground_truth" / "index.json", index)


@dataclass
class _Subject:
    """Everything one subject's writers share."""

    cfg: PhantomConfig
    root: Path
    sub: str
    isub: int

    @property
    def tag(self) -> str:
        return f"sub-{self.sub}"

    def rng(self, stream: int) -> np.random.Generator:
        """Independent, seeded random stream per part of the simulation."""
        return np.random.default_rng([self.cfg.seed, self.isub, stream])

    def dir(self, kind: str) -> Path:
        d = self.root / "ground_truth" / self.tag if kind == "truth" else self.root / self.tag / kind
        d.mkdir(parents=True, exist_ok=True)
        return d

    def rel(self, path: Path) -> str:
        """Path relative to ``ground_truth/`` (how the index names files)."""
        return path.relative_to(self.root / "ground_truth").as_posix()


def _write_subject(root: Path, cfg: PhantomConfig, sub: str, isub: int, p: Progress) -> dict[str, Any]:
    s = _Subject(cfg, root, sub, isub)
    p(0.0, f"{s.tag}: head and anatomy")
    head = make_head(cfg, s.rng(1))
    grid = _write_anatomy(s, head)
    p.check()
    p(0.05, f"{s.tag}: sources and forward model")
    fwd = make_forward(head, s.rng(3))
    tl = make_timeline(cfg, s.rng(4))
    trig = make_triggers(cfg, tl, s.rng(5))
    events = apply_shared_loading(cfg, make_events(cfg, s.rng(6)), isub)
    gen = NeuralGenerator(cfg, events, fwd, tl.to_eeg, seed=(cfg.seed, isub))
    entry = _write_bold(s, tl, grid, gen, fwd, events, p.sub(0.08, 0.2))
    p.check()
    entry.update(_write_eeg(s, head, fwd, gen, tl, trig, events, p.sub(0.2, 0.97)))
    p(0.975, f"{s.tag}: digitisation and truth")
    _write_dig(s.dir("eeg"), s.tag, head)
    entry.update(_write_truth(s, head, fwd, tl, trig, entry["masks"]))
    return entry


def _write_anatomy(s: _Subject, head) -> Any:
    """T1w NIfTI and the scalp surface; returns the EPI grid."""
    import mne
    import nibabel as nib

    anat = make_anatomy(s.cfg, head, s.rng(2))
    d = s.dir("anat")
    nib.save(nib.Nifti1Image(anat.t1, anat.affine), d / f"{s.tag}_T1w.nii.gz")
    _jdump(d / f"{s.tag}_T1w.json", {"Modality": "MR", "MagneticFieldStrength": 3,
                                     "Note": "simulated T1-weighted phantom head"})
    surf = {"id": 4, "sigma": 0.33, "rr": head.scalp_rr, "tris": head.scalp_tris,
            "np": len(head.scalp_rr), "ntri": len(head.scalp_tris), "coord_frame": 5}
    surf["nn"] = geo.vertex_normals(head.scalp_rr, head.scalp_tris)
    mne.write_bem_surfaces(d / f"{s.tag}-head.fif", [surf], overwrite=True, verbose="error")
    return make_bold_grid(s.cfg, head, anat)


def _write_bold(s: _Subject, tl, grid, gen, fwd, events, p: Progress) -> dict[str, Any]:
    """BOLD NIfTI + sidecar + events.tsv, activation masks and haemodynamic truth."""
    import nibabel as nib

    cfg, tag = s.cfg, s.tag
    d_func, d_gt = s.dir("func"), s.dir("truth")
    n_u = int(np.ceil((cfg.n_volumes * cfg.tr + 1.0) / NEURAL_DT))
    neural = gen.neural_input(NEURAL_DT, n_u)
    bold = make_bold(cfg, tl, grid, neural, fwd.pos_mri[: len(SOURCES)], s.rng(7), p)
    bimg = nib.Nifti1Image(bold.data, grid.affine)
    bimg.header.set_xyzt_units("mm", "sec")
    bimg.header.set_zooms((*bimg.header.get_zooms()[:3], cfg.tr))
    nib.save(bimg, d_func / f"{tag}_task-{TASK}_bold.nii.gz")
    _jdump(d_func / f"{tag}_task-{TASK}_bold.json", {
        "TaskName": TASK, "RepetitionTime": cfg.tr, "SliceTiming": [round(float(t), 6) for t in tl.slice_timing],
        "MultibandAccelerationFactor": cfg.multiband, "SliceEncodingDirection": "k",
        "MagneticFieldStrength": 3, "EchoTime": 0.03, "Note": "simulated by the workbench phantom"})
    lines = ["onset\tduration\ttrial_type\tamplitude"]
    lines += [f"{o:.4f}\t{1.0:.1f}\t{c}\t{a:.4f}"
              for o, c, a in zip(events.onset_mri, events.condition, events.amplitude)]
    (d_func / f"{tag}_task-{TASK}_events.tsv").write_text("\n".join(lines) + "\n")
    mask_files = {}
    for k, spec in enumerate(SOURCES):
        if spec.mask_mm > 0:
            f = d_gt / f"{tag}_desc-{spec.name}_mask.nii.gz"
            nib.save(nib.Nifti1Image(bold.masks[k].astype(np.uint8), grid.affine), f)
            mask_files[spec.name] = s.rel(f)
    np.save(d_gt / f"{tag}_neural.npy", neural.astype(np.float32))
    np.save(d_gt / f"{tag}_bold_regions.npy", bold.bold_regions.astype(np.float32))
    return {
        "masks": mask_files,
        "neural": s.rel(d_gt / f"{tag}_neural.npy"), "bold_regions": s.rel(d_gt / f"{tag}_bold_regions.npy"),
        "neural_dt": NEURAL_DT, "neural_columns": [spec.name for spec in SOURCES],
        "bold_affine": grid.affine,
    }


def _write_eeg(s: _Subject, head, fwd, gen, tl, trig, events, p: Progress) -> dict[str, Any]:
    """Generate the EEG chunk by chunk into the BrainVision file and the truth arrays."""
    cfg, tag = s.cfg, s.tag
    d_eeg, d_gt = s.dir("eeg"), s.dir("truth")
    ch_names = [*fwd.channels, ECG]
    n_ch, n_eeg_eog = len(ch_names), len(fwd.channels)
    areas, moments = lead_loops(head, s.rng(8))
    grad = GradientGenerator(cfg, tl, moments, s.rng(9), motion_rng=s.rng(15))
    rpeaks = make_rpeaks(cfg, s.rng(10))
    card = CardiacGenerator(cfg, rpeaks, areas, s.rng(11))
    line = LineNoise(cfg, n_ch, s.rng(12))
    sites = np.vstack([head.elec_head, head.eog_head[None], head.ecg_head[None]])
    blinks = Blinks(cfg, sites, n_eeg_eog - 1, s.rng(13))
    drifts = Drifts(cfg, n_ch, s.rng(14))
    parts = (fwd, gen, grad, card, line, blinks, drifts, n_eeg_eog)

    n_times = cfg.n_times
    vhdr = d_eeg / f"{tag}_task-{TASK}_eeg.vhdr"
    bv = BrainVisionStream(vhdr, ch_names, cfg.sfreq)
    streams = {name: NpyStream(d_gt / f"{tag}_{name}.npy", (n_ch, n_times)) for name in ("clean", *COMPONENTS)}
    mom_stream = NpyStream(d_gt / f"{tag}_source_moments.npy", (len(SOURCES), n_times))
    chunk = max(int(round(cfg.chunk_s * cfg.sfreq)), 1)
    n_chunks = int(np.ceil(n_times / chunk))
    try:
        for ci in range(n_chunks):
            n0, n1 = ci * chunk, min((ci + 1) * chunk, n_times)
            p(ci / n_chunks, f"{tag}: EEG {n0 / cfg.sfreq:.0f}-{n1 / cfg.sfreq:.0f} s of {cfg.duration_s:g} s")
            comps, mom = _eeg_chunk(cfg, n0, n1, ci, s.isub, *parts)
            mom_stream.write(n0, mom[: len(SOURCES)])
            total = np.zeros((n_ch, n1 - n0))
            for name, arr in comps.items():
                f32 = arr.astype(np.float32)
                streams[name].write(n0, f32)
                total += f32
            bv.write(total)
            del comps, total
    except BaseException:
        bv.abort()
        for st in (*streams.values(), mom_stream):
            st.abort()
        raise
    for st in (*streams.values(), mom_stream):
        st.close()

    def first_sample(t_eeg: np.ndarray) -> np.ndarray:
        return np.clip(np.ceil(t_eeg * cfg.sfreq - 1e-9).astype(np.int64), 0, n_times - 1)

    onset_eeg = tl.to_eeg(events.onset_mri)
    stim_samples = first_sample(onset_eeg)
    markers: list[tuple[str, str, int]] = [("Response", "R128", int(x)) for x in trig.recorded_sample]
    markers += [("Stimulus", f"S{c:3d}", int(x)) for c, x in zip(events.code, stim_samples)]
    if cfg.slice_markers:
        markers += [("Scanner", "s", int(x)) for x in first_sample(tl.to_eeg(tl.excitation_onsets))]
    bv.close(markers)
    ev_lines = ["onset\tduration\ttrial_type\tvalue\tsample\tamplitude"]
    ev_lines += [f"{smp / cfg.sfreq:.6f}\t1.0\t{c}\tS{k:3d}\t{smp}\t{a:.4f}"
                 for smp, c, k, a in zip(stim_samples, events.condition, events.code, events.amplitude)]
    (d_eeg / f"{tag}_task-{TASK}_events.tsv").write_text("\n".join(ev_lines) + "\n")

    np.save(d_gt / f"{tag}_rpeaks.npy", rpeaks)
    np.save(d_gt / f"{tag}_loop_areas.npy", areas)
    np.save(d_gt / f"{tag}_loop_moments.npy", grad.moments)
    motion_entry: dict[str, Any] = {}
    if cfg.motion_events > 0:
        # the head's true motion per volume (its middle), as SPM realignment writes it
        # (rp_*.txt: x y z in mm, pitch roll yaw in rad, one row per volume)
        rp = d_gt / f"rp_{tag}_task-{TASK}_bold.txt"
        tra, rot = grad.head_motion(tl.to_eeg(tl.volume_onsets + 0.5 * cfg.tr))
        rp.write_text("".join("  ".join(f"{x: .8e}" for x in row) + "\n" for row in np.hstack([tra, rot])))
        motion_entry = {"motion_params": s.rel(rp)}
    return {**motion_entry,
        "sfreq": cfg.sfreq, "n_times": n_times, "ch_names": ch_names,
        "ch_types": ["eeg"] * len(head.eeg_names) + ["eog", "ecg"], "reference": REF,
        "files": {
            "eeg": (vhdr.relative_to(s.root)).as_posix(),
            "bold": f"{tag}/func/{tag}_task-{TASK}_bold.nii.gz",
            "t1": f"{tag}/anat/{tag}_T1w.nii.gz",
            "scalp": f"{tag}/anat/{tag}-head.fif",
            "events": f"{tag}/func/{tag}_task-{TASK}_events.tsv",
            "electrodes": f"{tag}/eeg/{tag}_electrodes.tsv",
        },
        "arrays": {name: s.rel(streams[name].path) for name in ("clean", *COMPONENTS)},
        "rpeaks": s.rel(d_gt / f"{tag}_rpeaks.npy"),
        "events": {"onset_mri": events.onset_mri, "onset_eeg": onset_eeg, "onset_sample": stim_samples,
                   "condition": events.condition.tolist(), "amplitude": events.amplitude,
                   "marker": {"visual": "Stimulus/S  1", "motor": "Stimulus/S  2"}},
        "source_moments": s.rel(mom_stream.path), "source_moment_rows": [spec.name for spec in SOURCES],
        "loop_areas": s.rel(d_gt / f"{tag}_loop_areas.npy"),
        "loop_moments": s.rel(d_gt / f"{tag}_loop_moments.npy"),
        "bcg_delay_s": cfg.bcg_delay_s, "blink_onsets": blinks.times,
        "motion_onsets": grad.motion_onsets, "motion_steps": grad.motion_steps,
    }


def _write_truth(s: _Subject, head, fwd, tl, trig, mask_files: dict[str, str]) -> dict[str, Any]:
    """Transform, clock and trigger truth, sources; returns their index entries."""
    import mne

    cfg, tag, d_gt = s.cfg, s.tag, s.dir("truth")
    mne.write_trans(d_gt / f"{tag}-trans.fif", mne.transforms.Transform("head", "mri", head.head_mri_t),
                    overwrite=True, verbose="error")
    np.save(d_gt / f"{tag}_slice_onsets_mri.npy", tl.excitation_onsets)
    np.save(d_gt / f"{tag}_gain.npy", fwd.gain)
    sources = []
    for k, name in enumerate(fwd.names[: len(SOURCES)]):
        spec = SOURCES[k]
        sources.append({
            "name": name, "role": spec.role, "condition": spec.condition,
            "pos_mri_m": fwd.pos_mri[k], "ori_mri": fwd.ori_mri[k],
            "pos_head_m": geo.apply(head.mri_head_t, fwd.pos_mri[k][None])[0],
            "moment_nAm": spec.moment_nam, "evoked_peaks_s": [list(x) for x in spec.peaks],
            "bold_coupling": spec.bold, "bold_visible": spec.bold != 0, "closed_field": spec.closed_field,
            "eeg_gain_norm": float(np.linalg.norm(fwd.gain[:, k])), "mask": mask_files.get(name),
        })
    _jdump(d_gt / f"{tag}_sources.json", {
        "sources": sources, "n_background_dipoles": len(fwd.names) - len(SOURCES),
        "gain_file": f"{tag}/{tag}_gain.npy", "gain_channels": fwd.channels,
        "gain_columns": fwd.names, "sphere": fwd.info})
    return {
        "clock": {"alpha": tl.alpha, "beta": tl.beta, "drift_ppm": cfg.drift_ppm},
        "triggers": {
            "true_mri": trig.true_mri, "true_eeg": trig.true_eeg,
            "recorded_sample": trig.recorded_sample, "recorded_volume": trig.recorded_volume,
            "missing_volumes": trig.missing_volumes,
            "slice_onsets_mri": s.rel(d_gt / f"{tag}_slice_onsets_mri.npy"),
            "slices_per_volume": cfg.slices, "excitations_per_volume": cfg.excitations_per_volume,
            "slice_period_s": cfg.slice_period_s, "slice_timing": tl.slice_timing,
            "volume_marker": "Response/R128", "slice_marker": "Scanner/s" if cfg.slice_markers else None,
        },
        "trans": s.rel(d_gt / f"{tag}-trans.fif"), "head_mri_t": head.head_mri_t,
        "fiducials_mri_m": dict(head.fid_mri), "fiducials_head_m": head.fid_head,
        "dig_true_head_m": {"electrodes": dict(zip(head.eeg_names, head.elec_head.tolist())),
                            EOG: head.eog_head, "head_shape": head.hsp_head},
        "dig_noise_mm": cfg.dig_noise_mm, "dig_bias_mm": cfg.dig_bias_mm,
        "dig_electrode_lift_m": dict(zip(head.eeg_names, np.asarray(head.elec_lift, float).tolist())),
        "dig_head_shape_outliers": [f"HSP{i + 1:03d}" for i in np.asarray(head.hsp_outliers, int)],
        "dig_axis_gain": np.asarray(head.dig_scale, float).tolist(),
        "sources": s.rel(d_gt / f"{tag}_sources.json"),
    }


def _eeg_chunk(cfg, n0, n1, ci, isub, fwd, gen, grad, card, line, blinks, drifts,
               n_eeg_eog) -> tuple[dict[str, np.ndarray], np.ndarray]:
    n_ch = len(fwd.channels) + 1
    moments = gen.chunk(n0, n1, ci)
    ecg, bcg = card.chunk(n0, n1)
    clean = np.empty((n_ch, n1 - n0))
    clean[:n_eeg_eog] = fwd.gain @ moments
    clean[n_eeg_eog] = ecg
    clean += np.random.default_rng([cfg.seed, isub, 100, ci]).standard_normal((n_ch, n1 - n0)) * AMP_NOISE_V
    return {
        "clean": clean, "gradient": grad.chunk(n0, n1), "bcg": bcg, "line": line.chunk(n0, n1),
        "blink": blinks.chunk(n0, n1), "drift": drifts.chunk(n0, n1),
    }, moments


def _write_dig(d_eeg: Path, tag: str, head) -> None:
    rows = ["name\tx\ty\tz\ttype"]
    for name, xyz in zip(head.eeg_names, head.dig_elec_head):
        rows.append(f"{name}\t{xyz[0]:.6f}\t{xyz[1]:.6f}\t{xyz[2]:.6f}\tEEG")
    e = head.dig_eog_head
    rows.append(f"{EOG}\t{e[0]:.6f}\t{e[1]:.6f}\t{e[2]:.6f}\tEOG")
    for i, xyz in enumerate(head.dig_hsp_head):
        rows.append(f"HSP{i + 1:03d}\t{xyz[0]:.6f}\t{xyz[1]:.6f}\t{xyz[2]:.6f}\tHSP")
    (d_eeg / f"{tag}_electrodes.tsv").write_text("\n".join(rows) + "\n")
    fid = head.dig_fid_head
    _jdump(d_eeg / f"{tag}_coordsystem.json", {
        "EEGCoordinateSystem": "CapTrak", "EEGCoordinateUnits": "m",
        "EEGCoordinateSystemDescription": "RAS head frame: x through the pre-auricular points "
        "(LPA -> RPA), y through the nasion, z up (MNE 'head' / Neuromag frame). Rows of type "
        "HSP are digitised head-shape points.",
        "AnatomicalLandmarkCoordinates": {"NAS": fid["nasion"], "LPA": fid["lpa"], "RPA": fid["rpa"]},
        "AnatomicalLandmarkCoordinateSystem": "CapTrak", "AnatomicalLandmarkCoordinateUnits": "m",
        "FiducialsDescription": "digitised with the same digitiser as the electrodes",
    })
