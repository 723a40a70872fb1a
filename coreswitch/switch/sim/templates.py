"""Event header shapes of real FreeSWITCH events, loaded from ``templates.json``.

``templates.json`` is generated from the captures by :mod:`.extract_templates` and committed; it
says, for each event name, which headers come before the channel data, whether the channel data
and its variables are carried, and which headers follow (see that module for the fields).
Events the captures do not contain (``CHANNEL_BRIDGE``, ``RECORD_START`` …) get shapes written
here, in :data:`EXTRA`, from FreeSWITCH's source (the function and file that fire them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass(frozen=True)
class Template:
    name: str
    calling: tuple[str, str, str]
    lead: tuple[str, ...]
    pre: tuple[str, ...]
    channel: bool
    variables: bool
    post: tuple[str, ...]


#: Shapes of events that the captures do not show, written from FreeSWITCH 1.10's source.
EXTRA: dict[str, dict[str, object]] = {
    "CHANNEL_BRIDGE": {"calling": ["switch_ivr_bridge.c", "audio_bridge_on_exchange_media", "1000"],
                       "pre": [], "channel": True, "variables": True,
                       "post": ["Bridge-A-Unique-ID", "Bridge-B-Unique-ID"]},
    "CHANNEL_UNBRIDGE": {"calling": ["switch_ivr_bridge.c", "audio_bridge_on_exchange_media",
                                     "1037"],
                         "pre": [], "channel": True, "variables": True,
                         "post": ["Bridge-A-Unique-ID", "Bridge-B-Unique-ID"]},
    "CHANNEL_PROGRESS": {"calling": ["switch_channel.c", "switch_channel_perform_mark_ring_ready",
                                     "3490"], "pre": [], "channel": True, "variables": True,
                         "post": []},
    "CHANNEL_PROGRESS_MEDIA": {"calling": ["switch_channel.c",
                                           "switch_channel_perform_mark_pre_answered", "3628"],
                               "pre": [], "channel": True, "variables": True, "post": []},
    "RECORD_START": {"calling": ["switch_ivr_async.c", "record_callback", "1256"], "pre": [],
                     "channel": True, "variables": True, "post": ["Record-File-Path"]},
    "RECORD_STOP": {"calling": ["switch_ivr_async.c", "record_callback", "1318"], "pre": [],
                    "channel": True, "variables": True,
                    "post": ["Record-File-Path", "Record-Completion-Cause"]},
    "CHANNEL_DATA": {"calling": ["mod_event_socket.c", "parse_command", "2021"], "pre": [],
                     "channel": True, "variables": True, "post": []},
}


@cache
def load() -> tuple[tuple[str, ...], dict[str, Template]]:
    """The core header names and the template of every known event name."""
    data = json.loads(Path(__file__).with_name("templates.json").read_text())
    raw: dict[str, dict[str, object]] = dict(data["events"])
    for name, shape in EXTRA.items():
        raw.setdefault(name, shape)
    templates: dict[str, Template] = {}
    for name, shape in raw.items():
        calling = shape["calling"]
        assert isinstance(calling, list)
        templates[name] = Template(
            name=name,
            calling=(str(calling[0]), str(calling[1]), str(calling[2])),
            lead=tuple(_names(shape.get("lead", []))),
            pre=tuple(_names(shape.get("pre", []))),
            channel=bool(shape.get("channel")),
            variables=bool(shape.get("variables")),
            post=tuple(_names(shape.get("post", []))),
        )
    return tuple(data["core"]), templates


def _names(value: object) -> list[str]:
    assert isinstance(value, list)
    return [str(v) for v in value]


def template(name: str) -> Template:
    _, templates = load()
    found = templates.get(name)
    if found is None:  # an event no capture shows: channel events carry the channel data
        about_channel = name.startswith("CHANNEL_")
        return Template(name, ("switch_event.c", "switch_event_fire_detailed", "0"), (), (),
                        about_channel, about_channel, ())
    return found
