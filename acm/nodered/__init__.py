"""Talking to running Node-RED: the outer shell over the library.

:mod:`.admin_api` is the Admin API client (rev, retries, credentials, backups),
:mod:`.site` resolves and deploys a whole deployment model's runtimes,
:mod:`.watch` follows deployments over the comms websocket and re-checks them,
and :mod:`.monitor` listens to what the resolvers report over MQTT.
"""
