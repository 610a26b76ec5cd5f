"""ipywidgets apps for the lessons: thin wiring of controls to ``cnnlab.viz`` views.

Every app subclasses ``cnnlab.widgets.base.App``: its controls feed ``view.show(**params)``,
which computes the facts (``cnnlab.functional``) and draws them; the app shows the frame and
the facts' text. One module per concept, matching ``cnnlab.viz``.
"""
from cnnlab.widgets.base import App  # noqa: F401
from cnnlab.widgets.convolution import *  # noqa: F401,F403
from cnnlab.widgets.kernels import *  # noqa: F401,F403
from cnnlab.widgets.stride import *  # noqa: F401,F403
from cnnlab.widgets.channels import *  # noqa: F401,F403
from cnnlab.widgets.pooling import *  # noqa: F401,F403
from cnnlab.widgets.backprop import *  # noqa: F401,F403
from cnnlab.widgets.sgd import *  # noqa: F401,F403
from cnnlab.widgets.training import *  # noqa: F401,F403
from cnnlab.widgets.forward import *  # noqa: F401,F403
