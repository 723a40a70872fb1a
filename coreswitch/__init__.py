"""coreswitch: a low-code call-centre platform for FreeSWITCH.

The runtime package. ``coreswitch.esl`` speaks FreeSWITCH's Event Socket, ``coreswitch.switch``
holds the switch backends (the simulated switch among them), ``coreswitch.cli`` the command line.
The flow language lives in the separate, pure package ``dsl``.
"""

__version__ = "0.1.0"
