"""Switch backends: the simulated switch (``sim``); FreeSWITCH itself is reached via ESL."""
