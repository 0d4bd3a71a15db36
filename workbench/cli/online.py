"""``workbench online``: real-time gradient + BCG correction of an LSL stream.

``--stream NAME`` cleans a live amplifier stream and publishes ``NAME-clean``;
``--replay EEG`` plays a recording as an LSL stream (MNE-LSL's player, real time) through
the same path, records the cleaned stream and writes the QC (latency, dropped samples,
residual against the offline correction).
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

NAME = "online"
HELP = "real-time gradient + BCG correction of an LSL stream (or a replayed file) for neurofeedback"
DESCRIPTION = (
    "Correct the scanner's gradient artifact causally from the templates of past volumes and the "
    "BCG from causally detected R-peaks, and publish the cleaned stream on Lab Streaming Layer as "
    "NAME-clean, with an ONLINE_FLAG channel (0 = corrected; otherwise why not: first volumes, no "
    "volume marker, late volume marker, stream gap, sample-rate mismatch, TR change, BCG learning). "
    "A volume whose marker is late starts from the onset the TR rhythm predicts where the data confirm "
    "the artifact. --replay plays a recording as a stream through the same path (real time) and writes the QC."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--stream", metavar="NAME", help="name of the amplifier's LSL stream")
    src.add_argument("--replay", type=Path, metavar="EEG", help="play this recording as an LSL stream")
    parser.add_argument("--volume-trigger", metavar="NAME", default=None,
                        help="marker name of the volume trigger, e.g. R128 (default: the usual scanner names)")
    parser.add_argument("--markers", metavar="STREAM", default=None,
                        help="LSL marker stream (default NAME-annotations, else any marker stream)")
    parser.add_argument("--ecg", metavar="CH", default=None, help="ECG channel for the R-peaks (default: by type/name)")
    parser.add_argument("--out", type=Path, metavar="FILE", default=None, help="record the cleaned stream to this .fif")
    parser.add_argument("--json", type=Path, metavar="QC", default=None, help="write the QC as JSON")
    parser.add_argument("--name", metavar="OUT", default=None, help="name of the cleaned stream (default NAME-clean)")
    parser.add_argument("--duration", type=float, metavar="S", default=None, help="stop after S seconds (live)")
    parser.add_argument("--window", type=int, default=20, help="past volumes per gradient template (default 20)")
    parser.add_argument("--min-volumes", type=int, default=3,
                        help="volumes before the gradient is subtracted (default 3)")
    parser.add_argument("--lowpass", default="70", metavar="HZ|off",
                        help="causal low-pass after the gradient subtraction (default 70 Hz)")
    parser.add_argument("--no-bcg", action="store_true", help="do not subtract the BCG")
    parser.add_argument("--no-cardiac-pass", action="store_true",
                        help="let the gradient templates average the pulse artifact in (by default, with an "
                             "ECG, each volume enters them minus the R-locked mean of the beats before it)")
    parser.add_argument("--no-pulse-backfit", action="store_true",
                        help="with the cardiac pass, keep to the causal R-locked mean (by default the offline "
                             "backfitting also runs on the last 60 s every 10 s, in a thread of its own, and "
                             "separates a heart that repeats with the volumes; 0.5-1 s of CPU per run on 64 channels)")
    parser.add_argument("--no-lf-scale", action="store_true",
                        help="do not follow the size of the artifact's low band (the scanner table's ringing) "
                             "from volume to volume; use when stimuli are locked to the volume onsets in task "
                             "blocks (their evoked response would be taken for the ringing)")
    parser.add_argument("--from-disk", action="store_true",
                        help="replay: stream the file from disk in blocks (automatic above 1 GB in memory)")
    parser.add_argument("--marker-delay-ms", type=float, default=None, metavar="MS",
                        help="replay: send each volume marker MS ms after its sample, as a marker stream "
                             "that trails the data (testing, teaching)")
    parser.add_argument("--keep-hz", default=None, metavar="HZ[,HZ...]",
                        help="steady-state stimulation frequencies to keep (SSVEP, ASSR): around them the "
                             "template is the window mean alone, without the terms that follow a turning "
                             "(aliased) artifact and would take a steady signal too")
    parser.add_argument("--no-offline", action="store_true",
                        help="replay: skip the comparison with the offline correction")


def _params(args: argparse.Namespace) -> Any:
    from ..engine.errors import InputError
    from ..engine.gradient.correct import parse_keep_hz
    from ..engine.online import OnlineParams

    lp = str(args.lowpass).strip().lower()
    try:
        lowpass = None if lp in ("off", "none", "0") else float(lp)
    except ValueError:
        raise InputError(None, f"--lowpass must be a frequency in Hz or 'off' (got {args.lowpass!r})") from None
    if args.window < 1 or args.min_volumes < 1:
        raise InputError(None, "--window and --min-volumes must be at least 1")
    return OnlineParams(volume_marker=args.volume_trigger, window=args.window, min_volumes=args.min_volumes,
                        lowpass_hz=lowpass, bcg=not args.no_bcg, cardiac_pass=not args.no_cardiac_pass,
                        pulse_backfit=not args.no_pulse_backfit, lf_scale=not args.no_lf_scale,
                        keep_hz=parse_keep_hz(args.keep_hz))


def _delay(ms: float | None) -> float | None:
    from ..engine.errors import InputError

    if ms is None:
        return None
    if not 0.0 <= ms <= 10_000.0:
        raise InputError(None, f"--marker-delay-ms must be between 0 and 10000 (got {ms:g})")
    return ms / 1e3


def _printer() -> Any:
    seen = [0]

    def on_chunk(res: Any, _raw: Any, _lat: float) -> None:
        for m in res.messages:
            print(f"online: {m}", file=sys.stderr, flush=True)
        seen[0] += 1

    return on_chunk


def run(args: argparse.Namespace) -> int:
    from ..engine.atomic import atomic_write_json
    from ..engine.errors import InputError
    from ..engine.online.lsl import run_replay, run_stream
    from ..engine.outputs import check_outputs

    params = _params(args)
    delay = _delay(args.marker_delay_ms)
    if args.out is not None and not str(args.out).lower().endswith((".fif", ".fif.gz")):
        raise InputError(args.out, "the cleaned stream is recorded as FIF: the name must end in .fif")
    check_outputs([args.out, args.json], [args.replay] if args.replay else [])
    if args.stream:
        stop = threading.Event()
        print(f"online: cleaning {args.stream!r} -> {args.name or args.stream + '-clean'} "
              "(Ctrl+C to stop)", file=sys.stderr)
        try:
            run = run_stream(args.stream, params=params, markers=args.markers, ecg=args.ecg, out_name=args.name,
                             record=args.out, duration_s=args.duration, stop=stop, on_chunk=_printer())
        except KeyboardInterrupt:
            stop.set()
            raise
        qc = run.qc()
        raw = None
    else:
        print(f"online: replaying {args.replay} as an LSL stream in real time", file=sys.stderr)
        if args.ecg is not None:
            from ..engine.io.eeg import read_eeg_header

            hdr = read_eeg_header(args.replay)
            if args.ecg not in list(getattr(hdr, "ch_names", [])):
                raise InputError(args.replay, f"has no channel {args.ecg!r} (--ecg)")
        run, raw = run_replay(args.replay, params=params, ecg=args.ecg, record=args.out, on_chunk=_printer(),
                              from_disk=True if args.from_disk else None,
                              marker_delay_s=delay)
        qc = run.qc()
        if not args.no_offline and args.out is not None and run.output is not None:
            import mne

            from ..engine.online.qc import residual_vs_offline

            out = mne.io.read_raw_fif(run.output, preload=True, verbose="error").get_data()
            if not raw.preload:  # streamed from disk by the replay
                raw.load_data(verbose="error")
            try:
                qc.update(residual_vs_offline(raw, out, first_index=run.first_index or 0,
                                              volume=args.volume_trigger, lowpass_hz=params.lowpass_hz or 70.0,
                                              bcg=params.bcg, keep_hz=params.keep_hz))
            except InputError as exc:
                qc["residual_note"] = f"offline correction not possible: {exc}"
    if args.json is not None:
        atomic_write_json(args.json, qc)
    keys = ("latency_ms_median", "latency_ms_p95", "dropped_samples", "samples_received",
            "residual_vs_offline_db")
    print("  ".join(f"{k}={qc[k]:.3g}" if isinstance(qc.get(k), float) else f"{k}={qc.get(k)}"
                    for k in keys if k in qc))
    if run.output is not None:
        print(f"cleaned stream recorded to {run.output}")
    return 0
