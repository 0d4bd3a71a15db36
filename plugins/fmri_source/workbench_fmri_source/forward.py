"""Head model, source space and forward solution, all through MNE.

Default: a four-shell sphere model fitted to the digitised head shape
(:func:`mne.make_sphere_model` with ``"auto"``) and a volume source space on a regular
grid inside its brain shell, restricted to the T1's head; with a FreeSurfer subject (or a
BEM solution file) a BEM and a volume source space inside its inner skull.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from workbench.engine.errors import InputError

__all__ = ["HeadModel", "build_forward", "t1_frames", "freesurfer_paths"]


class HeadModel:
    """The forward solution and what it was built from.

    Attributes
    ----------
    fwd : mne.Forward
    kind : "sphere" | "bem"
    note : str
        What was built (for the messages).
    pos_mri : ndarray (n_src, 3)
        Source positions in the ``mri`` frame (m), in the forward's order.
    grid_to_mri : ndarray (4, 4) | None
        Volume-grid voxel -> ``mri`` (m); ``grid_shape`` and ``vertno`` (flat grid index of
        each source) place the sources on that grid (None for a surface source space).
    source_space : "volume" | "surface"
    nn_mri, tris : ndarray | None
        Surface only: vertex normals (``mri`` frame) and triangles (source indices).
    """

    def __init__(self, fwd: Any, kind: str, note: str, head_mri: np.ndarray, grid_frame_to_mri: np.ndarray,
                 source_space: str = "volume") -> None:
        self.fwd, self.kind, self.note, self.source_space = fwd, kind, note, source_space
        src = fwd["src"]
        if any(s["coord_frame"] != 4 for s in src):  # FIFFV_COORD_HEAD: make_forward_solution converts
            raise RuntimeError("expected the forward's source space in head coordinates")
        # the forward's head frame is the true head frame (BEM, surface) or, for the sphere
        # model's volume grid, the head frame itself (identity transform): either way
        # head -> mri is the study's
        rot, shift = head_mri[:3, :3], head_mri[:3, 3]
        if source_space == "surface":
            from .surface import surface_triangles

            self.vertno = [np.asarray(s["vertno"]) for s in src]
            self.pos_mri = np.concatenate([s["rr"][s["vertno"]] for s in src]) @ rot.T + shift
            #: outward normals of the vertices in the ``mri`` frame (surface only)
            self.nn_mri = np.concatenate([s["nn"][s["vertno"]] for s in src]) @ rot.T
            #: triangles of the decimated cortex as source indices (surface only)
            self.tris = surface_triangles(src)
            self.grid_shape = None
            self.grid_to_mri = None
            return
        s = src[0]
        self.vertno = np.asarray(s["vertno"])
        self.pos_mri = s["rr"][self.vertno] @ rot.T + shift
        self.nn_mri = None
        self.tris = None
        self.grid_shape = tuple(int(x) for x in s["shape"])
        self.grid_to_mri = grid_frame_to_mri @ np.asarray(s["src_mri_t"]["trans"], float)


def t1_frames(t1: Any) -> tuple[np.ndarray, np.ndarray]:
    """(vox2ras, vox2ras_tkr) of a T1 image (mm): scanner RAS and MNE's ``mri`` frame.

    MNE's ``mri`` frame is FreeSurfer's surface RAS (``vox2ras_tkr``: the volume centre at
    the origin); a NIfTI's affine is scanner RAS. For a conformed FreeSurfer T1 they differ
    by ``c_ras``; the phantom's T1 is written so that they coincide.
    """
    import nibabel as nib

    vox2ras = np.asarray(t1.affine, float)
    if isinstance(t1, nib.MGHImage):
        return vox2ras, np.asarray(t1.header.get_vox2ras_tkr(), float)
    # the same construction as FreeSurfer's (and MNE's _get_mri_info_data): the rotation and
    # zooms of the image, translated so that the volume centre is at the origin
    shape = np.array(t1.shape[:3], float)
    tkr = vox2ras.copy()
    tkr[:3, 3] = 0.0
    tkr[:3, 3] = -(tkr[:3, :3] @ (shape / 2.0))
    return vox2ras, tkr


def freesurfer_paths(subject: str, subjects_dir: str) -> dict[str, Path]:
    """The files of a FreeSurfer subject this method uses, with one-line errors."""
    sd = Path(subjects_dir or os.environ.get("SUBJECTS_DIR", ""))
    if not str(sd) or not sd.is_dir():
        raise InputError(sd if str(sd) else None,
                         "FreeSurfer subjects_dir not found: give --param subjects_dir=D (or set SUBJECTS_DIR)")
    root = sd / subject
    if not root.is_dir():
        raise InputError(root, f"no FreeSurfer subject {subject!r} in {sd}")
    t1 = root / "mri" / "T1.mgz"
    if not t1.is_file():
        raise InputError(t1, "the FreeSurfer subject has no mri/T1.mgz: run recon-all first")
    bem = root / "bem"
    surfs = [bem / f"{n}.surf" for n in ("inner_skull", "outer_skull", "outer_skin")]
    missing = [s.name for s in surfs if not s.is_file()]
    if missing:
        raise InputError(bem, f"the FreeSurfer subject has no BEM surfaces ({', '.join(missing)}): "
                              f"run `mne watershed_bem -s {subject}` first, or leave fs_subject empty "
                              "for the sphere model")
    return {"subjects_dir": sd, "root": root, "t1": t1}


def build_forward(info: Any, trans: Any, t1: Any, spacing_mm: float, *, fs: dict[str, Path] | None = None,
                  fs_subject: str = "", bem_file: Path | None = None, progress: Any = None,
                  src: Any = None, source_space: str = "volume") -> HeadModel:
    """Forward solution (EEG) on a volume grid or the given source space (``mri`` frame).

    Parameters
    ----------
    info : mne.Info
        EEG channels with positions in the head frame (and head-shape points for the fit).
    trans : mne.transforms.Transform
        head -> mri.
    t1 : nibabel image
        The T1 (restricts the sphere-model grid to voxels inside the head).
    spacing_mm : float
    fs, fs_subject : FreeSurfer subject (BEM) or None
    bem_file : a BEM solution file, or None
    src : mne.SourceSpaces | None
        A source space to use (surface, or a volume one made by the user); None: a volume
        grid of ``spacing_mm`` inside the inner skull (BEM) or the sphere's brain shell.
    source_space : "volume" | "surface"
        The kind of ``src`` (volume when ``src`` is None).
    Surface forwards are free orientation in each vertex's surface coordinates
    (``convert_forward_solution(surf_ori=True)``), from which MNE's inverse makes the
    fixed (normal) or loose orientation; volume forwards are free orientation.
    """
    import mne

    prog = progress or (lambda f, m="": None)
    head_mri = np.asarray(trans["trans"], float)
    if bem_file is not None or fs is not None:
        if bem_file is not None:
            try:
                bem = mne.read_bem_solution(bem_file, verbose="error")
            except Exception as exc:  # noqa: BLE001 - any reader failure is this file's problem
                raise InputError(bem_file, f"not a readable BEM solution ({type(exc).__name__})") from None
            note = f"BEM from {Path(bem_file).name}"
        else:
            prog(0.05, "BEM model")
            ico = _bem_ico([fs["root"] / "bem" / f"{n}.surf" for n in ("inner_skull", "outer_skull", "outer_skin")])
            try:
                model = mne.make_bem_model(fs_subject, ico=ico, conductivity=(0.3, 0.006, 0.3),
                                           subjects_dir=fs["subjects_dir"], verbose="error")
                bem = mne.make_bem_solution(model, verbose="error")
            except Exception as exc:  # noqa: BLE001 - MNE's checks (intersecting, not nested, holes)
                msg = " ".join(str(exc).split())[:200]
                raise InputError(fs["root"] / "bem", f"the BEM surfaces cannot make a BEM model ({msg}): check "
                                                     "them (mne.viz.plot_bem) or re-run `mne watershed_bem`") from None
            note = (f"3-layer BEM of FreeSurfer subject {fs_subject} "
                    f"({'ico ' + str(ico) if ico is not None else 'surfaces as they are'})")
        if src is None:
            prog(0.5, "volume source space inside the inner skull")
            src = mne.setup_volume_source_space(
                subject=fs_subject or None, pos=float(spacing_mm), bem=bem,
                subjects_dir=str(fs["subjects_dir"]) if fs else None, mri=None, verbose="error")
        kind = "bem"
        fwd_trans = trans
        grid_frame_to_mri = np.eye(4)
    else:
        try:
            sphere = mne.make_sphere_model("auto", "auto", info, verbose="error")
        except Exception as exc:  # noqa: BLE001
            raise InputError(None, f"cannot fit a sphere to the head shape ({exc}); give the "
                                   "digitisation (--dig) with head-shape points") from None
        r0_head = np.asarray(sphere["r0"], float)
        r_brain = float(sphere["layers"][0]["rad"])
        bem = sphere
        kind = "sphere"
        note = (f"4-shell sphere fitted to the head shape (r = {sphere['layers'][-1]['rad'] * 1e3:.0f} mm, "
                f"brain shell {r_brain * 1e3:.0f} mm, origin {np.round(r0_head * 1e3, 1).tolist()} mm head frame)")
        if src is not None:
            # a given source space is in the mri frame: the study's transform places it
            fwd_trans, grid_frame_to_mri = trans, np.eye(4)
        else:
            fwd_trans, grid_frame_to_mri, src = _sphere_grid(spacing_mm, r0_head, r_brain, t1, head_mri, prog)
    prog(0.6, "forward solution")
    fwd = mne.make_forward_solution(info, fwd_trans, src, bem, meg=False, eeg=True, mindist=0.0,
                                    verbose="error")
    if fwd["nsource"] < 10:
        raise InputError(None, f"only {fwd['nsource']} sources lie inside the head model: check the "
                               "transform (--trans / coreg) and the head model")
    if source_space == "surface":
        # MNE rotates the lead field to each vertex's surface coordinates (normal last); the
        # inverse (make_inverse_operator fixed=True or loose) keeps the normal or weights the
        # tangential columns itself (its depth weighting needs the free, surface-oriented one)
        fwd = mne.convert_forward_solution(fwd, surf_ori=True, force_fixed=False, use_cps=True, verbose="error")
    return HeadModel(fwd, kind, note, head_mri, grid_frame_to_mri, source_space=source_space)


def _sphere_grid(spacing_mm: float, r0_head: np.ndarray, r_brain: float, t1: Any, head_mri: np.ndarray,
                 prog: Any) -> tuple[Any, np.ndarray, Any]:
    """(forward's head->mri transform, grid frame -> mri, volume source space) of the
    sphere model's grid."""
    import mne

    prog(0.3, "volume source space inside the sphere's brain shell")
    # MNE checks that volume sources lie inside a sphere model in the source space's own
    # frame, while the sphere is in the head frame: build the grid in head coordinates
    # and give the forward an identity "head -> mri" (as MNE's sphere examples do); the
    # study's transform then places the sources in the MRI frame.
    src = mne.setup_volume_source_space(
        pos=float(spacing_mm), sphere=(*r0_head, r_brain), sphere_units="m", mri=None,
        exclude=0.0, verbose="error")
    _restrict_to_head(src, t1, head_mri)
    return mne.transforms.Transform("head", "mri", np.eye(4)), head_mri, src


def _bem_ico(paths: list[Path]) -> int | None:
    """MNE's ``ico`` for a subject's BEM surfaces (each checked readable): 4 (2562 vertices
    per surface, MNE's default) for watershed/FLASH surfaces (ico-5 or finer subdivisions,
    which MNE can downsample), else ``None`` (the surfaces as they are; MNE only
    downsamples ico subdivisions)."""
    import nibabel as nib

    sizes = []
    for path in paths:
        try:
            sizes.append(len(nib.freesurfer.read_geometry(str(path))[0]))
        except Exception as exc:  # noqa: BLE001 - any reader failure is this file's problem
            raise InputError(path, f"not a readable FreeSurfer surface ({type(exc).__name__})") from None
    return 4 if all(n in (10242, 40962, 163842) for n in sizes) else None


def _restrict_to_head(src: Any, t1: Any, head_mri: np.ndarray) -> None:
    """Drop grid points of a sphere-model source space that fall outside the T1's head.

    A sphere fitted to the scalp is rounder than a head: its brain shell pokes out of the
    face and the neck. Points where the T1 shows air (outside the largest connected region
    brighter than 5 % of the 99th percentile, holes filled) are removed in place.
    """
    from scipy import ndimage

    if t1 is None:
        return
    data = np.asarray(t1.dataobj, np.float32)
    if data.ndim > 3:
        data = data[..., 0]
    pos = data[data > 0]
    if pos.size == 0:
        return
    mask = ndimage.binary_opening(data > 0.05 * float(np.percentile(pos, 99)))
    lab, n = ndimage.label(mask)
    if n == 0:
        return
    sizes = ndimage.sum(mask, lab, range(1, n + 1))
    head = ndimage.binary_fill_holes(ndimage.binary_closing(lab == 1 + int(np.argmax(sizes)), iterations=2))
    vox2ras, tkr = t1_frames(t1)
    s = src[0]
    rr = (s["rr"][s["vertno"]] @ head_mri[:3, :3].T + head_mri[:3, 3]) * 1e3  # head -> mri, mm
    ijk = np.linalg.solve(tkr, np.c_[rr, np.ones(len(rr))].T)[:3].T
    ijk = np.round(ijk).astype(int)
    inside = np.all((ijk >= 0) & (ijk < np.array(head.shape)), axis=1)
    keep = np.zeros(len(rr), bool)
    keep[inside] = head[tuple(ijk[inside].T)]
    if keep.sum() < 10:
        return  # the T1 does not look like a head; keep the sphere's grid
    drop = s["vertno"][~keep]
    s["inuse"][drop] = 0
    s["vertno"] = s["vertno"][keep]
    s["nuse"] = int(keep.sum())
