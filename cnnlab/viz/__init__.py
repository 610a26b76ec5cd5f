"""Matplotlib figures for the lessons. Views only: every number comes from cnnlab.functional."""
from cnnlab.viz.convolution import *  # noqa: F401,F403
from cnnlab.viz.networks import *  # noqa: F401,F403
