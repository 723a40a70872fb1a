"""``${...}`` expansion of application arguments, as FreeSWITCH does it (and ``set`` twice)."""

from __future__ import annotations

import pytest

from coreswitch.esl import InboundClient
from coreswitch.switch.sim import SimSwitch
from coreswitch.switch.sim.expand import expand

VARS = {"x": "hello", "name": "x", "empty": ""}


async def _api(command: str, args: str) -> str:
    return f"<{command}|{args}>"


@pytest.mark.parametrize(("text", "expanded"), [
    ("plain text", "plain text"),
    ("a\\b", "a\\b"),  # no ${ and no escape: untouched, the backslash stays
    ("${x}", "hello"),
    ("<${x}> <${nope}>", "<hello> <>"),
    ("${${name}}", "hello"),  # nested
    ("$${x}", ""),  # a global, and the simulator has none
    ("\\${x}", "${x}"),
    ("\\$$x", "$x"),  # \$ eats a following $
    ("a\\\\b ${x}", "a\\b hello"),
    ("it\\'s ${x}", "its hello"),  # \' vanishes
    ("cost $5 ${x}", "cost $5 hello"),
    ("${uuid_kill(abc ${x})}", "<uuid_kill|abc hello>"),
    ("${x", "${x"),  # unterminated: kept
    ("end $", "end $"),
])
async def test_expansion_rules(text: str, expanded: str) -> None:
    assert await expand(text, VARS.get, _api) == expanded


async def test_application_arguments_are_expanded(switch: SimSwitch,
                                                  client: InboundClient) -> None:
    call = await switch.place_call()
    await client.execute(call.uuid, "set", "greeting=ivr/hello.wav")
    done = await client.execute(call.uuid, "playback", "${greeting}")
    assert call.prompts == ["ivr/hello.wav"]
    assert done["Application-Data"] == "ivr/hello.wav"


async def test_set_expands_its_value_twice(switch: SimSwitch, client: InboundClient) -> None:
    call = await switch.place_call()
    await client.execute(call.uuid, "set", "x=hello")
    await client.execute(call.uuid, "set", "once=\\${x}")  # the second expansion still sees ${x}
    await client.execute(call.uuid, "set", "twice=\\\\\\${x}")
    assert call.variables.get("once") == "hello"
    assert call.variables.get("twice") == "${x}"


async def test_an_api_call_in_an_argument_runs(switch: SimSwitch, client: InboundClient) -> None:
    call = await switch.place_call()
    await client.execute(call.uuid, "set", f"note=${{uuid_kill({call.uuid})}}")
    assert await call.hungup() == "NORMAL_CLEARING"
