"""Reaching a host: the Transport surface, SSH and local transports, host keys, the pool
that runs one callable per host in parallel. Knows nothing of releases or deploys."""
