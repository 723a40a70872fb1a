"""``templates.json`` is exactly what ``extract_templates`` makes of the captures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coreswitch.switch.sim import extract_templates, templates

from .captures import ESL_DIR


@pytest.mark.slow  # parses the 36 MB load corpus
def test_committed_templates_are_reproducible_from_the_captures() -> None:
    committed = json.loads(
        (Path(templates.__file__).with_name("templates.json")).read_text())
    assert extract_templates.extract(ESL_DIR) == committed


def test_templates_cover_the_events_coreswitch_uses() -> None:
    _, known = templates.load()
    for name in ("CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE",
                 "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY", "DTMF",
                 "PLAYBACK_START", "PLAYBACK_STOP", "RECORD_START", "RECORD_STOP",
                 "BACKGROUND_JOB", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_PARK"):
        assert name in known
    pagd = known["CHANNEL_EXECUTE_COMPLETE"]
    assert pagd.post == ("Application", "Application-Data", "Application-Response",
                         "Application-UUID")
    assert known["CHANNEL_HANGUP_COMPLETE"].pre == ("Hangup-Cause",)
