"""ipywidgets apps for the lessons: thin wiring of cnnlab.viz and cnnlab.functional."""
from cnnlab.widgets.convolution import *  # noqa: F401,F403
from cnnlab.widgets.networks import *  # noqa: F401,F403
