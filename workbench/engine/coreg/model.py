"""The coregistration model: fiducial fit, weighted robust ICP, omit/restore, QC.

:class:`Coreg` is a plain Qt-free class in the manner of ``mne.coreg.Coregistration``:
chainable methods that return ``self``, an explicit state snapshot for undo/redo,
and :meth:`Coreg.iter_icp`, a generator that yields after every ICP iteration so a
GUI worker can animate the fit (and :meth:`Coreg.fit_icp` with a ``callback``).

Differences from MNE, on purpose:

- distances are to the true closest point on the triangles, not the nearest vertex;
- the electrodes are fitted with their height above the skin (a cap with gel puts the
  digitised housing 3-5 mm up; pulling it onto the skin shifts and tilts the head), one
  common lift estimated with the pose (:meth:`Coreg.iter_icp`, ``eeg_lift``);
- robust (Tukey biweight) re-weighting of the points and fiducials on top of omission by
  residual (electrodes judged from the fitted cap height);
- :func:`full_fit` matches the fiducials to the MRI fiducials point to point (weight 1
  each), MNE only to the nearest skin point: the upper head a digitiser session covers
  is nearly a sphere cap and leaves the rotation to the fiducials;
- optional penalty weight for points that fall inside the scalp (Brainstorm);
- stricter default convergence (0.05 mm / 0.05° / 0.05 %; MNE stops at 0.2).

Why (issue 9, ``benchmarks/bench_coreg_results.md``): on digitisations built like real
sessions the previous flow (electrodes pulled onto the skin, fiducials only as nearest
skin points with the nasion weighted 1) drifted by 1-3° and 1-2 mm.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..progress import ProgressLike, as_progress
from .dig import FID_NAMES, DigPoints
from .fit import SCALE_MODES, apply, fit_matched, invert_rigid, rigid_matrix, rotation_angle_deg
from .geometry import MeshDistance

#: default outlier threshold (mm) of :func:`full_fit`, the CLI's ``--omit-mm`` and the GUI
DEFAULT_OMIT_MM = 5.0

#: largest electrode height above the skin :meth:`Coreg.iter_icp` accepts (m)
MAX_LIFT = 0.015

DEFAULT_WEIGHTS = {"lpa": 1.0, "nasion": 10.0, "rpa": 1.0, "eeg": 1.0, "hsp": 1.0, "hpi": 1.0}


@dataclass
class IcpStep:
    """What one ICP iteration reports.

    Attributes
    ----------
    iteration : int
        1-based.
    head_mri : ndarray, shape (4, 4)
    scale : ndarray, shape (3,)
    mean_mm : float
        Mean distance of the active points to the scalp.
    move_mm, angle_deg, scale_pct : float
        Change since the previous iteration.
    converged : bool
    """

    iteration: int
    head_mri: np.ndarray
    scale: np.ndarray
    mean_mm: float
    move_mm: float
    angle_deg: float
    scale_pct: float
    converged: bool


class Coreg:
    """Head <-> MRI coregistration of digitised points to a scalp surface.

    Parameters
    ----------
    dig : DigPoints
        Digitised fiducials, electrodes and head-shape points (head frame, m).
    scalp : dict
        ``{"rr", "tris"}`` scalp in the MRI frame (m); the dense copy is used for
        every distance.
    mri_fiducials : ndarray, shape (3, 3) | None
        LPA, nasion, RPA on the MRI (m). Needed by :meth:`fit_fiducials`.
    head_mri : ndarray, shape (4, 4) | None
        Starting head -> MRI transform (identity by default, as MNE).
    fid_source : str | None
        Where ``mri_fiducials`` came from, as :func:`~.fiducials.resolve_fiducials` says
        (``"file ..."``, ``"given"``, ``"picked"``, ``"MNI (talairach.xfm)"``,
        ``"fsaverage estimate"``); :func:`full_fit` matches them point to point only when
        someone placed them on this MRI. ``None``: unknown (treated as an estimate).

    Attributes
    ----------
    head_mri : ndarray, shape (4, 4)
        Current rigid head -> MRI transform.
    scale : ndarray, shape (3,)
        Current MRI scale factors (1 = unscaled).
    omitted : ndarray of bool
        Omitted flags of the non-fiducial points (``dig.fit_points()`` order).
    """

    def __init__(
        self,
        dig: DigPoints,
        scalp: dict[str, Any],
        mri_fiducials: np.ndarray | None = None,
        head_mri: np.ndarray | None = None,
        fid_source: str | None = None,
    ) -> None:
        self.dig = dig
        self.fid_source = fid_source or ""
        self.scalp = scalp
        self.mesh = MeshDistance(scalp["rr"], scalp["tris"])
        self.mri_fiducials = None if mri_fiducials is None else np.array(mri_fiducials, float).reshape(3, 3)
        self.points, self.kinds = dig.fit_points()
        self.head_mri = np.eye(4) if head_mri is None else np.array(head_mri, float)
        self.scale = np.ones(3)
        self.omitted = np.zeros(len(self.points), bool)
        self.weights = dict(DEFAULT_WEIGHTS)
        self.lift = 0.0
        self.history: list[IcpStep] = []

    # ---------------------------------------------------------------- state / undo
    def clone(self) -> Coreg:
        """A copy sharing the (read-only) inputs and mesh, with its own state.

        A GUI worker runs ICP on a clone, so the model itself only changes on the GUI
        thread when the result is applied.
        """
        new = object.__new__(Coreg)
        new.__dict__.update(self.__dict__)
        new.weights = dict(self.weights)
        new.history = []
        return new.set_state(self.get_state())

    def get_state(self) -> dict[str, Any]:
        """A snapshot of everything an edit can change (for undo/redo)."""
        return {
            "head_mri": self.head_mri.copy(),
            "scale": self.scale.copy(),
            "omitted": self.omitted.copy(),
            "lift": float(self.lift),
            "mri_fiducials": None if self.mri_fiducials is None else self.mri_fiducials.copy(),
        }

    def set_state(self, state: dict[str, Any]) -> Coreg:
        """Restore a snapshot from :meth:`get_state`."""
        self.head_mri = state["head_mri"].copy()
        self.scale = state["scale"].copy()
        self.omitted = state["omitted"].copy()
        self.lift = float(state.get("lift", 0.0))
        mf = state["mri_fiducials"]
        self.mri_fiducials = None if mf is None else mf.copy()
        return self

    def set_fiducial(self, name: str, point: np.ndarray, snap: bool = True) -> Coreg:
        """Set one MRI fiducial (``"lpa"``, ``"nasion"``, ``"rpa"``), snapped to the scalp."""
        if name not in FID_NAMES:
            raise InputError(None, f"unknown fiducial {name!r}; use one of {', '.join(FID_NAMES)}")
        p = np.asarray(point, float).reshape(1, 3)
        if snap:
            p = self.mesh.query(p)[1]
        if self.mri_fiducials is None:
            self.mri_fiducials = np.full((3, 3), np.nan)
        self.mri_fiducials[FID_NAMES.index(name)] = p[0]
        self.fid_source = "picked"
        return self

    @property
    def trans(self) -> Any:
        """The head -> MRI ``mne.transforms.Transform``."""
        from mne.transforms import Transform

        return Transform("head", "mri", self.head_mri.copy())

    # ---------------------------------------------------------------- distances
    def _to_mri(self, pts: np.ndarray) -> np.ndarray:
        return apply(self.head_mri, pts)

    def _closest(self, pts_mri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Signed distance to the scaled scalp and the closest point on the *unscaled* scalp."""
        unscaled = pts_mri / self.scale
        signed, closest = self.mesh.signed_distance(unscaled)
        dist = np.linalg.norm(closest * self.scale - pts_mri, axis=1)
        return np.sign(signed) * dist, closest

    def _closest_normal(self, pts_mri: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Signed distance, closest point (unscaled scalp) and outward unit normal there.

        The normal is the gradient of the signed distance: the direction from the closest
        point to the point (exact next to a face, an edge or a vertex), signed outward;
        for a point on the surface, where that direction is undefined, the mesh normal.
        """
        unscaled = pts_mri / self.scale
        _, closest, mesh_n = self.mesh.query(unscaled)
        diff = pts_mri - closest * self.scale
        dist = np.linalg.norm(diff, axis=1)
        mesh_n = mesh_n / self.scale  # normals of the scaled surface
        mesh_n /= np.maximum(np.linalg.norm(mesh_n, axis=1, keepdims=True), 1e-12)
        side = np.einsum("ij,ij->i", diff, mesh_n)
        sign = np.where(side < 0, -1.0, 1.0)
        grad = np.where((dist > 1e-6)[:, None], diff * (sign / np.maximum(dist, 1e-12))[:, None], mesh_n)
        return sign * dist, closest, grad

    def point_distances(self) -> np.ndarray:
        """Signed distances (m) of all non-fiducial points to the scalp (negative = inside)."""
        if len(self.points) == 0:
            return np.zeros(0)
        return self._closest(self._to_mri(self.points))[0]

    def fiducial_errors(self) -> np.ndarray:
        """Distances (m) between digitised and MRI fiducials after the transform (LPA, NAS, RPA)."""
        if self.mri_fiducials is None or not self.dig.has_fiducials:
            return np.full(3, np.nan)
        return np.linalg.norm(self._to_mri(self.dig.fid) - self.mri_fiducials * self.scale, axis=1)

    # ---------------------------------------------------------------- fits
    def _check_fiducials(self) -> None:
        if not self.dig.has_fiducials:
            raise InputError(self.dig.source, "no digitised fiducials (LPA, nasion, RPA): cannot fit fiducials")
        if self.mri_fiducials is None or not np.all(np.isfinite(self.mri_fiducials)):
            raise InputError(None, "the MRI fiducials are not set: give a fiducials file, 'auto', or pick them on the scalp")

    def fit_fiducials(self, lpa_weight: float = 1.0, nasion_weight: float = 10.0, rpa_weight: float = 1.0, scale: str = "none") -> Coreg:
        """Weighted closed-form fit of the three fiducials (nasion weighted, as MNE).

        With ``scale="3-axis"`` only a uniform scale is fitted (three points cannot
        determine three scales; MNE does the same).
        """
        self._check_fiducials()
        _check_scale(scale)
        mode = "uniform" if scale == "3-axis" else scale
        w = np.array([lpa_weight, nasion_weight, rpa_weight], float)
        R, t, s = fit_matched(self.mri_fiducials, self.dig.fid, w, mode)
        self.head_mri = invert_rigid(rigid_matrix(R, t))
        self.scale = s
        self.weights.update(lpa=lpa_weight, nasion=nasion_weight, rpa=rpa_weight)
        return self

    def iter_icp(
        self,
        n_iterations: int = 50,
        *,
        scale: str = "none",
        fid_match: str = "nearest",
        robust: str | None = "tukey",
        inside_weight: float = 1.0,
        tol: tuple[float, float, float] = (0.05, 0.05, 0.05),
        weights: dict[str, float] | None = None,
        eeg_lift: str | float = "fit",
    ) -> Iterator[IcpStep]:
        """Run ICP, yielding an :class:`IcpStep` after each iteration (the model is updated).

        Parameters
        ----------
        n_iterations : int
            Maximum number of iterations.
        scale : {"none", "uniform", "3-axis"}
            MRI scale factors to estimate.
        fid_match : {"nearest", "matched"}
            Match digitised fiducials to the closest scalp point (MNE's default) or to
            the MRI fiducials.
        robust : {"tukey", None}
            Tukey biweight re-weighting with a scale from the median residual
            (σ = 1.4826·median|r|, c = 4.685σ, σ ≥ 0.5 mm): far points lose weight
            smoothly; ``None`` keeps the plain weights.
        inside_weight : float
            Weight multiplier for points inside the scalp (> 1 penalises them, as
            Brainstorm does, since digitised points lie on or above the skin). Judged on
            the signed distance itself, not on the lift-corrected residual: nothing that
            was digitised can be under the skin.
        tol : (mm, degrees, percent)
            Stop when translation (and lift), rotation and scale changes all fall below
            these.
        weights : dict | None
            Per-kind weights (``lpa``, ``nasion``, ``rpa``, ``eeg``, ``hsp``, ``hpi``).
        eeg_lift : "fit" | float
            Height (m) of the electrodes above the skin. Electrodes are digitised on the
            cap housing, 3-5 mm above the skin with the gel; head-shape points touch the
            skin. Pulling the electrodes onto the skin (``0.0``, the old behaviour and
            MNE's) shifts and, with a cap that covers only the upper head, tilts the head.
            ``"fit"`` (default) estimates one common lift jointly with the pose (an
            extra unknown of the linear step; clipped to 0-15 mm), so the electrodes
            constrain the pose through the *shape* of the cap but not its height; the
            spread of the individual lifts is left to the robust weights.
        """
        _check_scale(scale)
        if fid_match not in ("nearest", "matched"):
            raise InputError(None, f"fid_match must be 'nearest' or 'matched', got {fid_match!r}")
        if not (eeg_lift == "fit" or isinstance(eeg_lift, (int, float))):
            raise InputError(None, f"eeg_lift must be 'fit' or a height in m, got {eeg_lift!r}")
        if weights:
            self.weights.update(weights)
        active = ~self.omitted
        pts = self.points[active]
        kinds = self.kinds[active]
        base_w = np.array([self.weights[k] for k in kinds], float)
        is_eeg = kinds == "eeg"
        use_fid = self.dig.has_fiducials and (fid_match == "nearest" or self.mri_fiducials is not None)
        if use_fid:
            fw = np.array([self.weights[n] for n in FID_NAMES], float)
            use_fid = fw.sum() > 0
        n_total = len(pts) + (3 if use_fid else 0)
        if n_total < 3 or (len(pts) == 0 and not use_fid):
            raise InputError(self.dig.source, f"only {n_total} usable point(s) for ICP; need at least 3")
        fit_lift = eeg_lift == "fit" and bool(np.any(base_w[is_eeg] > 0))
        if not fit_lift:
            self.lift = 0.0 if eeg_lift == "fit" else float(eeg_lift)
        all_head = np.concatenate([pts, self.dig.fid]) if use_fid else pts
        plane = scale == "none"  # point-to-plane steps for rigid fits: far fewer iterations
        heads = all_head
        n_pts = len(pts)
        prev_prev = np.full((4, 4), np.nan)
        control: dict[str, Any] = {"alpha": 1.0}
        for it in range(1, int(n_iterations) + 1):
            x = self._to_mri(heads)
            signed, closest, nrm = self._closest_normal(x)
            if it == 1 and np.median(np.abs(signed)) > 0.1:
                raise InputError(self.dig.source, f"the points are all far off the scalp (median "
                                 f"{np.median(np.abs(signed)) * 1e3:.0f} mm): all points are too far to fit; "
                                 "check units, frames and the starting alignment (fit fiducials first)")
            if it == 1 and fit_lift:
                # start from the electrodes' height above the skin relative to the head-shape points
                # (robust medians): the first step then starts near the answer
                ref = float(np.median(signed[:n_pts][~is_eeg])) if np.any(~is_eeg) else 0.0
                self.lift = float(np.clip(np.median(signed[:n_pts][is_eeg]) - ref, 0.0, MAX_LIFT))
            off = np.where(is_eeg, self.lift, 0.0)
            r = signed[:n_pts] - off  # residual after the electrodes' lift
            d = np.abs(r)
            w = base_w.copy()
            fw_now = fw if use_fid else np.zeros(0)
            if robust == "tukey" and n_pts >= 6:
                sigma = max(1.4826 * float(np.median(d)), 0.5e-3)
                u = d / (4.685 * sigma)
                w = w * np.where(u < 1, (1 - u**2) ** 2, 0.0)
                if use_fid:
                    # the fiducials get the same robust weight, on their 3D distance to the MRI
                    # fiducial (matched) or to the skin (nearest): MRI fiducials clicked 1-2 cm away
                    # from where the digitiser's were (MNE's sample subject: 12-18 mm) are then
                    # out-voted by the head shape instead of tilting it
                    # the 3-D distance of a matched fiducial is ~sqrt(3) times a 1-D point-to-surface
                    # residual for the same per-axis noise: its cut-off scales alike
                    if fid_match == "matched":
                        fd = np.linalg.norm(x[n_pts:] - self.mri_fiducials * self.scale, axis=1) / np.sqrt(3.0)
                    else:
                        fd = np.abs(signed[n_pts:])
                    uf = fd / (4.685 * sigma)
                    fw_now = fw * np.where(uf < 1, (1 - uf**2) ** 2, 0.0)
            if inside_weight != 1.0:
                w = np.where(signed[:n_pts] < 0, w * inside_weight, w)
            # the target of each point: its closest scalp point, raised by the lift along the normal
            mri = closest * self.scale
            mri[:n_pts] += nrm[:n_pts] * off[:, None]
            if use_fid:
                if fid_match == "matched":
                    mri = np.concatenate([mri[:n_pts], self.mri_fiducials * self.scale])
                w = np.concatenate([w, fw_now])
            if np.count_nonzero(w > 0) < 3:
                raise InputError(self.dig.source, "all points are too far from the scalp to fit "
                                 "(check units, frames and the starting alignment)")
            old_m, old_s, old_lift = self.head_mri, self.scale, self.lift
            if plane:
                matched = np.zeros(len(x), bool)
                if use_fid and fid_match == "matched":
                    matched[n_pts:] = True
                lift_rows = np.zeros(len(x), bool)
                if fit_lift:
                    lift_rows[:n_pts] = is_eeg
                signed_all = np.concatenate([r, signed[n_pts:]])
                delta, d_lift = _plane_step(x, mri, w, matched, normals=nrm, signed=signed_all, lift_rows=lift_rows,
                                            control=control)
                self.head_mri = delta @ old_m
                if fit_lift:
                    self.lift = float(np.clip(old_lift + d_lift, 0.0, MAX_LIFT))
            else:
                unscaled = mri / self.scale
                m_inv = invert_rigid(old_m)
                R, t, s = fit_matched(unscaled, heads, w, scale, x0=(m_inv[:3, :3], m_inv[:3, 3], old_s))
                self.head_mri = invert_rigid(rigid_matrix(R, t))
                self.scale = s
                if fit_lift:  # alternate: the weighted mean height of the electrodes at the new pose
                    se = self._closest(self._to_mri(pts[is_eeg]))[0]
                    we = w[:n_pts][is_eeg]
                    if we.sum() > 0:
                        self.lift = float(np.clip(we @ se / we.sum(), 0.0, MAX_LIFT))
            move = float(np.linalg.norm(self.head_mri[:3, 3] - old_m[:3, 3]) * 1e3)
            move = max(move, abs(self.lift - old_lift) * 1e3)
            angle = rotation_angle_deg(self.head_mri, old_m)
            pct = float(np.max(np.abs(self.scale - old_s) / old_s) * 100)
            conv = move <= tol[0] and angle <= tol[1] and pct <= tol[2]
            # a 2-cycle (the closest-point assignment flipping back and forth, seen with very
            # few points) is a fixed point of the iteration too: stop there
            if len(self.history) >= 1 and it >= 2 and np.allclose(self.head_mri, prev_prev, atol=1e-10, rtol=0):
                conv = True
            prev_prev = old_m
            mean_mm = float(np.abs(signed[:n_pts]).mean() * 1e3) if n_pts else float("nan")
            step = IcpStep(it, self.head_mri.copy(), self.scale.copy(), mean_mm, move, angle, pct, conv)
            self.history.append(step)
            yield step
            if conv:
                break

    def fit_icp(
        self,
        n_iterations: int = 50,
        *,
        callback: Callable[[IcpStep], None] | None = None,
        progress: ProgressLike | None = None,
        **kwargs: Any,
    ) -> Coreg:
        """Run :meth:`iter_icp` to the end; ``callback(step)`` after each iteration."""
        p = as_progress(progress)
        for step in self.iter_icp(n_iterations, **kwargs):
            if callback is not None:
                callback(step)
            p(step.iteration / n_iterations, f"ICP {step.iteration}: {step.mean_mm:.2f} mm")
        return self

    def residuals(self) -> np.ndarray:
        """Signed distances (m) of the non-fiducial points minus their kind's fitted lift.

        Electrodes sit :attr:`lift` above the skin (see :meth:`iter_icp`); head-shape and
        HPI points on it. This is what the fit minimises and what :meth:`omit` judges.
        """
        return self.point_distances() - np.where(self.kinds == "eeg", self.lift, 0.0)

    def omit(self, distance: float) -> int:
        """Omit points whose residual exceeds ``distance`` (m); return how many are omitted now.

        As MNE's filter on the original points, the decision is made afresh for all
        points with the current transform: a point omitted earlier comes back when it now
        lies within ``distance``. ``distance <= 0`` changes nothing. Electrodes are judged
        by their distance from the fitted cap height (:meth:`residuals`), not from the
        skin: an electrode 4 mm above the skin on a cap is where it should be.
        """
        if distance <= 0:
            return int(self.omitted.sum())
        d = np.abs(self.residuals())
        self.omitted = d > distance
        return int(self.omitted.sum())

    def restore(self) -> Coreg:
        """Bring back all omitted points."""
        self.omitted = np.zeros(len(self.points), bool)
        return self

    # ---------------------------------------------------------------- QC
    def qc(self, reference_head_mri: np.ndarray | None = None, true_eeg: np.ndarray | None = None) -> dict[str, Any]:
        """QC metrics with units in their keys (DESIGN §6).

        Parameters
        ----------
        reference_head_mri : ndarray, shape (4, 4) | None
            The true head -> MRI transform (phantom).
        true_eeg : ndarray | None
            True electrode positions (head frame) for the target registration error;
            defaults to the digitised ones.
        """
        from .qc import distance_qc, truth_qc

        out = distance_qc(self.point_distances(), self.kinds, self.omitted)
        # what the fit minimises: distances with the electrodes' fitted lift taken off
        res = np.abs(self.residuals()[~self.omitted]) * 1e3 if len(self.points) else np.zeros(0)
        out["eeg_lift_mm"] = float(self.lift * 1e3)
        out["mean_residual_mm"] = float(res.mean()) if res.size else float("nan")
        out["median_residual_mm"] = float(np.median(res)) if res.size else float("nan")
        out["max_residual_mm"] = float(res.max()) if res.size else float("nan")
        fe = self.fiducial_errors() * 1e3
        out.update({f"fid_{n}_mm": float(v) for n, v in zip(FID_NAMES, fe)})
        names = list(self.dig.eeg_names) + [f"hsp{i}" for i in range(len(self.dig.hsp))] + \
            [f"hpi{i}" for i in range(len(self.dig.hpi))]
        out["omitted_points"] = [names[i] for i in np.flatnonzero(self.omitted)]
        out["scale"] = [float(v) for v in self.scale]
        out["icp_iterations"] = len(self.history)
        if reference_head_mri is not None:
            eeg = self.dig.eeg if true_eeg is None else true_eeg
            out.update(truth_qc(self.head_mri, reference_head_mri, eeg if len(eeg) else self.points))
        return out


def _plane_step(
    x: np.ndarray,
    q: np.ndarray,
    w: np.ndarray,
    matched: np.ndarray,
    *,
    normals: np.ndarray | None = None,
    signed: np.ndarray | None = None,
    lift_rows: np.ndarray | None = None,
    control: dict[str, Any] | None = None,
) -> tuple[np.ndarray, float]:
    """One weighted, linearised point-to-plane rigid step (Chen & Medioni 1992).

    Surface points use the direction from their closest point as the normal (exact for
    points closest to a face, edge or vertex); ``matched`` points
    (MRI fiducials) use the three axes, i.e. point-to-point. The step rotates about the
    weighted centroid; the result is an exact rotation (Rodrigues) so the transform
    stays rigid. At convergence the fixed point is the minimum of the weighted squared
    point-to-surface residuals, as for point-to-point ICP, but reached in a few
    iterations instead of sliding slowly along the surface.

    Parameters
    ----------
    x : ndarray, shape (n, 3)
        Points in the MRI frame.
    q : ndarray, shape (n, 3)
        Their targets (closest scalp points raised by any lift; MRI fiducials).
    w : ndarray, shape (n,)
        Weights.
    matched : ndarray of bool, shape (n,)
        Rows matched point-to-point.
    normals : ndarray, shape (n, 3) | None
        Outward unit normals (gradients of the signed distance) at the closest points;
        ``None`` uses the direction ``x - q``.
    signed : ndarray, shape (n,) | None
        Signed residuals along the outward normal (distance minus lift); with
        ``normals``.
    lift_rows : ndarray of bool, shape (n,) | None
        Surface rows whose common height above the skin is a further unknown.
    control : dict | None
        Step-size state kept across the iterations of one ICP run (``{"alpha": 1.0}``):
        the Gauss-Newton step is scaled by ``alpha``, halved whenever the step reverses
        the previous one and doubled back (up to 1) otherwise. The upper head is nearly a
        sphere cap, so a rotation about its centre is barely constrained; there the
        linearisation overshoots and the plain iteration cycles at ~0.1° for ever instead
        of meeting the 0.05° tolerance.

    Returns
    -------
    delta : ndarray, shape (4, 4)
        The update, in the MRI frame, to compose before the current transform.
    d_lift : float
        The change of the common lift (0 without ``lift_rows``).
    """
    from scipy.spatial.transform import Rotation

    c = (w @ x) / w.sum()
    diff = x - q
    dist = np.linalg.norm(diff, axis=1)
    surf = ~matched
    with_lift = lift_rows is not None and bool(np.any(lift_rows & surf & (w > 0)))
    n_par = 7 if with_lift else 6
    rows_n, rows_x, rows_r, rows_w, rows_l = [], [], [], [], []
    if surf.any():
        if normals is None or signed is None:
            n = diff[surf] / np.maximum(dist[surf], 1e-12)[:, None]
            res = dist[surf]
        else:
            n = normals[surf]
            res = signed[surf]
        rows_n.append(n)
        rows_x.append(x[surf])
        rows_r.append(res)
        rows_w.append(w[surf])
        rows_l.append(-(lift_rows[surf].astype(float)) if with_lift else np.zeros(int(surf.sum())))
    if matched.any():
        for k in range(3):
            e = np.zeros((int(matched.sum()), 3))
            e[:, k] = 1.0
            rows_n.append(e)
            rows_x.append(x[matched])
            rows_r.append(diff[matched, k])
            rows_w.append(w[matched])
            rows_l.append(np.zeros(int(matched.sum())))
    nrm = np.concatenate(rows_n)
    J = np.hstack([np.cross(np.concatenate(rows_x) - c, nrm), nrm])
    if with_lift:
        J = np.hstack([J, np.concatenate(rows_l)[:, None]])
    r = np.concatenate(rows_r)
    ww = np.concatenate(rows_w)
    A = J.T @ (J * ww[:, None])
    A += np.eye(n_par) * 1e-12 * np.trace(A)  # tiny damping for near-spherical heads
    delta = np.linalg.solve(A, -J.T @ (ww * r))
    if control is not None:
        prev = control.get("prev")
        if prev is not None and len(prev) == len(delta):
            sc = np.r_[np.ones(3), np.full(len(delta) - 3, 10.0)]  # radians vs metres at a 10 cm lever
            if float(np.dot(delta * sc, prev * sc)) < 0:
                control["alpha"] = max(control.get("alpha", 1.0) * 0.5, 1.0 / 64)
            else:
                control["alpha"] = min(control.get("alpha", 1.0) * 2.0, 1.0)
        control["prev"] = delta.copy()
        delta = delta * control.get("alpha", 1.0)
    R = Rotation.from_rotvec(delta[:3]).as_matrix()
    out = np.eye(4)
    out[:3, :3] = R
    out[:3, 3] = c - R @ c + delta[3:6]
    return out, float(delta[6]) if with_lift else 0.0


def _check_scale(scale: str) -> None:
    if scale not in SCALE_MODES:
        raise InputError(None, f"scale must be one of {', '.join(SCALE_MODES)}, got {scale!r}")


def fid_match_for(how: str | None) -> str:
    """How :func:`full_fit` should use MRI fiducials that came from ``how``.

    Parameters
    ----------
    how : str | None
        Their source as :func:`~.fiducials.resolve_fiducials` says (``"file ..."``,
        ``"given"``, ``"picked"``, ``"MNI (talairach.xfm)"``, ``"fsaverage estimate"``).

    Returns
    -------
    fid_match : {"matched", "nearest"}
        ``"matched"`` for fiducials someone placed on this MRI (a file, given, picked);
        ``"nearest"`` for estimates and unknown sources: an estimate is typically 4-8 mm
        off (fsaverage carried over; on the phantom that doubled the rotation error when
        matched), and as nearest skin points they still pin the head without pulling it.
    """
    return "matched" if (how or "").startswith(("file", "given", "picked")) else "nearest"


#: per-kind weights of :func:`full_fit`'s ICP (see there for why)
FIT_WEIGHTS = {"lpa": 1.0, "nasion": 1.0, "rpa": 1.0, "eeg": 1.0, "hsp": 1.0, "hpi": 1.0}


def full_fit(co: Coreg, *, scale: str = "none", omit_mm: float = DEFAULT_OMIT_MM, callback: Callable[[IcpStep], None] | None = None,
             progress: ProgressLike | None = None, fid_match: str = "auto", **icp_kwargs: Any) -> Coreg:
    """The default flow: fiducials -> robust ICP -> omit points beyond ``omit_mm`` -> ICP.

    Like MNE's tutorial flow (fiducials, ICP, omit, ICP), with exact point-to-surface
    distances, robust (Tukey) weights, and two changes that matter on real
    digitisations (issue 9; ``benchmarks/bench_coreg_results.md``):

    - **electrodes are fitted with their lift** (``eeg_lift="fit"``): they sit 3-5 mm
      above the skin on the cap; forcing them onto the skin pulled the head 1-2 mm and
      up to 2-3° off when the cap covers only the upper head.
    - **fiducials are matched to the MRI fiducials** with weight 1 each, i.e. like one
      more digitised point per axis. The upper head that a digitiser session covers is
      close to a sphere cap and pins the rotation only weakly; the fiducials carry most
      of the rotation, and with ``"nearest"`` matching (the old default, and MNE's) they
      only count along the skin normal. Weight 1 is the maximum-likelihood weight when the
      fiducials are as precise as the other points; a larger nasion weight (MNE's 10)
      lets the nasion's digitiser noise tilt the whole head. This needs fiducials that
      someone placed on this MRI: with ``fid_match="auto"`` (default) they are matched when
      ``co.fid_source`` says so (a file, given, picked; :func:`fid_match_for`), and only
      count as nearest skin points when they are an estimate or of unknown origin.

    Parameters
    ----------
    co : Coreg
        The model (changed in place and returned).
    scale : {"none", "uniform", "3-axis"}
    omit_mm : float
        Before the second ICP, omit points whose residual (distance to the skin, or to
        the fitted cap height for electrodes) exceeds this (mm); 0 keeps all.
    callback : callable | None
        Called with each :class:`IcpStep`.
    progress : callable | None
    fid_match : {"auto", "matched", "nearest"}
        How the fiducials enter the ICP (see above).
    **icp_kwargs
        Passed to :meth:`Coreg.iter_icp` (``weights`` update :data:`FIT_WEIGHTS`).
    """
    p = as_progress(progress)
    weights = {**FIT_WEIGHTS, **(icp_kwargs.pop("weights", None) or {})}
    if fid_match == "auto":
        fid_match = fid_match_for(co.fid_source)
    if fid_match == "matched" and (co.mri_fiducials is None or not np.all(np.isfinite(co.mri_fiducials))):
        fid_match = "nearest"
    co.fit_fiducials(scale=scale)
    p(0.05, "fiducials fitted")
    kw = {"scale": scale, "callback": callback, "weights": weights, "fid_match": fid_match, **icp_kwargs}
    co.fit_icp(50, progress=p.sub(0.05, 0.5), **kw)
    if omit_mm and omit_mm > 0:
        co.omit(omit_mm * 1e-3)
    co.fit_icp(50, progress=p.sub(0.5, 1.0), **kw)
    p(1.0, "coregistration done")
    return co
