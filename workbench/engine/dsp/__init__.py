"""Small signal-processing routines the engine needs on paths that must start fast.

``import scipy.signal`` costs 1-2 s (it imports scipy.stats, optimize and interpolate
with it). ``workbench clean`` needs only a Butterworth band-pass and a peak picker from
it, for the R-peaks of the gradient step's cardiac pass; those are written here, on
numpy and LAPACK, and tested against :mod:`scipy.signal` on the same inputs.
"""
