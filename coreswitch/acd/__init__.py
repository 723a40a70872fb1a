"""The automatic call distributor: queues, agents, routing strategies, callbacks.

* :mod:`~coreswitch.acd.model` — the nouns (queues, agents, callers, offers, agent states);
* :mod:`~coreswitch.acd.strategies` — which agent a caller gets (pluggable registry);
* :mod:`~coreswitch.acd.store` — the state store interface, atomic across nodes;
  :mod:`~coreswitch.acd.memory` (in process, the embedded default) and
  :mod:`~coreswitch.acd.redis_store` (shared by several nodes) implement it;
* :mod:`~coreswitch.acd.engine` — runs callers' waits on calls (music, announcements, keys,
  callbacks) and agents' offers through the switch;
* :mod:`~coreswitch.acd.queue_log` — every queue and agent event, the input of every KPI.
"""
