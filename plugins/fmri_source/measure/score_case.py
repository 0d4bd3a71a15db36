# ruff: noqa
"""Measurement script for MEASUREMENTS.md (see README.md here)."""
import json
import sys
import time
import types
from pathlib import Path

import mne
import nibabel as nib
from workbench_fmri_source.declaration import METHOD
from workbench_fmri_source.method import run

from workbench.engine.io.dig import read_dig
from workbench.engine.io.events import read_events
from workbench.engine.phantom import load_truth
from workbench.engine.phantom.scoring import _score_fmri_source
from workbench.plugin_api import FusionInputs

label = sys.argv[1]; ph = Path(sys.argv[2]); out = Path(sys.argv[3]); extra = dict(a.split('=') for a in sys.argv[4:])
raw = mne.io.read_raw(next(out.glob('*gradclean_eeg.fif')), verbose='error')
inp = FusionInputs(eeg=raw, events=read_events(ph/'sub-01/func/sub-01_task-phantom_events.tsv'),
    anat=nib.load(ph/'sub-01/anat/sub-01_T1w.nii.gz'), trans=mne.read_trans(next(out.glob('*coreg_trans.fif'))),
    dig=read_dig(ph/'sub-01/eeg/sub-01_electrodes.tsv'))
bold = ph/'sub-01/func/sub-01_task-phantom_bold.nii.gz'
inp.bold = nib.load(bold); inp.bold_meta = json.load(open(str(bold).replace('.nii.gz','.json')))
if 'fmri' in extra: inp.files['fmri'] = [Path(extra.pop('fmri'))]
params = METHOD.validate_params(extra)
t=time.time(); res = run(inp, params, None); el = time.time()-t
study = types.SimpleNamespace(truth=load_truth(ph))
sc = _score_fmri_source(study, types.SimpleNamespace(details={'fusion': res}))
doc = {'label': label, 'params': {k: v for k, v in extra.items()}, 'seconds': el, 'score': sc, 'messages': res.messages,
       'qc': {k: v for k, v in res.qc.items() if not isinstance(v, dict)}, 'hyper': res.tables['hyperparameters']}
json.dump(doc, open(f'score_{label}.json', 'w'), indent=1, default=float)
print(label, el); [print(' ', k, round(v, 1)) for k, v in sc.items()]
