"""Head, sensors and digitisation of a phantom subject.

The anatomy is MNE's bundled fsaverage head (scalp and inner skull, no download),
placed in the scanner in a random pose per subject: the ``mri`` frame (MNE's surface
RAS, here identical to the T1's world coordinates, metres) holds the posed anatomy.
The ``head`` frame is MNE's Neuromag frame defined by the true fiducials, so the true
head->MRI transform is known exactly. Electrodes are the 10-20/10-10 positions of MNE's
fsaverage montage projected onto the scalp; head-shape points are sampled on the scalp.
The digitisation (head frame) is built like a real session by default (issue 9):
electrodes digitised on the cap housing 3-5 mm above the skin, head-shape points only on
the upper head (above the ear/nasion plane), Gaussian noise (2 mm RMS), a few points
15 mm off; optionally a systematic outward offset (a miscalibrated stylus) and a gain
error of one digitiser axis. :data:`IDEALISED_DIG` gives the idealised digitisation of
earlier versions (electrodes on the skin, upper head and face, 1 mm, no outliers).
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import geometry as geo
from .config import PhantomConfig

__all__ = ["EEG32", "EEG64", "REF", "EOG", "ECG", "IDEALISED_DIG", "Head", "make_head", "fsaverage_surfaces"]

_BC31 = ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T7", "T8",
         "P7", "P8", "Fz", "Cz", "Pz", "Oz", "FC1", "FC2", "CP1", "CP2", "FC5", "FC6", "CP5",
         "CP6", "TP9", "TP10", "POz"]
_BC64_EXTRA = ["F1", "F2", "C1", "C2", "P1", "P2", "AF3", "AF4", "FC3", "FC4", "CP3", "CP4",
               "PO3", "PO4", "F5", "F6", "C5", "C6", "P5", "P6", "AF7", "AF8", "FT7", "FT8",
               "TP7", "TP8", "PO7", "PO8", "Fpz"]
#: 32-channel layout (BrainCap MR order, ECG moved out, CPz added)
EEG32 = [*_BC31, "CPz"]
#: 64-channel layout (BrainCap MR 64 order plus FT9, FT10, Iz)
EEG64 = [*EEG32, *_BC64_EXTRA, "FT9", "FT10", "Iz"]
REF = "FCz"
EOG = "VEOGb"  # MNE's BrainVision reader types this name as EOG by default
ECG = "ECG"

#: eye-region electrode below the left eye (fsaverage surface RAS, m) before projection
_EOG_FSAVG = np.array([-0.032, 0.075, -0.060])
#: ECG electrode on the back under the left scapula (head frame, m); off the head model
_ECG_HEAD = np.array([-0.05, -0.09, -0.30])
#: where the electrode cables leave the cap (head frame, m): back of the head
_CABLE_EXIT_HEAD = np.array([0.0, -0.11, 0.03])
#: how far off the skin an outlying head-shape point is digitised (m)
_OUTLIER_M = 0.015

#: :class:`PhantomConfig` settings of the idealised digitisation (``PhantomConfig(**IDEALISED_DIG)``)
IDEALISED_DIG = {"dig_noise_mm": 1.0, "dig_lift_mm": (0.0, 0.0), "dig_coverage": "upper+face",
                 "dig_outliers": 0, "dig_axis_scale": 1.0}


@functools.lru_cache(maxsize=1)
def fsaverage_surfaces() -> dict[str, np.ndarray]:
    """fsaverage scalp, inner skull and MRI fiducials from MNE's package data (m)."""
    import mne

    d = Path(mne.__file__).parent / "data" / "fsaverage"
    head = mne.read_bem_surfaces(d / "fsaverage-head.fif", verbose="error")[0]
    skull = mne.read_bem_surfaces(d / "fsaverage-inner_skull-bem.fif", verbose="error")[0]
    fids, _ = mne.io.read_fiducials(d / "fsaverage-fiducials.fif", verbose="error")
    fid = {int(f["ident"]): np.asarray(f["r"], float) for f in fids}
    # FIFF idents: 1 LPA, 2 nasion, 3 RPA
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mont = mne.channels.make_standard_montage("standard_1005")
    pos = mont.get_positions()["ch_pos"]
    return {
        "scalp_rr": np.asarray(head["rr"], float), "scalp_tris": np.asarray(head["tris"], int),
        "skull_rr": np.asarray(skull["rr"], float), "skull_tris": np.asarray(skull["tris"], int),
        "lpa": fid[1], "nasion": fid[2], "rpa": fid[3],
        "montage": {k: np.asarray(v, float) for k, v in pos.items()},
    }


@dataclass
class Head:
    """One subject's anatomy, sensors and digitisation.

    All ``*_mri`` arrays are in the MRI frame, ``*_head`` in the head frame (m).

    Attributes
    ----------
    scalp_rr, scalp_tris, skull_rr, skull_tris : ndarray
        Scalp and inner-skull meshes in the MRI frame.
    fid_mri : dict
        True fiducials ``nasion``, ``lpa``, ``rpa`` in the MRI frame.
    head_mri_t : ndarray, shape (4, 4)
        True head -> MRI transform.
    eeg_names : list of str
        Scalp EEG channels (reference :data:`REF` not recorded).
    elec_head : ndarray, shape (n_eeg, 3)
        True scalp electrode positions; ``eog_head``, ``ref_head``, ``ecg_head`` likewise.
    hsp_head : ndarray
        True head-shape points.
    dig_elec_head, dig_eog_head, dig_hsp_head, dig_fid_head :
        The digitised (lifted, noisy, biased) versions of the above and of the fiducials.
    centre_head, radius : ndarray, float
        Sphere fitted to the upper scalp (head frame).
    cable_exit_head : ndarray
        Where the electrode leads leave the cap.
    pose : ndarray, shape (4, 4)
        fsaverage surface RAS -> this subject's MRI frame.
    elec_lift : ndarray, shape (n_eeg,)
        Height (m) of each digitised electrode above the skin (the cap housing).
    hsp_outliers : ndarray of int
        Indices of the head-shape points digitised :data:`_OUTLIER_M` off the skin.
    dig_scale : ndarray, shape (3,)
        Gain of each digitiser axis (head frame) applied to every digitised point.
    """

    scalp_rr: np.ndarray
    scalp_tris: np.ndarray
    skull_rr: np.ndarray
    skull_tris: np.ndarray
    fid_mri: dict[str, np.ndarray]
    head_mri_t: np.ndarray
    eeg_names: list[str]
    elec_head: np.ndarray
    eog_head: np.ndarray
    ref_head: np.ndarray
    ecg_head: np.ndarray
    hsp_head: np.ndarray
    dig_elec_head: np.ndarray
    dig_eog_head: np.ndarray
    dig_hsp_head: np.ndarray
    dig_fid_head: dict[str, np.ndarray]
    centre_head: np.ndarray
    radius: float
    cable_exit_head: np.ndarray
    pose: np.ndarray
    elec_lift: np.ndarray = field(default_factory=lambda: np.zeros(0))
    hsp_outliers: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    dig_scale: np.ndarray = field(default_factory=lambda: np.ones(3))

    @property
    def mri_head_t(self) -> np.ndarray:
        """MRI -> head transform."""
        return np.linalg.inv(self.head_mri_t)

    @property
    def fid_head(self) -> dict[str, np.ndarray]:
        """True fiducials in the head frame."""
        return {k: geo.apply(self.mri_head_t, v[None])[0] for k, v in self.fid_mri.items()}


def _project_to_scalp(pts: np.ndarray, centre: np.ndarray, rr: np.ndarray, tris: np.ndarray) -> np.ndarray:
    d = pts - centre
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    dist = geo.ray_mesh_distance(centre, d, rr, tris)
    if np.isnan(dist).any():  # pragma: no cover - the fsaverage scalp is closed
        raise RuntimeError("electrode ray missed the scalp")
    return centre + dist[:, None] * d


def make_head(cfg: PhantomConfig, rng: np.random.Generator) -> Head:
    """Pose the fsaverage head, place the sensors and digitise them."""
    import mne

    fs = fsaverage_surfaces()
    names = EEG32 if cfg.n_eeg == 32 else EEG64
    centre_fs = fs["skull_rr"].mean(0)
    sensors = np.array([fs["montage"][n] for n in [*names, REF]] + [_EOG_FSAVG])
    sensors = _project_to_scalp(sensors, centre_fs, fs["scalp_rr"], fs["scalp_tris"])
    # the subject's head in the scanner: a few degrees and millimetres off fsaverage
    rot = geo.rotation(*np.deg2rad(rng.normal(0.0, 3.0, 3)))
    pose = geo.rigid(rot, rng.normal(0.0, 0.004, 3))
    scalp = geo.apply(pose, fs["scalp_rr"])
    skull = geo.apply(pose, fs["skull_rr"])
    fid_mri = {k: geo.apply(pose, fs[k][None])[0] for k in ("nasion", "lpa", "rpa")}
    sensors_mri = geo.apply(pose, sensors)
    mri_head = mne.transforms.get_ras_to_neuromag_trans(fid_mri["nasion"], fid_mri["lpa"], fid_mri["rpa"])
    head_mri = np.linalg.inv(mri_head)
    sensors_head = geo.apply(mri_head, sensors_mri)
    elec, ref, eog = sensors_head[: len(names)], sensors_head[len(names)], sensors_head[-1]
    scalp_head = geo.apply(mri_head, scalp)
    upper = scalp_head[:, 2] > 0.0
    centre, radius = geo.fit_sphere(scalp_head[upper])
    # head-shape points where people digitise: the upper head (above the ear/nasion plane,
    # z = 0 in the head frame), with the nose/brow only for "upper+face"
    tri_c = scalp_head[fs["scalp_tris"]].mean(1)
    where = tri_c[:, 2] > (-0.06 if cfg.dig_coverage == "full" else 0.0)
    if cfg.dig_coverage == "upper+face":
        where |= (tri_c[:, 1] > 0.06) & (tri_c[:, 2] > -0.05)
    hsp = geo.sample_surface(scalp_head, fs["scalp_tris"], cfg.n_head_points, rng, mask=where)

    sigma = cfg.dig_noise_mm * 1e-3 / np.sqrt(3.0)
    bias = cfg.dig_bias_mm * 1e-3

    def digitise(p: np.ndarray) -> np.ndarray:
        p = np.atleast_2d(p)
        out = p + rng.normal(0.0, sigma, p.shape)
        if bias:
            u = p - centre
            out += bias * u / np.linalg.norm(u, axis=1, keepdims=True)
        return out

    fid_head = {k: geo.apply(mri_head, v[None])[0] for k, v in fid_mri.items()}
    dig_fid = {k: digitise(fid_head[k])[0] for k in ("nasion", "lpa", "rpa")}
    dig_elec, dig_eog, dig_hsp = digitise(elec), digitise(eog)[0], digitise(hsp)
    # what a real session adds (drawn after the noise, so the noise draws stay as they were):
    # the cap lifts each electrode along the scalp normal, a few head-shape points are taken
    # with the stylus off the skin, and one digitiser axis may have a gain error
    from ..coreg.geometry import MeshDistance

    skin = MeshDistance(scalp_head, fs["scalp_tris"])
    lo, hi = cfg.dig_lift_mm
    lift = rng.uniform(lo, hi, len(elec)) * 1e-3 if hi > 0 else np.zeros(len(elec))
    dig_elec = dig_elec + skin.query(elec)[2] * lift[:, None]
    n_out = min(int(cfg.dig_outliers), len(hsp))
    outliers = np.sort(rng.choice(len(hsp), n_out, replace=False)) if n_out else np.zeros(0, int)
    if n_out:
        dig_hsp[outliers] += skin.query(hsp[outliers])[2] * _OUTLIER_M
    gain = np.ones(3)
    if cfg.dig_axis_scale != 1.0:
        gain[int(rng.integers(3))] = cfg.dig_axis_scale
        dig_elec, dig_eog, dig_hsp = dig_elec * gain, dig_eog * gain, dig_hsp * gain
        dig_fid = {k: v * gain for k, v in dig_fid.items()}
    return Head(
        scalp_rr=scalp, scalp_tris=fs["scalp_tris"], skull_rr=skull, skull_tris=fs["skull_tris"],
        fid_mri=fid_mri, head_mri_t=head_mri, eeg_names=list(names), elec_head=elec,
        eog_head=eog, ref_head=ref, ecg_head=_ECG_HEAD.copy(), hsp_head=hsp,
        dig_elec_head=dig_elec, dig_eog_head=dig_eog, dig_hsp_head=dig_hsp,
        dig_fid_head=dig_fid, centre_head=centre, radius=radius,
        cable_exit_head=_CABLE_EXIT_HEAD.copy(), pose=pose,
        elec_lift=lift, hsp_outliers=outliers, dig_scale=gain,
    )
