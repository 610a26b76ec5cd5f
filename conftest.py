"""Root pytest configuration, shared by tests/, notebooks/ (nbval) and solutions/.

It sets the environment BEFORE any notebook kernel starts (kernels inherit it):
- CNNLAB_QUICK=1: the one documented switch that scales training down (lesson 9);
- CNNLAB_OFFLINE=1: no loader may touch the network during tests;
- MPLBACKEND=Agg: no GUI backend.
Explicit values in the environment win, so `CNNLAB_QUICK=0 pytest notebooks` runs full scale.
"""
import os

os.environ.setdefault("CNNLAB_QUICK", "1")
os.environ.setdefault("CNNLAB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
