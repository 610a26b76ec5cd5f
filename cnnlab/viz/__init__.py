"""Matplotlib figures for the lessons. Views only: every number comes from cnnlab.functional.

One module per concept; the shared pieces are ``style`` (figure factory, colour maps, colours,
``format_number``), ``render`` (the renderer and the ``View`` base every interactive figure
subclasses) and ``grids`` (numbers written in cells, grids of images). Each concept module has a
facts function (the numbers, from ``cnnlab.functional``), a ``View`` that draws them, and
``static_*`` figures for static renders of the notebooks.
"""
from cnnlab.viz.style import format_number, new_figure  # noqa: F401
from cnnlab.viz.render import Renderer, View, encode_frame, figure_png  # noqa: F401
from cnnlab.viz.grids import image_grid  # noqa: F401
from cnnlab.viz.convolution import *  # noqa: F401,F403
from cnnlab.viz.kernels import *  # noqa: F401,F403
from cnnlab.viz.stride import *  # noqa: F401,F403
from cnnlab.viz.channels import *  # noqa: F401,F403
from cnnlab.viz.pooling import *  # noqa: F401,F403
from cnnlab.viz.backprop import *  # noqa: F401,F403
from cnnlab.viz.sgd import *  # noqa: F401,F403
from cnnlab.viz.training import *  # noqa: F401,F403
from cnnlab.viz.forward import *  # noqa: F401,F403
