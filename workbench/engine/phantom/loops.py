"""Lead loops of the EEG cap: the geometry that couples magnetic fields into each channel.

Each channel measures the EMF around the loop electrode -> lead wire -> cable exit ->
reference lead wire -> reference electrode -> (through the head) -> electrode. The
wires run over the scalp through a channel-specific waypoint (caps bundle their leads
in routed channels), so no loop is planar and every channel couples differently.

Two quantities of each loop (scanner frame = head frame, origin at the isocentre):

* the area vector ``A = ∮ r × dr / 2`` (m²): a rigid rotation ``ω`` of the loop in the
  static field ``B0 ẑ`` induces ``EMF = -B0 ẑ · (ω × A)`` (the ballistocardiogram);
* the gradient moment ``M = ∫ r dA_z`` (m³): a gradient field ``B_z = G · r`` links the
  flux ``Φ = G · M``, so switching induces ``EMF = -dG/dt · M`` (Faraday's law).
"""

from __future__ import annotations

import numpy as np

from .head import Head

__all__ = ["lead_loops"]


def _polyline(a: np.ndarray, b: np.ndarray, centre: np.ndarray, radius: float, n: int = 12) -> np.ndarray:
    """Points from ``a`` to ``b`` bulging over a sphere (a wire lying on the scalp)."""
    s = np.linspace(0.0, 1.0, n)[:, None]
    p = a + s * (b - a)
    d = p - centre
    r = np.linalg.norm(d, axis=1, keepdims=True)
    ra, rb = np.linalg.norm(a - centre), np.linalg.norm(b - centre)
    target = np.maximum(r, np.minimum(radius, (1 - s) * ra + s * rb))
    return centre + d / np.maximum(r, 1e-9) * target


def _loop_moments(poly: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Area vector and gradient moment of a closed polygon (fan triangulation)."""
    c = poly.mean(0)
    a_tot = np.zeros(3)
    m_tot = np.zeros(3)
    for p, q in zip(poly, np.roll(poly, -1, axis=0)):
        area = 0.5 * np.cross(p - c, q - c)
        a_tot += area
        m_tot += (c + p + q) / 3.0 * area[2]  # flat triangle: ∫ r dA_z = centroid · A_z
    return a_tot, m_tot


def lead_loops(head: Head, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Area vectors ``A`` (n, 3) and gradient moments ``M`` (n, 3) of every channel.

    Channel order: scalp EEG, EOG, ECG. Coordinates are relative to the isocentre,
    placed at the centre of the sphere fitted to the scalp.
    """
    iso = head.centre_head
    radius = head.radius + 0.004  # wires lie on top of the electrodes and cap
    x = head.cable_exit_head - iso
    ref = head.ref_head - iso
    # the reference lead's own route, shared by every loop
    w_ref = ref + 0.5 * (x - ref) + np.array([rng.normal(0, 0.01), 0.0, 0.0])
    ref_path = np.vstack([_polyline(x, w_ref, np.zeros(3), radius)[1:], _polyline(w_ref, ref, np.zeros(3), radius)[1:]])
    sites = np.vstack([head.elec_head, head.eog_head[None], head.ecg_head[None]]) - iso
    areas, moments = [], []
    for k, e in enumerate(sites):
        is_ecg = k == len(sites) - 1
        if is_ecg:
            path = np.vstack([e, e + 0.5 * (x - e) + np.array([0.04, -0.03, 0.0]), x])
        else:
            # a routing waypoint half-way to the exit, displaced sideways by a few cm
            side = np.cross(x - e, e)
            side /= max(np.linalg.norm(side), 1e-9)
            w = e + 0.5 * (x - e) + side * rng.normal(0.0, 0.025)
            path = np.vstack([_polyline(e, w, np.zeros(3), radius), _polyline(w, x, np.zeros(3), radius)[1:]])
        poly = np.vstack([path, ref_path])  # closes from the reference back to e through the head
        a, m = _loop_moments(poly)
        areas.append(a)
        moments.append(m)
    return np.array(areas), np.array(moments)
