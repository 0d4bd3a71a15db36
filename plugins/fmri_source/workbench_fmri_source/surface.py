"""The cortical surface source space: choosing it, building or reading it (MNE), and the
surface versions of the fMRI sampling, the clusters, the local patches and the T1 map.

A surface source space is used when the user gives one (``--src X-src.fif``, made by
``mne.setup_source_space``) or, with ``source_space=auto|surface``, when the FreeSurfer
subject has ``surf/lh.white`` and ``surf/rh.white`` (and ``surf/?h.sphere``, which MNE's
ico/oct decimation maps its subdivision onto). Otherwise the volume grid is used and the
messages say why. MNE builds the source space (``setup_source_space``), its adjacency
(``spatial_src_adjacency``) and, with fixed orientation, the forward normal to the cortex
(``convert_forward_solution(surf_ori=True, force_fixed=True)``); what is written here is
only what MNE does not have: the fMRI map sampled in the cortical ribbon, the prior's
clusters and patches on the surface, and the vertex values painted into the T1 grid.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from workbench.engine.errors import InputError

__all__ = ["SourceSpaceChoice", "choose_source_space", "sample_ribbon", "surface_clusters", "surface_patches",
           "t1_painter", "surface_triangles", "RIBBON_MM", "PAINT_MM"]

#: depths (mm) along the outward normal of a white-surface vertex at which the fMRI map is
#: sampled; the maximum is taken (see :func:`sample_ribbon`)
RIBBON_MM = (0.0, 1.0, 2.0, 3.0)
#: radius (mm) around each vertex within which its value is painted into the T1 grid
PAINT_MM = 3.0
_SPACING_RE = re.compile(r"^(ico|oct)[2-7]$|^all$")
_FIFF_COORD_MRI = 5


class SourceSpaceChoice:
    """Which source space the method uses, and why.

    Attributes
    ----------
    kind : "volume" | "surface"
    reason : str
        One sentence for the messages and ``result.json``.
    src : mne.SourceSpaces | None
        The source space to use (None: the method builds its volume grid).
    """

    def __init__(self, kind: str, reason: str, src: Any = None) -> None:
        self.kind, self.reason, self.src = kind, reason, src


def choose_source_space(mode: str, src_file: Path | None, fs: dict[str, Path] | None, fs_subject: str,
                        spacing: str) -> SourceSpaceChoice:
    """The source space for ``source_space=mode`` (auto | volume | surface).

    Parameters
    ----------
    mode : str
        ``auto`` (a given ``--src``, else the subject's cortex when it has the surfaces,
        else the volume grid), ``volume`` or ``surface`` (an error when there is none).
    src_file : Path | None
        A source space made by MNE (``-src.fif``): surface or volume, in the MRI frame.
    fs : dict | None
        :func:`.forward.freesurfer_paths` of the subject (or None).
    fs_subject : str
        The subject's name (checked against the ``--src`` file's subject).
    spacing : str
        MNE's ``spacing`` for ``setup_source_space`` (``oct6``, ``ico4``, ``all``, ...).
    """
    mode = (mode or "auto").strip().lower()
    if mode not in ("auto", "volume", "surface"):
        raise InputError(None, f"source_space must be auto, volume or surface, got {mode!r}")
    if src_file is not None:
        src = read_source_space(src_file, fs_subject)
        kind = "surface" if src.kind == "surface" else "volume"
        if mode != "auto" and mode != kind:
            raise InputError(src_file, f"a {kind} source space, but source_space={mode}: give a {mode} "
                                       "source space or use source_space=auto")
        return SourceSpaceChoice(kind, f"{kind} source space from {Path(src_file).name}", src)
    if mode == "volume":
        return SourceSpaceChoice("volume", "volume grid (source_space=volume)")
    if fs is None:
        if mode == "surface":
            raise InputError(None, "source_space=surface needs a FreeSurfer subject with surf/lh.white and "
                                   "surf/rh.white (--param fs_subject=S --param subjects_dir=D) or a "
                                   "surface source space (--src X-src.fif)")
        return SourceSpaceChoice("volume", "volume grid (no FreeSurfer subject, so no cortical surface)")
    if not _SPACING_RE.match(spacing):
        raise InputError(None, f"surface_spacing must be MNE's ico2-7, oct2-7 or all, got {spacing!r}")
    surf = Path(fs["root"]) / "surf"
    needed = [surf / f"{h}.white" for h in ("lh", "rh")]
    if spacing != "all":
        needed += [surf / f"{h}.sphere" for h in ("lh", "rh")]
    missing = [p for p in needed if not p.is_file()]
    if missing:
        what = "the white surfaces" if not missing[0].name.endswith("sphere") else \
            f"the spheres MNE's {spacing} decimation needs"
        if mode == "surface":
            raise InputError(missing[0], f"missing ({what}): run recon-all for subject {fs_subject}, or use "
                                         "source_space=volume")
        return SourceSpaceChoice("volume", f"volume grid: the subject has no surface source space "
                                           f"({missing[0]} missing, {what})")
    import mne

    try:
        src = mne.setup_source_space(fs_subject, spacing=spacing, surface="white",
                                     subjects_dir=str(fs["subjects_dir"]), add_dist=False, verbose="error")
    except Exception as exc:  # noqa: BLE001 - MNE's reader/decimation failure is this folder's problem
        msg = " ".join(str(exc).split())[:200]
        raise InputError(surf, f"MNE cannot make a {spacing} source space from these surfaces ({msg})") from None
    n = sum(int(s["nuse"]) for s in src)
    return SourceSpaceChoice("surface", f"cortical surface of FreeSurfer subject {fs_subject} "
                                        f"(surf/?h.white, {spacing}, {n} vertices)", src)


def read_source_space(path: Path, fs_subject: str) -> Any:
    """A ``-src.fif`` made by MNE, checked: readable, surface or volume (not mixed, not
    discrete), in the MRI frame, and of ``fs_subject`` when both name a subject."""
    import mne

    try:
        src = mne.read_source_spaces(path, verbose="error")
    except Exception as exc:  # noqa: BLE001 - any reader failure is this file's problem
        raise InputError(path, f"not a readable MNE source space ({type(exc).__name__})") from None
    if src.kind not in ("surface", "volume"):
        raise InputError(path, f"a {src.kind} source space (a grid made without the subject's MRI or BEM is "
                               "'discrete' to MNE): give a surface one (mne.setup_source_space) or a volume one "
                               "made from the subject (mne.setup_volume_source_space with subject and bem)")
    frames = {int(s["coord_frame"]) for s in src}
    if frames != {_FIFF_COORD_MRI}:
        raise InputError(path, "the source space is not in the MRI (surface RAS) frame (it was transformed, "
                               "e.g. taken from a forward solution): give the -src.fif written by "
                               "setup_source_space")
    his = src[0].get("subject_his_id")
    if fs_subject and his and str(his) != fs_subject:
        raise InputError(path, f"a source space of subject {his!r}, but fs_subject is {fs_subject!r}")
    if sum(int(s["nuse"]) for s in src) < 10:
        raise InputError(path, "the source space has fewer than 10 sources")
    return src


def sample_ribbon(img: Any, t1: Any, pos_mri: np.ndarray, nn_mri: np.ndarray,
                  depths_mm: tuple[float, ...] = RIBBON_MM) -> np.ndarray:
    """The fMRI map at each white-surface vertex: the maximum of the map (trilinear) at
    ``depths_mm`` along the vertex's outward normal.

    The white surface is the grey/white boundary; the BOLD signal is in the grey matter
    outward of it (the cortex is 2-4 mm thick) and at the pial veins, so the map at the
    vertex itself is on the edge of the activation and lower than in the ribbon. The
    maximum over the ribbon is FreeSurfer's ``mri_vol2surf --projfrac-max`` with absolute
    depths; 3 mm keeps it inside the typical ribbon, so a vertex across a sulcus (5 mm or
    more away through the CSF) does not take its neighbour's value.

    Parameters
    ----------
    img : nibabel image
        The map (any grid in the T1's world space).
    t1 : nibabel image
        The T1 (its affines give the ``mri`` -> world transform).
    pos_mri, nn_mri : ndarray (n, 3)
        Vertex positions (m) and unit outward normals in MNE's ``mri`` frame.
    depths_mm : tuple of float
        Distances along the normal (mm).
    """
    from .fmri import sample_map

    vals = [sample_map(img, t1, pos_mri + nn_mri * (d * 1e-3)) for d in depths_mm]
    return np.max(np.asarray(vals), axis=0)


def surface_triangles(src: Any) -> np.ndarray:
    """The decimated cortex's triangles (``use_tris``) as indices into the sources in the
    forward's order (hemispheres concatenated); triangles touching a vertex the forward
    dropped are left out."""
    out, offset = [], 0
    for s in src:
        vertno = np.asarray(s["vertno"])
        lookup = np.full(int(s["np"]), -1)
        lookup[vertno] = np.arange(len(vertno)) + offset
        tris = s.get("use_tris")
        if tris is not None and len(tris):
            t = lookup[np.asarray(tris)]
            out.append(t[np.all(t >= 0, axis=1)])
        offset += len(vertno)
    return np.concatenate(out).astype(np.int64) if out else np.zeros((0, 3), np.int64)


def surface_clusters(adjacency: Any, mask: np.ndarray) -> list[np.ndarray]:
    """Connected groups of map vertices along the cortex (MNE's source-space adjacency, so
    the two banks of a sulcus, close in space, stay separate clusters), largest first."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    sub = csr_matrix(adjacency)[idx][:, idx]
    _, lab = connected_components(sub, directed=False)
    groups = [idx[lab == k] for k in range(lab.max() + 1)]
    return sorted(groups, key=len, reverse=True)


def vertex_spacing_m(pos: np.ndarray, adjacency: Any) -> float:
    """The median edge length of the source space's adjacency (m)."""
    from scipy.sparse import coo_matrix

    a = coo_matrix(adjacency)
    keep = a.row != a.col
    if not keep.any():
        return 0.01
    return float(np.median(np.linalg.norm(pos[a.row[keep]] - pos[a.col[keep]], axis=1)))


def surface_patches(pos: np.ndarray, adjacency: Any, centre_spacing_m: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Local non-fMRI prior components on the cortex (as SPM's multiple sparse priors):
    centres about ``centre_spacing_m`` apart (the vertex nearest the middle of each cell of
    a grid of that step), Gaussian weights (sigma half the step) over the vertices within
    one step *along the surface* (graph distance over MNE's adjacency, so a patch does not
    jump a sulcus). The volume's patches sit on every other grid point with the same
    reach. Returns ``(source indices, weights)``."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    a = csr_matrix(adjacency).tocoo()
    w = np.linalg.norm(pos[a.row] - pos[a.col], axis=1)
    graph = csr_matrix((np.maximum(w, 1e-9), (a.row, a.col)), shape=adjacency.shape)
    cell = np.floor(pos / centre_spacing_m).astype(int)
    mid = (cell + 0.5) * centre_spacing_m
    d_mid = np.linalg.norm(pos - mid, axis=1)
    order = np.lexsort((d_mid, cell[:, 2], cell[:, 1], cell[:, 0]))
    first = np.r_[True, np.any(np.diff(cell[order], axis=0) != 0, axis=1)]
    centres = order[first]
    dist = dijkstra(graph, directed=False, indices=centres, limit=centre_spacing_m * 1.001)
    sigma = centre_spacing_m / 2
    out = []
    for row in dist:
        idx = np.flatnonzero(np.isfinite(row))
        out.append((idx, np.exp(-0.5 * (row[idx] / sigma) ** 2)))
    return out


def t1_painter(pos_mri: np.ndarray, t1: Any, radius_mm: float = PAINT_MM) -> Any:
    """A function painting vertex values on the T1's grid: each voxel within ``radius_mm``
    of a vertex takes the value of the nearest vertex, every other voxel is 0 (a surface
    has no volume to interpolate in; 3 mm covers the cortical ribbon outward of the white
    surface). The nearest vertex of each voxel is found once, for all maps.

    Parameters
    ----------
    pos_mri : ndarray (n, 3)
        Vertex positions in MNE's ``mri`` frame (m).
    t1 : nibabel image
    radius_mm : float

    Returns
    -------
    callable
        ``paint(values (n,)) -> nibabel.Nifti1Image`` (float32, the T1's shape and affine).
    """
    import nibabel as nib
    from scipy.spatial import cKDTree

    from .forward import t1_frames

    _, tkr = t1_frames(t1)
    shape = np.array(t1.shape[:3])
    ijk = np.linalg.solve(tkr, np.c_[pos_mri * 1e3, np.ones(len(pos_mri))].T)[:3].T
    vox = np.sqrt(np.sum(tkr[:3, :3] ** 2, axis=0))  # voxel size along each axis (mm)
    reach = np.ceil(radius_mm / vox).astype(int)
    lo = np.clip(np.floor(ijk.min(0)).astype(int) - reach, 0, shape - 1)
    hi = np.clip(np.ceil(ijk.max(0)).astype(int) + reach, 0, shape - 1)
    box = np.indices(tuple(hi - lo + 1)).reshape(3, -1).T + lo
    xyz = box @ tkr[:3, :3].T + tkr[:3, 3]
    d, k = cKDTree(pos_mri * 1e3).query(xyz, distance_upper_bound=radius_mm)
    ok = np.isfinite(d)
    where, nearest = tuple(box[ok].T), k[ok]

    def paint(values: np.ndarray) -> Any:
        out = np.zeros(tuple(shape), np.float32)
        out[where] = np.asarray(values, np.float32)[nearest]
        return nib.Nifti1Image(out, t1.affine)

    return paint
