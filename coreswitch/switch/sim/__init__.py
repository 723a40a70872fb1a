"""The simulated switch: an Event Socket server that behaves like FreeSWITCH 1.10.

Modules, one concept each:

* :mod:`.wire` — command parsing (as mod_event_socket reads) and every frame the switch writes;
* :mod:`.templates` / ``templates.json`` / :mod:`.extract_templates` — event shapes from captures;
* :mod:`.clock` — switch time, scaled by ``speed``;
* :mod:`.events` — building events in those shapes and firing them to listeners;
* :mod:`.channel` — the channel model (states, caller profile, variables);
* :mod:`.core` — channel lifecycles and the event sequences they fire;
* :mod:`.apps` — dialplan applications; :mod:`.bridge` — bridging; :mod:`.dialstring`;
* :mod:`.api` — ``api``/``bgapi`` commands;
* :mod:`.listener` — one ESL connection; :mod:`.server` — the inbound server;
  :mod:`.outbound` — the ``socket`` application (outbound mode);
* :mod:`.agents` — virtual endpoints; :mod:`.caller` — scripted callers;
* :mod:`.switch` — the :class:`SimSwitch` facade.
"""

from coreswitch.switch.sim.agents import Agent
from coreswitch.switch.sim.caller import Hangup, Press, Wait
from coreswitch.switch.sim.core import MediaTiming
from coreswitch.switch.sim.switch import Call, SimSwitch

__all__ = ["Agent", "Call", "Hangup", "MediaTiming", "Press", "SimSwitch", "Wait"]
