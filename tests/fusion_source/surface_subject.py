"""A small synthetic FreeSurfer subject with a cortex, for the surface source space tests.

Nothing may be downloaded (MNE's sample subject is not in the repository), so the subject is
made here, on the plugin's ball head (brain < 75 mm, skull to 80 mm, scalp to 90 mm):

* ``mri/T1.mgz``: the ball's T1;
* ``bem/{inner_skull,outer_skull,outer_skin}.surf``: spheres at 75/80/90 mm;
* ``surf/{lh,rh}.white``: two folded ellipsoids (an ico-4 subdivision, 2562 vertices each,
  radial folds of +-8 %) side by side inside the inner skull;
* ``surf/{lh,rh}.sphere``: the same vertices on a 100 mm sphere (what FreeSurfer's
  ``?h.sphere`` is: the white surface's vertices inflated onto a sphere, same order), which
  ``mne.setup_source_space`` decimates with ``ico``/``oct`` spacings.

The truth is simulated through MNE's forward with a 3-shell *sphere* model of the same radii
(not the BEM the method builds, so the inverse is not given its own forward): a dipole at a
vertex of the decimated cortex, oriented along its normal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

SUBJECT = "ball"
SPACING = "ico3"


def sphere_mesh(radius_mm: float, n: int = 320) -> tuple[np.ndarray, np.ndarray]:
    """A closed triangulated sphere (outward-facing triangles), mm."""
    from scipy.spatial import ConvexHull

    k = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * k / n)
    theta = np.pi * (1 + 5**0.5) * k
    pts = np.c_[np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)]
    tris = ConvexHull(pts).simplices.copy()
    normal = np.cross(pts[tris[:, 1]] - pts[tris[:, 0]], pts[tris[:, 2]] - pts[tris[:, 0]])
    flip = np.sum(normal * pts[tris].mean(1), axis=1) < 0
    tris[flip] = tris[flip][:, ::-1]
    return pts * radius_mm, tris


def hemisphere(side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(white vertices mm, sphere vertices mm, triangles) of one folded hemisphere."""
    from mne.surface import _get_ico_surface  # MNE's icosahedron subdivision (private, stable)

    ico = _get_ico_surface(4)
    u = ico["rr"] / np.linalg.norm(ico["rr"], axis=1, keepdims=True)
    theta, phi = np.arctan2(u[:, 1], u[:, 0]), np.arccos(u[:, 2])
    fold = 1 + 0.08 * np.sin(6 * theta) * np.sin(5 * phi)
    white = u * np.array([26.0, 45.0, 35.0]) * fold[:, None] + np.array([side * 30.0, -5.0, 10.0])
    return white, u * 100.0, np.asarray(ico["tris"])


def make_subject(root: Path, t1: Any, spheres: bool = True, name: str = SUBJECT) -> Path:
    """Write the subject under ``root/name`` (``root`` is the SUBJECTS_DIR)."""
    import nibabel as nib

    subj = root / name
    for d in ("mri", "bem", "surf"):
        (subj / d).mkdir(parents=True, exist_ok=True)
    nib.save(nib.MGHImage(np.asarray(t1.dataobj, np.float32), t1.affine), subj / "mri" / "T1.mgz")
    for bem_name, r in (("inner_skull", 75.0), ("outer_skull", 80.0), ("outer_skin", 90.0)):
        rr, tris = sphere_mesh(r)
        nib.freesurfer.write_geometry(str(subj / "bem" / f"{bem_name}.surf"), rr, tris)
    for hemi, side in (("lh", -1), ("rh", 1)):
        white, sph, tris = hemisphere(side)
        nib.freesurfer.write_geometry(str(subj / "surf" / f"{hemi}.white"), white, tris)
        if spheres:
            nib.freesurfer.write_geometry(str(subj / "surf" / f"{hemi}.sphere"), sph, tris)
    return subj


def _truth_sphere() -> Any:
    import mne

    return mne.make_sphere_model((0.0, 0.0, 0.0), 0.09, relative_radii=(75 / 90, 80 / 90, 1.0),
                                 sigmas=(0.3, 0.006, 0.3), verbose="error")


def truth_forward(info: Any, src: Any) -> Any:
    """MNE's forward for the truth: 3-shell sphere (75/80/90 mm), fixed normal orientation."""
    import mne

    fwd = mne.make_forward_solution(info, mne.transforms.Transform("head", "mri", np.eye(4)), src, _truth_sphere(),
                                    meg=False, eeg=True, mindist=0.0, verbose="error")
    return mne.convert_forward_solution(fwd, surf_ori=True, force_fixed=True, use_cps=True, verbose="error")


def off_cortex_dipole(fwd: Any, vertex: int, depth_m: float, tilt: float) -> tuple[np.ndarray, np.ndarray]:
    """(position m, unit orientation) of a dipole ``depth_m`` below ``vertex`` of the cortex
    (inward along its normal), its orientation the normal tilted by ``atan(tilt)`` about the
    vertical: a source off the cortex model, as a real cortex model is off by a few mm (the
    workbench phantom's sources lie 3-14 mm from its cortex, orientation cosines 0.87-0.98)."""
    pos = np.concatenate([s["rr"][s["vertno"]] for s in fwd["src"]])
    nn = fwd["source_nn"][vertex]
    ori = nn + tilt * np.cross(nn, [0.0, 0.0, 1.0])
    return pos[vertex] - depth_m * nn, ori / np.linalg.norm(ori)


def dipole_gain(info: Any, pos_m: np.ndarray, ori: np.ndarray) -> np.ndarray:
    """EEG gain (n_channels,) of one dipole anywhere in the brain (the truth's 3-shell sphere)."""
    import mne

    vsrc = mne.setup_volume_source_space(pos={"rr": np.asarray(pos_m, float)[None], "nn": np.asarray(ori)[None]},
                                         sphere=(0.0, 0.0, 0.0, 0.09), sphere_units="m", verbose="error")
    vf = mne.make_forward_solution(info, mne.transforms.Transform("head", "mri", np.eye(4)), vsrc, _truth_sphere(),
                                   meg=False, eeg=True, verbose="error")
    return vf["sol"]["data"] @ np.asarray(ori, float)


def nearest_vertex(fwd: Any, target_m: np.ndarray) -> int:
    """Index (into the forward's sources) of the vertex nearest ``target_m`` (mri = head)."""
    pos = np.concatenate([s["rr"][s["vertno"]] for s in fwd["src"]])
    return int(np.argmin(np.linalg.norm(pos - target_m, axis=1)))


def simulate(info: Any, fwd: Any, vertices: list[int], amps_nam: list[float], seed: int = 0,
             nave: int = 40, noise_uv: float = 2.0, sfreq: float = 250.0,
             gains: list[np.ndarray] | None = None) -> tuple[Any, Any]:
    """(evoked, noise covariance): dipoles at ``vertices`` along their normals (or with the
    given ``gains`` columns instead; peaks at 100 ms, 20 ms wide; -50..250 ms), white sensor
    noise of ``noise_uv`` per trial averaged over ``nave``."""
    import mne

    rng = np.random.default_rng(seed)
    times = np.arange(-0.05, 0.25, 1 / sfreq)  # short: the soft prior's windows cost the time
    erp = np.exp(-0.5 * ((times - 0.1) / 0.02) ** 2)
    if gains is None:
        gains = [fwd["sol"]["data"][:, v] for v in vertices]
    data = sum(g[:, None] * (a * 1e-9) * erp[None, :] for g, a in zip(gains, amps_nam))
    data = data + noise_uv * 1e-6 / np.sqrt(nave) * rng.standard_normal(data.shape)
    ev = mne.EvokedArray(data, info.copy(), tmin=times[0], nave=nave, comment="stim", verbose="error")
    cov = mne.Covariance(np.eye(len(info.ch_names)) * (noise_uv * 1e-6) ** 2, info.ch_names, [], [], nfree=1000,
                         verbose="error")
    return ev, cov


def zmap(t1: Any, centres_m: list[np.ndarray], path: Path, peak: float = 6.0, sigma_mm: float = 8.0) -> Path:
    """A z-map on the T1's grid with a Gaussian blob (``peak``) at each centre (mri frame)."""
    import nibabel as nib

    aff = np.asarray(t1.affine, float)
    ijk = np.indices(t1.shape[:3]).reshape(3, -1).T
    xyz = (ijk @ aff[:3, :3].T + aff[:3, 3]) * 1e-3  # the ball's scanner RAS is its mri frame
    z = np.zeros(len(xyz))
    for c in centres_m:
        z += peak * np.exp(-0.5 * (np.linalg.norm(xyz - c, axis=1) / (sigma_mm * 1e-3)) ** 2)
    nib.save(nib.Nifti1Image(z.reshape(t1.shape[:3]).astype(np.float32), aff), path)
    return path
