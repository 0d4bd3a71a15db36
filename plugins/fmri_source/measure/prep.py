# ruff: noqa
"""Measurement script for MEASUREMENTS.md (see README.md here)."""
import sys
import time
from pathlib import Path

from workbench.engine.phantom import load_truth
from workbench.engine.runner import Runner
from workbench.engine.study import Study
from workbench.plugin_api import all_steps

study_dir = Path(sys.argv[1]); out = Path(sys.argv[2])
t0=time.time()
study = Study.load(study_dir)
study.set_truth(load_truth(study_dir))
r = Runner(study, all_steps(), out)
oc = r.run([("sync", {}), ("gradient", {}), ("coreg", {})], stop_on_error=True)
for o in oc: print(o.name, o.status, {k:v for k,v in o.qc.items() if 'error' in k or 'tre' in k})
print("trans", study.trans)
print("eeg", study.eeg, study.files)
print("dig", study.dig)
print(time.time()-t0)
