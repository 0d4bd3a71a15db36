"""Neural sources of the phantom and their EEG, generated chunk by chunk.

A few equivalent current dipoles with roles (task-driven, fMRI-invisible,
EEG-invisible, alpha rhythm) plus a population of background dipoles with 1/f
activity. Scalp potentials come from MNE's forward solution in a four-shell sphere
model fitted to the scalp (:func:`mne.make_sphere_model`,
:func:`mne.make_forward_solution` on a discrete source space); the potentials are
referenced to FCz, as a BrainAmp MR cap records them.

* ``task``: an evoked response per trial of its condition, scaled by that trial's
  amplitude, and a matching neural input to the haemodynamics (visible to both): the
  region an EEG-informed (parametric modulation) analysis should find.
* ``task_unmodulated``: responds to every trial of its condition with the same
  amplitude (EEG and BOLD), so it shows in the main effect but not in the modulator.
* ``fmri_invisible``: evoked, strongly synchronous activity with no neurovascular
  coupling (no BOLD).
* ``eeg_invisible``: a closed-field configuration, activity on two facing sulcal walls
  (two opposite dipoles 4 mm apart) whose scalp fields cancel, with strong BOLD.
* ``alpha``: an ~10 Hz parieto-occipital rhythm (narrow-band, waxing and waning).
* background: 40 random dipoles driven by 1/f ("pink") noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import signal

from . import geometry as geo
from .config import PhantomConfig
from .head import EOG, REF, Head

__all__ = ["SourceSpec", "SOURCES", "Forward", "make_forward", "Events", "make_events",
           "NeuralGenerator", "erp_waveform"]


@dataclass(frozen=True)
class SourceSpec:
    """A neural source.

    ``pos_mm``/``ori`` are in fsaverage surface RAS (mm / unit vector); ``peaks`` are
    ``(latency s, width s, relative amplitude)`` Gaussian components of the evoked
    response; ``bold`` is the neurovascular coupling (0 = no BOLD); ``mask_mm`` the
    radius of its activation mask; ``modulated`` whether the trial-by-trial amplitude
    scales its response (``False``: the same response to every trial).
    """

    name: str
    role: str
    pos_mm: tuple[float, float, float]
    ori: tuple[float, float, float]
    condition: str | None
    moment_nam: float
    peaks: tuple[tuple[float, float, float], ...] = ()
    bold: float = 0.0
    mask_mm: float = 0.0
    closed_field: bool = False
    modulated: bool = True


SOURCES: tuple[SourceSpec, ...] = (
    # early visual cortex (V1-V3): a full-field stimulus activates several cm3 of it
    SourceSpec("visual_cortex", "task", (14.0, -86.0, 8.0), (0.15, -0.55, 0.82), "visual", 60.0,
               ((0.10, 0.018, 0.8), (0.17, 0.028, -1.2), (0.30, 0.06, 0.5)), bold=1.0, mask_mm=12.0),
    SourceSpec("motor_cortex", "task", (-36.0, -20.0, 56.0), (-0.45, 0.1, 0.89), "motor", 60.0,
               ((0.08, 0.025, 0.6), (0.20, 0.05, -1.0)), bold=1.0, mask_mm=9.0),
    # left lateral occipital cortex (V5/MT+): active in every visual trial, by the same amount
    SourceSpec("lateral_occipital_task_only", "task_unmodulated", (-44.0, -70.0, 4.0), (-0.85, -0.3, 0.43),
               "visual", 20.0, ((0.22, 0.04, -1.0),), bold=1.0, mask_mm=9.0, modulated=False),
    SourceSpec("temporal_fmri_invisible", "fmri_invisible", (50.0, -28.0, 4.0), (0.9, 0.0, 0.45),
               "visual", 60.0, ((0.25, 0.045, -1.0),), bold=0.0, mask_mm=9.0),
    SourceSpec("frontal_eeg_invisible", "eeg_invisible", (-38.0, 30.0, 26.0), (-0.6, 0.3, 0.74),
               "motor", 60.0, ((0.20, 0.08, 1.0),), bold=1.2, mask_mm=9.0, closed_field=True),
    # eyes open during the task: ~15 uV RMS at Pz, about half the eyes-closed rhythm
    SourceSpec("alpha_parietooccipital", "alpha", (2.0, -76.0, 24.0), (0.0, -0.45, 0.89), None, 200.0),
)
N_BACKGROUND = 40
BACKGROUND_NAM = 25.0
EVENT_LENGTH_S = 0.8  # support of an evoked response after its onset
NEURAL_DURATION_S = 1.0  # neural activity driving the haemodynamics per trial
NEURAL_GAIN = 0.3  # neural input level of a unit-amplitude trial (~1 % BOLD peak)


def erp_waveform(spec: SourceSpec, t: np.ndarray) -> np.ndarray:
    """Relative evoked dipole moment at times ``t`` after onset (peak ~1)."""
    out = np.zeros_like(t, dtype=float)
    for lat, width, amp in spec.peaks:
        out += amp * np.exp(-0.5 * ((t - lat) / width) ** 2)
    out[(t < 0) | (t > EVENT_LENGTH_S)] = 0.0
    return out


@dataclass
class Forward:
    """Fixed-orientation gains of the phantom's dipoles, FCz-referenced.

    Attributes
    ----------
    channels : list of str
        Scalp EEG channels then the EOG channel.
    gain : ndarray, shape (n_channels, n_sources)
        V per A·m of each source in ``names`` (closed-field pairs combined).
    names : list of str
        The role sources then ``background_00``...
    pos_mri, ori_mri : ndarray
        Positions (m) and orientations of the sources in the MRI frame.
    """

    channels: list[str]
    gain: np.ndarray
    names: list[str]
    pos_mri: np.ndarray
    ori_mri: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


def make_forward(head: Head, rng: np.random.Generator) -> Forward:
    """Sphere-model forward solution for the role and background dipoles."""
    import mne

    rot = head.pose[:3, :3]
    pos, ori, names, sign_groups = [], [], [], []
    for spec in SOURCES:
        p = geo.apply(head.pose, np.array(spec.pos_mm)[None] * 1e-3)[0]
        n = rot @ (np.array(spec.ori) / np.linalg.norm(spec.ori))
        if spec.closed_field:
            # facing walls of a sulcus: currents point into the sulcus from both sides
            pos += [p - 0.002 * n, p + 0.002 * n]
            ori += [n, -n]
            sign_groups.append([len(pos) - 2, len(pos) - 1])
        else:
            pos.append(p)
            ori.append(n)
            sign_groups.append([len(pos) - 1])
        names.append(spec.name)
    # background: random positions well inside the inner skull, random orientations
    # (inside the skull and inside the sphere model's brain shell, radius 0.9 R)
    c_head = head.centre_head
    dirs = rng.normal(size=(N_BACKGROUND, 3))
    dirs[:, 2] = np.abs(dirs[:, 2])  # the upper half: cortex, not the neck
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    skull_head = geo.apply(head.mri_head_t, head.skull_rr)
    reach = np.minimum(geo.ray_mesh_distance(c_head, dirs, skull_head, head.skull_tris), 0.88 * head.radius)
    bg_head = c_head + dirs * (reach * rng.uniform(0.4, 0.85, N_BACKGROUND))[:, None]
    bg = geo.apply(head.head_mri_t, bg_head)
    bo = rng.normal(size=(N_BACKGROUND, 3))
    bo /= np.linalg.norm(bo, axis=1, keepdims=True)
    for k in range(N_BACKGROUND):
        pos.append(bg[k])
        ori.append(bo[k])
        sign_groups.append([len(pos) - 1])
        names.append(f"background_{k:02d}")
    pos, ori = np.array(pos), np.array(ori)

    channels = [*head.eeg_names, EOG]
    all_ch = [*channels, REF]
    ch_pos = dict(zip(all_ch, [*head.elec_head, head.eog_head, head.ref_head]))
    fid = head.fid_head
    mont = mne.channels.make_dig_montage(ch_pos=ch_pos, nasion=fid["nasion"], lpa=fid["lpa"],
                                         rpa=fid["rpa"], coord_frame="head")
    info = mne.create_info(all_ch, 1000.0, "eeg")
    info.set_montage(mont)
    sphere = mne.make_sphere_model(r0=head.centre_head, head_radius=head.radius, verbose="error")
    # The discrete source space is given in head coordinates with an identity
    # "head->mri" transform: MNE's inside-the-sphere check then compares like with like.
    pos_head = geo.apply(head.mri_head_t, pos)
    ori_head = ori @ head.mri_head_t[:3, :3].T
    src = mne.setup_volume_source_space(pos={"rr": pos_head, "nn": ori_head},
                                        sphere=(0.0, 0.0, 0.0, 1.0), mindist=0.0, verbose="error")
    trans = mne.transforms.Transform("head", "mri", np.eye(4))
    fwd = mne.make_forward_solution(info, trans, src, sphere, meg=False, eeg=True, mindist=0.0,
                                    verbose="error")
    if fwd["nsource"] != len(pos):
        raise RuntimeError(f"forward model kept {fwd['nsource']} of {len(pos)} phantom dipoles")
    g = fwd["sol"]["data"].reshape(len(all_ch), len(pos), 3)
    g1 = np.einsum("csk,sk->cs", g, ori_head)
    g1 = g1[:-1] - g1[-1:]  # reference to FCz
    gain = np.stack([g1[:, grp].sum(1) for grp in sign_groups], axis=1)
    keep = [grp[0] for grp in sign_groups]
    return Forward(channels, gain, names, pos[keep], ori[keep],
                   {"sphere_r0_head": head.centre_head, "sphere_radius": head.radius})


@dataclass
class Events:
    """Task trials on the scanner clock.

    Attributes
    ----------
    onset_mri : ndarray
        Onsets (s from the first volume, scanner clock; BIDS ``onset``).
    condition : ndarray of str
        ``"visual"`` or ``"motor"``.
    amplitude : ndarray
        Trial-by-trial amplitude (log-normal, mean 1) scaling both the evoked response
        and the neural input to the haemodynamics of the modulated sources.
    """

    onset_mri: np.ndarray
    condition: np.ndarray
    amplitude: np.ndarray

    @property
    def code(self) -> np.ndarray:
        """Stimulus marker number per trial (1 visual, 2 motor)."""
        return np.where(self.condition == "visual", 1, 2)


def make_events(cfg: PhantomConfig, rng: np.random.Generator) -> Events:
    """Jittered trials of two conditions spread over the scan.

    Every trial, its evoked response and its neural activity (``NEURAL_DURATION_S``, the
    ``duration`` of the events table) end within the scan.
    """
    t_end = cfg.n_volumes * cfg.tr - max(EVENT_LENGTH_S, NEURAL_DURATION_S)
    lo, hi = cfg.isi_s
    onsets = []
    t = min(2.0 * cfg.tr, max(t_end - hi, 0.0) * 0.5)
    while t < t_end and (cfg.n_trials is None or len(onsets) < cfg.n_trials):
        onsets.append(t)
        t += rng.uniform(lo, hi)
    n = len(onsets)
    cond = np.array(["visual", "motor"])[rng.permutation(np.arange(n) % 2)] if n else np.zeros(0, str)
    sd = cfg.trial_amplitude_sd
    amp = np.exp(rng.normal(0.0, sd, n) - 0.5 * sd**2)  # log-normal with mean 1
    return Events(np.round(np.array(onsets, float), 4), cond, amp)


def _pink_filter() -> tuple[np.ndarray, np.ndarray]:
    # -10 dB/decade "pinking" filter (J. O. Smith, Spectral Audio Signal Processing)
    b = np.array([0.049922035, -0.095993537, 0.050612699, -0.004408786])
    a = np.array([1.0, -2.494956002, 2.017265875, -0.522189400])
    return b, a


class NeuralGenerator:
    """Dipole moments (A·m) of every source, chunk by chunk on the EEG clock.

    Filters carry their state across chunks, so the series is continuous; each chunk
    draws its noise from its own seeded generator, so the output depends only on the
    config, the subject and the chunk grid.
    """

    def __init__(self, cfg: PhantomConfig, events: Events, fwd: Forward, to_eeg, seed: tuple[int, ...]):
        self.cfg = cfg
        self.fwd = fwd
        self.seed = seed
        self.onset_eeg = to_eeg(events.onset_mri)
        self.events = events
        sf = cfg.sfreq
        self.alpha_sos = signal.butter(2, [8.5, 11.5], "bandpass", fs=sf, output="sos")
        self.alpha_zi = np.zeros((self.alpha_sos.shape[0], 2))
        # slow envelope of alpha (waxing and waning, 0.05-0.5 Hz)
        self.env_sos = signal.butter(2, 0.5, "lowpass", fs=sf, output="sos")
        self.env_zi = np.zeros((self.env_sos.shape[0], 2))
        # 1/f background, rolling off faster above ~60 Hz (as scalp EEG does)
        pb, pa = _pink_filter()
        lb, la = signal.butter(1, 60.0, "lowpass", fs=sf)
        self.pb, self.pa = np.convolve(pb, lb), np.convolve(pa, la)
        self.pink_zi = np.zeros((N_BACKGROUND, len(self.pa) - 1))
        self._alpha_gain = None
        self._pink_gain = None

    def chunk(self, n0: int, n1: int, index: int) -> np.ndarray:
        """Moments, shape (n_sources, n1 - n0), float64 A·m."""
        cfg = self.cfg
        rng = np.random.default_rng([*self.seed, 101, index])
        n = n1 - n0
        t = (n0 + np.arange(n)) / cfg.sfreq
        out = np.zeros((len(self.fwd.names), n))
        for k, spec in enumerate(SOURCES):
            if spec.role == "alpha":
                w = rng.standard_normal(n)
                a, self.alpha_zi = signal.sosfilt(self.alpha_sos, w, zi=self.alpha_zi)
                e, self.env_zi = signal.sosfilt(self.env_sos, rng.standard_normal(n), zi=self.env_zi)
                if self._alpha_gain is None:  # unit-variance normalisation, fixed once
                    self._alpha_gain = 1.0 / max(np.std(a), 1e-12), 1.0 / max(np.std(e), 1e-12)
                ga, ge = self._alpha_gain
                env = np.clip(1.0 + 0.6 * e * ge, 0.1, None)
                out[k] = spec.moment_nam * 1e-9 * a * ga * env / np.sqrt(2.0)
                continue
            if spec.condition is None:
                continue
            sel = np.flatnonzero((self.events.condition == spec.condition)
                                 & (self.onset_eeg < t[-1] + 1 / cfg.sfreq)
                                 & (self.onset_eeg + EVENT_LENGTH_S > t[0]))
            for i in sel:
                amp = self.events.amplitude[i] if spec.modulated else 1.0
                out[k] += spec.moment_nam * 1e-9 * amp * erp_waveform(spec, t - self.onset_eeg[i])
        w = rng.standard_normal((N_BACKGROUND, n))
        p, self.pink_zi = signal.lfilter(self.pb, self.pa, w, axis=1, zi=self.pink_zi)
        if self._pink_gain is None:
            self._pink_gain = 1.0 / max(np.std(p), 1e-12)
        out[len(SOURCES):] = BACKGROUND_NAM * 1e-9 * p * self._pink_gain
        return out

    def neural_input(self, dt: float, n_times: int) -> np.ndarray:
        """Neural input to the haemodynamics per role source (scanner clock).

        Shape (n_times, n_role_sources): trial amplitude (1 for an unmodulated source)
        times the coupling during ``NEURAL_DURATION_S`` after each onset of the source's
        condition.
        """
        u = np.zeros((n_times, len(SOURCES)))
        t = np.arange(n_times) * dt
        for k, spec in enumerate(SOURCES):
            if spec.condition is None or spec.bold == 0:
                continue
            for onset, cond, amp in zip(self.events.onset_mri, self.events.condition, self.events.amplitude):
                if cond == spec.condition:
                    amp = amp if spec.modulated else 1.0
                    # fraction of each bin covered by [onset, onset + duration)
                    lo = np.clip(onset - t, 0, dt)
                    hi = np.clip(onset + NEURAL_DURATION_S - t, 0, dt)
                    u[:, k] += NEURAL_GAIN * spec.bold * amp * (hi - lo) / dt
        return u
